//! The committed outcomes of an attempt: each runs in the worker's transaction and ends the
//! operation only while this worker still holds its lease.

use sea_orm::{DatabaseTransaction, DbErr};
use serde_json::{Value, json};

use super::worker::Worker;
use super::{Applied, Dependent, WorkerError};
use crate::arm::hooks::Removal;
use crate::arm::id::ResourceId;
use crate::arm::lro;
use crate::arm::rows::{RowContent, row_of};
use crate::error::{ErrorCode, OperationError};
use crate::events;
use crate::lifecycle::{self, Verb};
use crate::store::resources::{self, Settled};
use crate::store::{now_millis, operation, operations, resource};

/// What a finished operation reports: its event, RBAC verb and activity-log status.
pub(super) struct Outcome {
    event: &'static str,
    verb: &'static str,
    status: &'static str,
    code: u16,
}

const WRITE_DONE: Outcome = Outcome {
    event: events::WRITE_SUCCESS,
    verb: "write",
    status: lro::SUCCEEDED,
    code: 200,
};
const DELETE_DONE: Outcome = Outcome {
    event: events::DELETE_SUCCESS,
    verb: "delete",
    status: lro::SUCCEEDED,
    code: 200,
};

/// The error of a canceled operation (ARM requires one on `Canceled`).
pub(super) fn canceled(why: &str) -> Value {
    OperationError::new(
        ErrorCode::OperationCanceled,
        format!("The operation was canceled: {why}."),
    )
    .to_value()
}

/// An operation being settled: the transaction it settles in, the operation, and the resource
/// the outcome is recorded for (the operation's own, or one created or removed with it).
#[derive(Clone, Copy)]
pub(super) struct Settling<'a> {
    pub tx: &'a DatabaseTransaction,
    pub op: &'a operation::Model,
    pub id: &'a ResourceId,
}

impl Worker {
    /// Ends the operation, only if this worker still holds its lease; otherwise
    /// `RecordNotUpdated`, and the caller rolls back.
    pub(super) async fn end(
        &self,
        tx: &DatabaseTransaction,
        op: &operation::Model,
        status: &str,
        error: Option<Value>,
    ) -> Result<(), DbErr> {
        if !operations::end(tx, &op.id, &self.owner, status, error, now_millis()).await? {
            return Err(DbErr::RecordNotUpdated);
        }
        Ok(())
    }

    /// Writes the outcome's event and activity-log row for `at.id`.
    async fn record(&self, at: Settling<'_>, outcome: &Outcome) -> Result<(), DbErr> {
        let Settling { tx, op, id } = at;
        let verb = if outcome.verb == "delete" {
            Verb::Delete
        } else {
            Verb::parse(&op.verb).unwrap_or(Verb::Put)
        };
        lifecycle::record(
            tx,
            id,
            &lifecycle::Outcome {
                event: outcome.event,
                status: outcome.status,
                status_code: outcome.code,
                verb,
                generation: op.target_generation,
                operation_id: Some(&op.id),
                caller: &op.caller,
                correlation_id: &op.correlation_id,
                traceparent: op.traceparent.as_deref(),
            },
        )
        .await
    }

    /// Inserts a dependent resource unless it exists (a repeated attempt finds it).
    async fn insert_dependent(
        &self,
        at: Settling<'_>,
        owner: &resource::Model,
        dependent: &Dependent,
    ) -> Result<(), DbErr> {
        let key = dependent.id.key();
        if resources::exists(at.tx, &key).await? {
            return Ok(());
        }
        let now = now_millis();
        let mut body = json!({
            "properties": dependent.properties,
            "managedBy": owner.id,
            "systemData": owner.body.get("systemData"),
        });
        if let Some(kind) = &dependent.kind {
            body["kind"] = json!(kind);
        }
        if let Some(sku) = &dependent.sku {
            body["sku"] = sku.clone();
        }
        let id = &dependent.id;
        let content = RowContent {
            kind: dependent.kind.clone(),
            location: dependent.location.clone(),
            depends_on_key: None,
            managed_by_key: Some(owner.id_key.clone()),
            body,
            provisioning_state: lro::SUCCEEDED,
            generation: 1,
            observed_generation: 1,
            created_at: now,
            updated_at: now,
        };
        resources::insert(at.tx, &row_of(id, content)).await?;
        self.record(Settling { id, ..at }, &WRITE_DONE).await
    }

    /// Creating/Updating → Succeeded with what the provisioner produced, only if the resource
    /// is still at the target generation.
    pub(super) async fn complete_write(
        &self,
        at: Settling<'_>,
        row: &resource::Model,
        applied: Applied,
    ) -> Result<(), WorkerError> {
        let Settling { tx, op, .. } = at;
        for dependent in &applied.dependents {
            self.insert_dependent(at, row, dependent).await?;
        }
        for assignment in &applied.role_assignments {
            crate::authz::assignments::ensure(tx, "kiln-provisioner", assignment.clone())
                .await
                .map_err(WorkerError::Assignment)?;
        }
        let body = (!applied.properties.is_empty() || applied.identity.is_some()).then(|| {
            let mut body = row.body.clone();
            if let Some(properties) = crate::arm::envelope::properties_mut(&mut body) {
                properties.extend(applied.properties);
            }
            if let Some(identity) = applied.identity {
                body["identity"] = identity;
            }
            body
        });
        let settled = Settled {
            key: &row.id_key,
            generation: op.target_generation,
            state: lro::SUCCEEDED,
            etag: Some(resources::new_etag()),
            body,
        };
        if !resources::settle(tx, settled).await? {
            let error = canceled("a newer write replaced this one");
            return Ok(self.end(tx, op, lro::CANCELED, Some(error)).await?);
        }
        self.end(tx, op, lro::SUCCEEDED, None).await?;
        Ok(self.record(at, &WRITE_DONE).await?)
    }

    /// Drops the resource, everything under it and the resources it manages (whose backends
    /// the provisioners have already removed), settling their operations.
    pub(super) async fn delete_rows(
        &self,
        at: Settling<'_>,
        row: &resource::Model,
        removed: &[resource::Model],
    ) -> Result<(), DbErr> {
        let Settling { tx, op, .. } = at;
        let keys: Vec<String> = removed.iter().map(|r| r.id_key.clone()).collect();
        // Operations on what goes away: a pending delete of it is done, a pending write canceled.
        let canceled = canceled("its resource was deleted");
        operations::settle_removed(tx, &op.id, &row.id_key, &keys, canceled, now_millis()).await?;
        // Rows created meanwhile under the resource (none can be: its Deleting state refuses
        // them) would go too; only the ones listed get their own event.
        let children = resources::delete_tree(tx, &row.id_key, &keys).await?;
        let principals: Vec<String> = std::iter::once(row)
            .chain(removed)
            .filter_map(|r| r.body["identity"]["principalId"].as_str())
            .map(str::to_lowercase)
            .collect();
        let removal = Removal {
            key: &row.id_key,
            subtree: true,
            also_at: &keys,
            principals: &principals,
        };
        self.removal().removed(tx, &removal).await?;
        for child in children {
            if let Some(child_id) = ResourceId::parse(&child, &self.vocabulary) {
                let child = Settling {
                    id: &child_id,
                    ..at
                };
                self.record(child, &DELETE_DONE).await?;
            }
        }
        self.end(tx, op, lro::SUCCEEDED, None).await?;
        self.record(at, &DELETE_DONE).await
    }

    /// The operation fails with an error the SDKs surface; the resource turns Failed.
    pub(super) async fn fail(&self, at: Settling<'_>, error: Value) -> Result<(), DbErr> {
        let Settling { tx, op, .. } = at;
        let settled = Settled {
            key: &op.resource_key,
            generation: op.target_generation,
            state: lro::FAILED,
            etag: None,
            body: None,
        };
        resources::settle(tx, settled).await?;
        self.end(tx, op, lro::FAILED, Some(error)).await?;
        let (event, verb) = if op.verb == "DELETE" {
            (events::DELETE_FAILURE, "delete")
        } else {
            (events::WRITE_FAILURE, "write")
        };
        self.record(
            at,
            &Outcome {
                event,
                verb,
                status: lro::FAILED,
                code: 409,
            },
        )
        .await
    }

    /// The attempt failed but may succeed later: keep the error for the outcome, and keep
    /// polling workers away until the backoff has passed (an ownerless lease).
    pub(super) async fn defer(
        &self,
        op: &operation::Model,
        error: Value,
        retry_at: i64,
    ) -> Result<(), DbErr> {
        operations::defer(&self.db, &op.id, &self.owner, error, retry_at).await
    }
}
