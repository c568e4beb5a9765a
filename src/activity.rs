//! The activity log: one row per write (accepted, succeeded or refused), readable through
//! ARM's own endpoint `GET /subscriptions/{s}/providers/Microsoft.Insights/eventtypes/management/values`.
//! The rows and their queries are in [`crate::store::activity`].

use sea_orm::{ConnectionTrait, DbErr};

use crate::store::activity;

pub use crate::store::activity::ActivityEntry;

/// Records one write in the activity log.
pub async fn record(db: &impl ConnectionTrait, entry: &ActivityEntry<'_>) -> Result<(), DbErr> {
    activity::insert(db, entry).await
}
