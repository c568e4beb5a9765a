//! Role assignments go with the resources they were made at: the engine's and the worker's
//! removal hook. A resource created later under the same name must not inherit them, and an
//! identity that went away holds nothing.

use async_trait::async_trait;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};

use crate::arm::hooks::{Removal, RemovalHook};
use crate::store::{keys, role_assignment};

/// Deletes the assignments at what a transaction removes, in that transaction.
pub struct AssignmentsGoWithScope;

#[async_trait]
impl RemovalHook for AssignmentsGoWithScope {
    async fn removed(&self, tx: &DatabaseTransaction, removal: &Removal<'_>) -> Result<(), DbErr> {
        let column = role_assignment::Column::ScopeKey;
        let mut which = Condition::any()
            .add(column.eq(removal.key.to_owned()))
            .add(column.is_in(removal.also_at.to_vec()))
            .add(role_assignment::Column::PrincipalId.is_in(removal.principals.to_vec()));
        if removal.subtree {
            which = which.add(keys::below(column, removal.key));
        }
        let deleted = role_assignment::Entity::delete_many()
            .filter(which)
            .exec(tx)
            .await?;
        if deleted.rows_affected > 0 {
            crate::authz::policy::bump_version(tx).await?;
        }
        Ok(())
    }
}
