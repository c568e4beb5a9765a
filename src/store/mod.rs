//! Persistence: sea-orm entities and the queries the engine needs, on PostgreSQL or SQLite.

pub mod entities;
pub mod meta;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::config::{DatabaseKind, DatabaseSettings};

pub use entities::*;

/// Opens the pool. SQLite gets a single connection: its writers serialize anyway, and one
/// connection cannot hit `SQLITE_BUSY` on a read-to-write lock upgrade.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(settings.url.clone());
    let max = match settings.kind {
        DatabaseKind::Sqlite => 1,
        DatabaseKind::Postgres => settings.max_connections,
    };
    options
        .max_connections(max)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        // A ping before every checkout doubles the round trips of a read; a dead connection
        // fails its query instead, and the pool replaces it.
        .test_before_acquire(false);
    // Pragmas on every connection the pool opens, not once: connections are replaced over time.
    options.map_sqlx_sqlite_opts(|o| {
        use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
    });
    let db = Database::connect(options).await?;
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
