//! The `activity_log` table and its queries: one row per write, accepted, succeeded or
//! refused.
//!
//! The entity is re-exported here, so `store::activity::Entity` and its queries share one
//! path.

use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

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
