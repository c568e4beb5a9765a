//! The provisioning worker: `run_once` does one pass, `run_until_stopped` loops until shutdown,
//! woken by committed operations or by its poll interval.

use std::sync::Arc;

use futures_util::StreamExt;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;
use tokio::sync::{Notify, watch};

use crate::activity::{self, ActivityEntry};
use crate::arm::id::{PathVocabulary, ResourceId};
use crate::arm::lro;
use crate::config::WorkerSettings;
use crate::events::{self, EventFacts};
use crate::store::{now_millis, operation, resource};

/// What a finished operation reports: its event, RBAC verb and activity-log status.
struct Outcome {
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
fn canceled(why: &str) -> serde_json::Value {
    json!({"status": 409, "code": "OperationCanceled", "message": format!("The operation was canceled: {why}.")})
}

/// How many operations one pass claims at most.
const BATCH: u64 = 64;
/// How many of them it drives at once.
const CONCURRENCY: usize = 8;

#[derive(Clone)]
pub struct Worker {
    db: DatabaseConnection,
    settings: WorkerSettings,
    vocabulary: Arc<PathVocabulary>,
    wake: Arc<Notify>,
    /// Wakes the relay after an outcome (and its events) is committed.
    outbox_wake: Arc<Notify>,
    /// Identifies this worker's leases.
    owner: String,
}

fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

impl Worker {
    pub fn new(
        db: DatabaseConnection,
        settings: WorkerSettings,
        vocabulary: Arc<PathVocabulary>,
        wake: Arc<Notify>,
        outbox_wake: Arc<Notify>,
    ) -> Self {
        Self {
            db,
            settings,
            vocabulary,
            wake,
            outbox_wake,
            owner: format!("worker-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Runs until `shutdown` turns true, finishing the pass in progress.
    pub async fn run_until_stopped(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.run_once().await {
                // Work was there: look again at once rather than after the poll interval, so a
                // burst of writes drains at the speed of the database.
                Ok(finished) if finished > 0 => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "provisioning pass failed; retrying"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One pass: claims every operation that is due and drives it. Returns how many it finished.
    pub async fn run_once(&self) -> Result<usize, DbErr> {
        let now = now_millis();
        let due = operation::Entity::find()
            .filter(operation::Column::Status.eq(lro::IN_PROGRESS))
            .filter(
                Condition::any()
                    .add(operation::Column::LeaseUntil.is_null())
                    .add(operation::Column::LeaseUntil.lt(now)),
            )
            .order_by_asc(operation::Column::StartedAt)
            .limit(BATCH)
            .all(&self.db)
            .await?;
        // Operations of different resources are independent: drive a few at once.
        let outcomes: Vec<Result<bool, DbErr>> = futures_util::stream::iter(due)
            .map(|op| async move { Ok(self.claim(&op, now).await? && self.drive(&op).await?) })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut finished = 0;
        for outcome in outcomes {
            if outcome? {
                finished += 1;
            }
        }
        Ok(finished)
    }

    /// Takes the lease if nobody holds a live one; the WHERE clause is the whole protocol.
    async fn claim(&self, op: &operation::Model, now: i64) -> Result<bool, DbErr> {
        let claimed = operation::Entity::update_many()
            .col_expr(
                operation::Column::LeaseOwner,
                Expr::value(self.owner.clone()),
            )
            .col_expr(
                operation::Column::LeaseUntil,
                Expr::value(now + millis(self.settings.lease)),
            )
            .col_expr(
                operation::Column::Attempts,
                Expr::col(operation::Column::Attempts).add(1),
            )
            .filter(operation::Column::Id.eq(op.id.clone()))
            .filter(operation::Column::Status.eq(lro::IN_PROGRESS))
            .filter(
                Condition::any()
                    .add(operation::Column::LeaseUntil.is_null())
                    .add(operation::Column::LeaseUntil.lt(now)),
            )
            .exec(&self.db)
            .await?;
        Ok(claimed.rows_affected == 1)
    }

    async fn drive(&self, op: &operation::Model) -> Result<bool, DbErr> {
        let tx = self.db.begin().await?;
        // The worker's spans carry the trace context the request came with.
        let span = tracing::info_span!(
            "provision",
            operation = %op.id,
            resource = %op.resource_id,
            traceparent = op.traceparent.as_deref().unwrap_or_default()
        );
        let result = tracing::Instrument::instrument(self.drive_in(&tx, op), span).await;
        match result {
            Ok(()) => {
                tx.commit().await?;
                self.outbox_wake.notify_one();
                Ok(true)
            }
            // Another worker took the lease over (ours expired): its outcome stands, ours rolls back.
            Err(DbErr::RecordNotUpdated) => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn drive_in(&self, tx: &DatabaseTransaction, op: &operation::Model) -> Result<(), DbErr> {
        let Some(id) = ResourceId::parse(&op.resource_id, &self.vocabulary) else {
            tracing::error!(operation = %op.id, resource = %op.resource_id, "operation names an unparsable resource id");
            let error = json!({"status": 409, "code": "InvalidResourceId", "message": "The operation's resource id could not be parsed."});
            return self.end(tx, op, lro::FAILED, Some(error)).await;
        };
        let row = resource::Entity::find_by_id(op.resource_key.clone())
            .one(tx)
            .await?;
        match row {
            // Gone: a delete is done; a write has nothing left to write.
            None if op.verb == "DELETE" => self.end(tx, op, lro::SUCCEEDED, None).await,
            None => {
                self.end(
                    tx,
                    op,
                    lro::CANCELED,
                    Some(canceled("the resource no longer exists")),
                )
                .await
            }
            Some(row) if row.generation != op.target_generation => {
                self.end(
                    tx,
                    op,
                    lro::CANCELED,
                    Some(canceled("a newer write replaced this one")),
                )
                .await
            }
            Some(_) if now_millis() > op.deadline_at => self.fail(tx, op, &id).await,
            Some(row) if op.verb == "DELETE" => self.delete_subtree(tx, op, &id, &row).await,
            Some(row) => self.complete_write(tx, op, &id, &row).await,
        }
    }

    /// Ends the operation, only if this worker still holds its lease; otherwise
    /// `RecordNotUpdated`, and the caller rolls back.
    async fn end(
        &self,
        tx: &DatabaseTransaction,
        op: &operation::Model,
        status: &str,
        error: Option<serde_json::Value>,
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
    /// one of its children swept away with it).
    async fn record(
        &self,
        tx: &DatabaseTransaction,
        op: &operation::Model,
        id: &ResourceId,
        outcome: &Outcome,
    ) -> Result<(), DbErr> {
        let action = format!("{}/{}", id.type_name(), outcome.verb);
        let facts = EventFacts {
            id,
            generation: op.target_generation,
            operation_id: Some(&op.id),
            operation_name: &action,
            caller: &op.caller,
            correlation_id: &op.correlation_id,
            traceparent: op.traceparent.as_deref(),
        };
        events::enqueue(tx, outcome.event, &facts).await?;
        activity::record(
            tx,
            &ActivityEntry {
                subscription_key: &op.subscription_key,
                resource_key: &id.key(),
                resource_id: &id.display(),
                operation_name: &action,
                operation_id: Some(&op.id),
                status: outcome.status,
                status_code: outcome.code,
                caller: &op.caller,
                correlation_id: &op.correlation_id,
                method: &op.verb,
            },
        )
        .await
    }

    /// Creating/Updating → Succeeded, only if the resource is still at the target generation.
    async fn complete_write(
        &self,
        tx: &DatabaseTransaction,
        op: &operation::Model,
        id: &ResourceId,
        row: &resource::Model,
    ) -> Result<(), DbErr> {
        let updated = resource::Entity::update_many()
            .col_expr(
                resource::Column::ProvisioningState,
                Expr::value(lro::SUCCEEDED),
            )
            .col_expr(
                resource::Column::ObservedGeneration,
                Expr::value(op.target_generation),
            )
            .col_expr(
                resource::Column::Etag,
                Expr::value(format!("\"{}\"", uuid::Uuid::new_v4().simple())),
            )
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

    /// Removes the resource and everything under it (a group's resources, a workspace's
    /// children), cancelling their operations.
    async fn delete_subtree(
        &self,
        tx: &DatabaseTransaction,
        op: &operation::Model,
        id: &ResourceId,
        row: &resource::Model,
    ) -> Result<(), DbErr> {
        let below = Condition::all()
            .add(resource::Column::IdKey.gt(format!("{}/", row.id_key)))
            .add(resource::Column::IdKey.lt(format!("{}0", row.id_key)));
        let subtree = Condition::any()
            .add(resource::Column::IdKey.eq(row.id_key.clone()))
            .add(below.clone());
        let children: Vec<String> = resource::Entity::find()
            .select_only()
            .column(resource::Column::Id)
            .filter(below)
            .into_tuple()
            .all(tx)
            .await?;
        // Operations on what goes away: a pending delete of it is done, a pending write canceled.
        let others_below = || {
            Condition::all()
                .add(operation::Column::Status.eq(lro::IN_PROGRESS))
                .add(operation::Column::Id.ne(op.id.clone()))
                .add(
                    Condition::any()
                        .add(operation::Column::ResourceKey.eq(row.id_key.clone()))
                        .add(
                            Condition::all()
                                .add(operation::Column::ResourceKey.gt(format!("{}/", row.id_key)))
                                .add(operation::Column::ResourceKey.lt(format!("{}0", row.id_key))),
                        ),
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
                .filter(others_below())
                .filter(if verb_is_delete { verb } else { verb.not() })
                .exec(tx)
                .await?;
        }
        resource::Entity::delete_many()
            .filter(subtree)
            .exec(tx)
            .await?;
        for child in children {
            if let Some(child_id) = ResourceId::parse(&child, &self.vocabulary) {
                self.record(tx, op, &child_id, &DELETE_DONE).await?;
            }
        }
        self.end(tx, op, lro::SUCCEEDED, None).await?;
        self.record(tx, op, id, &DELETE_DONE).await
    }

    /// The deadline passed: the operation fails with an error the SDKs surface.
    async fn fail(
        &self,
        tx: &DatabaseTransaction,
        op: &operation::Model,
        id: &ResourceId,
    ) -> Result<(), DbErr> {
        let error = json!({
            "status": 409,
            "code": "OperationTimedOut",
            "message": format!("The operation on '{}' did not finish before its deadline.", op.resource_id),
        });
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
}
