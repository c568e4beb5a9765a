//! Role assignments go with the resources they were made at: the engine's and the worker's
//! removal hook. A resource created later under the same name must not inherit them, and an
//! identity that went away holds nothing.

use async_trait::async_trait;
use sea_orm::{DatabaseTransaction, DbErr};

use crate::arm::hooks::{Removal, RemovalHook};
use crate::authz::remove_for_deleted;

/// Deletes the assignments at what a transaction removes, in that transaction.
pub struct AssignmentsGoWithScope;

#[async_trait]
impl RemovalHook for AssignmentsGoWithScope {
    async fn removed(&self, tx: &DatabaseTransaction, removal: &Removal<'_>) -> Result<(), DbErr> {
        remove_for_deleted(tx, removal).await.map(|_| ())
    }
}
