//! The `outbox` table and its queries: an event is appended in the transaction of the write
//! that caused it, and the relay claims unsent rows in commit order and marks what the broker
//! took.
//!
//! The entity is re-exported here, so `store::outbox::Entity` and its queries share one path.

use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
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

/// Up to `limit` unsent events, oldest first, locked for the calling transaction. Rows
/// another relay holds are skipped (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so two relays
/// never publish the same row at once.
pub async fn claim_batch(tx: &impl ConnectionTrait, limit: u64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::SentAt.is_null())
        .order_by_asc(Column::Seq)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(tx)
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
