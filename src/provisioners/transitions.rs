//! The committed outcomes of an attempt: each runs in the worker's transaction and ends the
//! operation only while this worker still holds its lease.

use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QuerySelect,
};
use serde_json::{Value, json};

use super::worker::Worker;
use super::{Applied, Dependent};
use crate::arm::id::ResourceId;
use crate::arm::lro;
use crate::events;
use crate::lifecycle::{self, Verb};
use crate::store::{now_millis, operation, resource, role_assignment};

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
    json!({"status": 409, "code": "OperationCanceled", "message": format!("The operation was canceled: {why}.")})
}

fn etag() -> String {
    format!("\"{}\"", uuid::Uuid::new_v4().simple())
}

/// Keys strictly below `key` in the id tree.
fn below(column: impl ColumnTrait + Copy, key: &str) -> Condition {
    Condition::all()
        .add(column.gt(format!("{key}/")))
        .add(column.lt(format!("{key}0")))
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
        let ended = operation::Entity::update_many()
            .col_expr(operation::Column::Status, Expr::value(status))
            .col_expr(operation::Column::EndedAt, Expr::value(now_millis()))
            .col_expr(operation::Column::Error, Expr::value(error))
            .col_expr(
                operation::Column::LeaseUntil,
                Expr::value(Option::<i64>::None),
            )
            .filter(operation::Column::Id.eq(op.id.clone()))
            .filter(operation::Column::Status.eq(lro::IN_PROGRESS))
            .filter(operation::Column::LeaseOwner.eq(self.owner.clone()))
            .exec(tx)
            .await?;
        if ended.rows_affected != 1 {
            return Err(DbErr::RecordNotUpdated);
        }
        Ok(())
    }

    /// Writes the outcome's event and activity-log row for `id` (the operation's resource, or
    /// one of the resources created or removed with it).
    async fn record(
        &self,
        tx: &DatabaseTransaction,
        op: &operation::Model,
        id: &ResourceId,
        outcome: &Outcome,
    ) -> Result<(), DbErr> {
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
        tx: &DatabaseTransaction,
        op: &operation::Model,
        owner: &resource::Model,
        dependent: &Dependent,
    ) -> Result<(), DbErr> {
        let key = dependent.id.key();
        if resource::Entity::find_by_id(key.clone())
            .one(tx)
            .await?
            .is_some()
        {
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
        resource::Entity::insert(resource::ActiveModel {
            id_key: Set(key),
            id: Set(id.display()),
            subscription_key: Set(id.subscription_key()),
            group_key: Set(id.group_id().map(|g| g.key()).unwrap_or_default()),
            parent_key: Set(id.parent().map(|p| p.key()).unwrap_or_default()),
            type_key: Set(id.type_key()),
            name: Set(id.name().to_owned()),
            kind_key: Set(dependent.kind.as_deref().map(str::to_lowercase)),
            location: Set(dependent.location.clone()),
            top_level: Set(id.is_top_level()),
            depends_on_key: Set(None),
            managed_by_key: Set(Some(owner.id_key.clone())),
            body: Set(body),
            etag: Set(etag()),
            provisioning_state: Set(lro::SUCCEEDED.into()),
            generation: Set(1),
            observed_generation: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(tx)
        .await?;
        self.record(tx, op, id, &WRITE_DONE).await
    }

    /// Creating/Updating → Succeeded with what the provisioner produced, only if the resource
    /// is still at the target generation.
    pub(super) async fn complete_write(
        &self,
        tx: &DatabaseTransaction,
        op: &operation::Model,
        id: &ResourceId,
        row: &resource::Model,
        applied: Applied,
    ) -> Result<(), DbErr> {
        for dependent in &applied.dependents {
            self.insert_dependent(tx, op, row, dependent).await?;
        }
        for assignment in &applied.role_assignments {
            crate::authz::assignments::ensure(tx, "kiln-provisioner", assignment.clone()).await?;
        }
        let mut update = resource::Entity::update_many()
            .col_expr(
                resource::Column::ProvisioningState,
                Expr::value(lro::SUCCEEDED),
            )
            .col_expr(
                resource::Column::ObservedGeneration,
                Expr::value(op.target_generation),
            )
            .col_expr(resource::Column::Etag, Expr::value(etag()));
        if !applied.properties.is_empty() || applied.identity.is_some() {
            let mut body = row.body.clone();
            if let Some(properties) = body.get_mut("properties").and_then(Value::as_object_mut) {
                properties.extend(applied.properties);
            }
            if let Some(identity) = applied.identity {
                body["identity"] = identity;
            }
            update = update.col_expr(resource::Column::Body, Expr::value(body));
        }
        let updated = update
            .filter(resource::Column::IdKey.eq(row.id_key.clone()))
            .filter(resource::Column::Generation.eq(op.target_generation))
            .exec(tx)
            .await?;
        if updated.rows_affected != 1 {
            return self
                .end(
                    tx,
                    op,
                    lro::CANCELED,
                    Some(canceled("a newer write replaced this one")),
                )
                .await;
        }
        self.end(tx, op, lro::SUCCEEDED, None).await?;
        self.record(tx, op, id, &WRITE_DONE).await
    }

    /// Drops the resource, everything under it and the resources it manages (whose backends
    /// the provisioners have already removed), settling their operations.
    pub(super) async fn delete_rows(
        &self,
        tx: &DatabaseTransaction,
        op: &operation::Model,
        id: &ResourceId,
        row: &resource::Model,
        removed: &[resource::Model],
    ) -> Result<(), DbErr> {
        let keys: Vec<String> = removed.iter().map(|r| r.id_key.clone()).collect();
        let gone = || {
            Condition::any()
                .add(resource::Column::IdKey.eq(row.id_key.clone()))
                .add(below(resource::Column::IdKey, &row.id_key))
                .add(resource::Column::IdKey.is_in(keys.clone()))
        };
        // Operations on what goes away: a pending delete of it is done, a pending write canceled.
        let others = || {
            Condition::all()
                .add(operation::Column::Status.eq(lro::IN_PROGRESS))
                .add(operation::Column::Id.ne(op.id.clone()))
                .add(
                    Condition::any()
                        .add(operation::Column::ResourceKey.eq(row.id_key.clone()))
                        .add(below(operation::Column::ResourceKey, &row.id_key))
                        .add(operation::Column::ResourceKey.is_in(keys.clone())),
                )
        };
        for (verb_is_delete, status, error) in [
            (true, lro::SUCCEEDED, None),
            (
                false,
                lro::CANCELED,
                Some(canceled("its resource was deleted")),
            ),
        ] {
            let verb = operation::Column::Verb.eq("DELETE");
            operation::Entity::update_many()
                .col_expr(operation::Column::Status, Expr::value(status))
                .col_expr(operation::Column::EndedAt, Expr::value(now_millis()))
                .col_expr(operation::Column::Error, Expr::value(error))
                .filter(others())
                .filter(if verb_is_delete { verb } else { verb.not() })
                .exec(tx)
                .await?;
        }
        // Rows created meanwhile under the resource (none can be: its Deleting state refuses
        // them) would go too; only the ones listed get their own event.
        let children: Vec<String> = resource::Entity::find()
            .select_only()
            .column(resource::Column::Id)
            .filter(gone())
            .filter(resource::Column::IdKey.ne(row.id_key.clone()))
            .into_tuple()
            .all(tx)
            .await?;
        resource::Entity::delete_many()
            .filter(gone())
            .exec(tx)
            .await?;
        // Role assignments at what went away go with it (a resource created later under the
        // same name must not inherit them), and so do those of the identities that went away.
        let identities: Vec<String> = std::iter::once(row)
            .chain(removed)
            .filter_map(|r| r.body["identity"]["principalId"].as_str())
            .map(str::to_lowercase)
            .collect();
        let assignments = role_assignment::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(role_assignment::Column::ScopeKey.eq(row.id_key.clone()))
                    .add(below(role_assignment::Column::ScopeKey, &row.id_key))
                    .add(role_assignment::Column::ScopeKey.is_in(keys.clone()))
                    .add(role_assignment::Column::PrincipalId.is_in(identities)),
            )
            .exec(tx)
            .await?;
        if assignments.rows_affected > 0 {
            crate::authz::policy::bump_version(tx).await?;
        }
        for child in children {
            if let Some(child_id) = ResourceId::parse(&child, &self.vocabulary) {
                self.record(tx, op, &child_id, &DELETE_DONE).await?;
            }
        }
        self.end(tx, op, lro::SUCCEEDED, None).await?;
        self.record(tx, op, id, &DELETE_DONE).await
    }

    /// The operation fails with an error the SDKs surface; the resource turns Failed.
    pub(super) async fn fail(
        &self,
        tx: &DatabaseTransaction,
        op: &operation::Model,
        id: &ResourceId,
        error: Value,
    ) -> Result<(), DbErr> {
        resource::Entity::update_many()
            .col_expr(
                resource::Column::ProvisioningState,
                Expr::value(lro::FAILED),
            )
            .filter(resource::Column::IdKey.eq(op.resource_key.clone()))
            .filter(resource::Column::Generation.eq(op.target_generation))
            .exec(tx)
            .await?;
        self.end(tx, op, lro::FAILED, Some(error)).await?;
        let (event, verb) = if op.verb == "DELETE" {
            (events::DELETE_FAILURE, "delete")
        } else {
            (events::WRITE_FAILURE, "write")
        };
        self.record(
            tx,
            op,
            id,
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
        operation::Entity::update_many()
            .col_expr(operation::Column::Error, Expr::value(error))
            .col_expr(operation::Column::LeaseUntil, Expr::value(retry_at))
            .col_expr(
                operation::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .filter(operation::Column::Id.eq(op.id.clone()))
            .filter(operation::Column::Status.eq(lro::IN_PROGRESS))
            .filter(operation::Column::LeaseOwner.eq(self.owner.clone()))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
