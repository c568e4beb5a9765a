//! The delete path: at once (a type with nothing provisioned) or as an operation.

use sea_orm::{DatabaseTransaction, TransactionTrait};

use super::preconditions::{check_preconditions, in_flight};
use super::{ACCEPTED, CallContext, DeleteResult, Engine, Preconditions, group_not_found};
use crate::arm::hooks::Removal;
use crate::arm::id::ResourceId;
use crate::arm::lro::{self, OperationRef};
use crate::arm::registry::ResourceKind;
use crate::error::ArmError;
use crate::events;
use crate::lifecycle::Verb;
use crate::store::resources::{self, RowLock};
use crate::store::{now_millis, resource};

impl Engine {
    pub async fn delete(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        pre: &Preconditions,
    ) -> Result<DeleteResult, ArmError> {
        let kind = self.kind_of(id)?.clone();
        self.authorize(cx, id, &kind.descriptor().action("delete"))
            .await?;
        self.refuse_write_through(kind.as_ref(), cx, id).await?;
        let result = self.delete_authorized(cx, id, pre, kind.as_ref()).await;
        self.log_refusal(cx, id, "delete", "DELETE", &result).await;
        result
    }

    async fn delete_authorized(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        pre: &Preconditions,
        kind: &dyn ResourceKind,
    ) -> Result<DeleteResult, ArmError> {
        let key = id.key();
        let tx = self.db.begin().await?;
        // FOR UPDATE: a concurrent write below this resource (which holds FOR SHARE on it) either
        // commits first and is seen by `check_delete`, or waits and then sees `Deleting`.
        let row = resources::lock(&tx, &key, RowLock::Update)
            .await?
            .filter(|r| r.type_key == id.type_key());
        let Some(row) = row else {
            // An absent resource in an existing group is a successful no-op (204).
            if let Some(group) = id.group_id().filter(|_| id.provider.is_some())
                && !resources::exists(&tx, &group.key()).await?
            {
                return Err(group_not_found(group.name()));
            }
            return Ok(DeleteResult::Absent);
        };
        check_preconditions(pre, Some(&row), id)?;
        if let Some(running) = in_flight(&tx, Some(&row)).await? {
            if running.verb == "DELETE" {
                return Ok(DeleteResult::Accepted(OperationRef::from_row(
                    &running,
                    &id.subscription,
                )));
            }
            return Err(ArmError::another_operation(&id.display()));
        }
        kind.check_delete(&tx, &row).await?;
        if kind
            .descriptor()
            .verbs
            .delete
            .as_ref()
            .is_some_and(|d| d.default.at_once)
        {
            return self.delete_now(tx, cx, id, &row).await;
        }
        let generation = row.generation + 1;
        let operation = self
            .start_operation(
                &tx,
                cx,
                id,
                "DELETE",
                generation,
                "",
                row.location.as_deref(),
            )
            .await?;
        let marked =
            resources::mark_deleting(&tx, &row, generation, &resources::new_etag(), now_millis())
                .await?;
        if !marked {
            return Err(ArmError::another_operation(&id.display()));
        }
        let outcome = cx.outcome(ACCEPTED, Verb::Delete, generation, Some(&operation.id));
        self.commit(tx, id, &outcome).await?;
        self.handoff.worker.notify_one();
        Ok(DeleteResult::Accepted(operation))
    }

    /// Deletes a resource that has nothing provisioned behind it at once (200). What the type
    /// keeps beside the row goes with it (foreign keys), and the removal hook runs in the same
    /// transaction (role assignments at it go: a resource created later under the same name
    /// must not inherit them).
    async fn delete_now(
        &self,
        tx: DatabaseTransaction,
        cx: &CallContext,
        id: &ResourceId,
        row: &resource::Model,
    ) -> Result<DeleteResult, ArmError> {
        resources::delete(&tx, &row.id_key).await?;
        let principals: Vec<String> = row.body["identity"]["principalId"]
            .as_str()
            .map(str::to_lowercase)
            .into_iter()
            .collect();
        let removal = Removal {
            key: &row.id_key,
            subtree: false,
            also_at: &[],
            principals: &principals,
        };
        self.removal.removed(&tx, &removal).await?;
        let done = (events::DELETE_SUCCESS, lro::SUCCEEDED, 200);
        let outcome = cx.outcome(done, Verb::Delete, row.generation + 1, None);
        self.commit(tx, id, &outcome).await?;
        Ok(DeleteResult::Deleted)
    }
}
