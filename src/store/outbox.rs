//! The `outbox` table and its queries: an event is appended in the transaction of the write
//! that caused it, and the relay takes unsent rows in commit order and marks what the broker
//! took.
//!
//! The entity is re-exported here, so `store::outbox::Entity` and its queries share one path.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

pub use super::entities::outbox::*;
use super::now_millis;

/// An event to append: the relay publishes `payload` under `routing_key`.
pub struct NewEvent {
    pub event_id: String,
    pub resource_key: String,
    pub event_type: String,
    pub routing_key: String,
    pub payload: serde_json::Value,
}

/// Appends an unsent event; call it in the transaction of the write it reports.
pub async fn append(db: &impl ConnectionTrait, event: NewEvent) -> Result<(), DbErr> {
    Entity::insert(ActiveModel {
        event_id: Set(event.event_id),
        resource_key: Set(event.resource_key),
        event_type: Set(event.event_type),
        routing_key: Set(event.routing_key),
        payload: Set(event.payload),
        created_at: Set(now_millis()),
        sent_at: Set(None),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Any lock id will do as long as every Kiln relay uses the same one.
const RELAY_LOCK: i64 = 0x006b_696c_6e72_656c; // "kilnrel"

/// Makes the calling transaction the one relay publishing, until it ends; `false` when another
/// relay holds the turn. Two relays taking disjoint batches (`SKIP LOCKED`) would each publish
/// in order but race each other, and a later event could reach the broker before an earlier
/// one; one publisher at a time keeps the commit order. On SQLite there is no lock to take:
/// the embedded default runs one relay.
pub async fn take_relay_turn(tx: &impl ConnectionTrait) -> Result<bool, DbErr> {
    if tx.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let sql = format!("SELECT pg_try_advisory_xact_lock({RELAY_LOCK}) AS taken");
    let row = tx
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("pg_try_advisory_xact_lock".into()))?;
    row.try_get("", "taken")
}

/// Up to `limit` unsent events, oldest first.
pub async fn unsent_batch(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::SentAt.is_null())
        .order_by_asc(Column::Seq)
        .limit(limit)
        .all(db)
        .await
}

/// Marks the events `seqs` as published now.
pub async fn mark_published(db: &impl ConnectionTrait, seqs: &[i64]) -> Result<(), DbErr> {
    if seqs.is_empty() {
        return Ok(());
    }
    Entity::update_many()
        .col_expr(Column::SentAt, Expr::value(now_millis()))
        .filter(Column::Seq.is_in(seqs.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}
