//! Persistence on PostgreSQL or SQLite: the sea-orm entities and, per table, the one module
//! that queries it (`resources`, `operations`, `outbox`, `activity`, `assignments`,
//! `definitions`, `policy_version`, `secrets`, `signing_keys`, `service_principals`,
//! `subscriptions`, `meta`, `reserved_names`, `deleted_accounts`, `quotas`). Nothing outside the store writes a query; the store imports
//! nothing above it. [`keys`] is the id tree as key ranges.

pub mod activity;
pub mod assignments;
pub mod authz_reads;
pub mod definitions;
pub mod deleted_accounts;
pub mod entities;
pub mod identity;
pub mod keys;
pub mod meta;
pub mod operations;
pub mod outbox;
pub mod policy_version;
pub mod private_files;
pub mod quotas;
pub mod reserved_names;
pub mod resources;
pub mod secrets;
pub mod service_principals;
pub mod signing_keys;
pub mod subscriptions;
pub mod time;
pub mod transient;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait, UpdateMany,
};

use crate::config::{DatabaseKind, DatabaseSettings};

pub use entities::*;
pub use time::millis;

/// How long a pooled connection may sit unused before it is pinged at checkout.
const IDLE_PING_AFTER: Duration = Duration::from_secs(1);

/// Opens the pool. SQLite gets a single connection: its writers serialize anyway, and one
/// connection cannot hit `SQLITE_BUSY` on a read-to-write lock upgrade.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    if matches!(settings.kind, DatabaseKind::Sqlite)
        && let Some(path) = private_files::sqlite_path(&settings.url)
    {
        private_files::private_sqlite(&path)
            .map_err(|err| DbErr::Custom(format!("{}: {err}", path.display())))?;
    }
    let mut options = ConnectOptions::new(settings.url.clone());
    let max = match settings.kind {
        DatabaseKind::Sqlite => 1,
        DatabaseKind::Postgres => settings.max_connections,
    };
    options
        .max_connections(max)
        .min_connections(1)
        .connect_timeout(settings.wait)
        .acquire_timeout(settings.wait)
        .sqlx_logging(false)
        // A ping before every checkout doubles the round trips of a read. A connection idle
        // for a second is pinged (one the server dropped while it sat in the pool, as after a
        // database restart, is replaced before a request gets it); busy ones are not.
        .test_before_acquire_if_idle_for(IDLE_PING_AFTER);
    // Pragmas on every connection the pool opens, not once: connections are replaced over time.
    options.map_sqlx_sqlite_opts(|o| {
        use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
    });
    // A transaction left open by a process that stopped (paused, hung, partitioned) holds its
    // row locks until the server ends it: without a bound, every other writer of those rows
    // waits for ever. Kiln never leaves one idle for long (the relay's, across a publish, is
    // bounded by its broker timeout).
    options.map_sqlx_postgres_opts(|o| {
        o.options([(
            "idle_in_transaction_session_timeout",
            format!("{}ms", STALLED_TRANSACTION.as_millis()),
        )])
    });
    let db = Database::connect(options).await?;
    Ok(db)
}

/// How long PostgreSQL lets a transaction sit idle before it ends it and its locks.
pub const STALLED_TRANSACTION: Duration = Duration::from_secs(20);

/// Any lock id will do as long as every Kiln uses the same one.
const MIGRATION_LOCK: i64 = 0x6b696c6e; // "kiln"

/// Runs pending migrations. On PostgreSQL they run in one transaction holding an advisory lock,
/// so replicas that start together take turns instead of racing on the same DDL
/// (sea-orm-migration takes no lock of its own).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    use sea_orm::TransactionTrait;
    let tx = db.begin().await?;
    tx.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await?;
    Migrator::up(&tx, None).await?;
    tx.commit().await
}

/// One round trip to the database (readiness).
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// Runs a guarded write: an update filtered on a row's key and on what the writer read there.
/// `true` when it changed the row, `false` when a concurrent write changed it first.
pub async fn updated_one<E: EntityTrait>(
    db: &impl ConnectionTrait,
    update: UpdateMany<E>,
) -> Result<bool, DbErr> {
    Ok(update.exec(db).await?.rows_affected == 1)
}

pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
