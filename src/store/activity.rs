//! The `activity_log` table and its queries: one row per write, accepted, succeeded or
//! refused.
//!
//! The entity is re-exported here, so `store::activity::Entity` and its queries share one
//! path.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

pub use super::entities::activity::*;
use super::now_millis;

/// What one activity-log row says; the event id and the time are added on insert.
pub struct ActivityEntry<'a> {
    pub subscription_key: &'a str,
    pub resource_key: &'a str,
    pub resource_id: &'a str,
    pub operation_name: &'a str,
    pub operation_id: Option<&'a str>,
    /// Accepted, Succeeded or Failed.
    pub status: &'a str,
    pub status_code: u16,
    pub caller: &'a str,
    pub correlation_id: &'a str,
    pub method: &'a str,
}

/// Appends `entry`, stamped now under a fresh event id.
pub async fn insert(db: &impl ConnectionTrait, entry: &ActivityEntry<'_>) -> Result<(), DbErr> {
    Entity::insert(ActiveModel {
        event_id: Set(uuid::Uuid::new_v4().to_string()),
        subscription_key: Set(entry.subscription_key.into()),
        resource_key: Set(entry.resource_key.into()),
        resource_id: Set(entry.resource_id.into()),
        operation_name: Set(entry.operation_name.into()),
        operation_id: Set(entry.operation_id.map(str::to_owned)),
        status: Set(entry.status.into()),
        status_code: Set(i32::from(entry.status_code)),
        caller: Set(entry.caller.into()),
        correlation_id: Set(entry.correlation_id.into()),
        method: Set(entry.method.into()),
        at: Set(now_millis()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Which rows of a subscription's log to read, oldest first.
#[derive(Debug, Default, Clone)]
pub struct LogQuery {
    pub subscription_key: String,
    pub resource_key: Option<String>,
    pub correlation_id: Option<String>,
    /// Milliseconds, inclusive.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Rows after this sequence number (keyset paging).
    pub after: Option<i64>,
    pub limit: u64,
}

pub async fn list(db: &impl ConnectionTrait, query: LogQuery) -> Result<Vec<Model>, DbErr> {
    let mut select = Entity::find().filter(Column::SubscriptionKey.eq(query.subscription_key));
    if let Some(key) = query.resource_key {
        select = select.filter(Column::ResourceKey.eq(key));
    }
    if let Some(correlation) = query.correlation_id {
        select = select.filter(Column::CorrelationId.eq(correlation));
    }
    if let Some(from) = query.from {
        select = select.filter(Column::At.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(Column::At.lte(to));
    }
    if let Some(after) = query.after {
        select = select.filter(Column::Seq.gt(after));
    }
    select
        .order_by_asc(Column::Seq)
        .limit(query.limit)
        .all(db)
        .await
}
