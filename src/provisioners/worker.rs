//! The provisioning worker: `run_once` does one pass over the operations that are due,
//! `run_until_stopped` loops until shutdown, woken by committed operations or its poll
//! interval; `handle` drives the one operation a queue message names.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use serde_json::Value;
use tokio::sync::{Notify, watch};

use super::transitions::{Settling, canceled};
use super::{Applied, Backends, ProvisionContext, ProvisionError, Provisioner, WorkerError};
use crate::arm::id::{PathVocabulary, ResourceId};
use crate::arm::lro;
use crate::config::WorkerSettings;
use crate::error::{ErrorCode, OperationError};
use crate::store::operations::{self, Lease};
use crate::store::{millis, now_millis, operation, resource, resources};

/// How many operations one pass claims at most.
const BATCH: u64 = 64;
/// How many of them it drives at once.
const CONCURRENCY: usize = 8;

/// What became of one operation this worker looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drive {
    /// Its outcome is committed.
    Finished,
    /// The attempt failed and a retry is scheduled (the error is kept on the operation).
    Deferred,
    /// The provisioner panicked: the attempt is deferred like a failure, and a queue consumer
    /// lets the broker redeliver, so a request that always panics is dead-lettered.
    Panicked(String),
    /// Not for this worker now: settled, leased by another worker, or waiting for its retry.
    Skipped,
}

#[derive(Clone)]
pub struct Worker {
    pub(super) db: DatabaseConnection,
    settings: WorkerSettings,
    pub(super) vocabulary: Arc<PathVocabulary>,
    backends: Backends,
    pub(super) wake: Arc<Notify>,
    /// Wakes the relay after an outcome (and its events) is committed.
    pub(super) outbox_wake: Arc<Notify>,
    /// Identifies this worker's leases.
    pub(super) owner: String,
}

/// 200 ms, doubling per attempt, at most 30 s.
fn backoff(attempt: i32) -> Duration {
    let exponent = u32::try_from(attempt.clamp(1, 16) - 1).unwrap_or(0);
    (Duration::from_millis(200) * 2u32.pow(exponent)).min(Duration::from_secs(30))
}

/// Held by a live worker (a retry waiting for its time holds no owner).
fn held(op: &operation::Model, now: i64) -> bool {
    op.lease_owner.is_some() && op.lease_until.is_some_and(|until| until >= now)
}

/// Runs a provisioner call, turning a panic into an error instead of unwinding the worker.
async fn guarded<T>(
    call: impl std::future::Future<Output = Result<T, ProvisionError>>,
) -> Result<T, Attempt> {
    match std::panic::AssertUnwindSafe(call).catch_unwind().await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(Attempt::Failed(err)),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(Attempt::Panicked(message))
        }
    }
}

enum Attempt {
    Failed(ProvisionError),
    Panicked(String),
}

impl Worker {
    pub fn new(
        db: DatabaseConnection,
        settings: WorkerSettings,
        vocabulary: Arc<PathVocabulary>,
        backends: Backends,
        wake: Arc<Notify>,
        outbox_wake: Arc<Notify>,
    ) -> Self {
        Self {
            db,
            settings,
            vocabulary,
            backends,
            wake,
            outbox_wake,
            owner: format!("worker-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    pub(super) fn backends(&self) -> &Backends {
        &self.backends
    }

    pub fn settings(&self) -> &WorkerSettings {
        &self.settings
    }

    /// Identifies this worker's leases in the operations table.
    pub fn owner(&self) -> &str {
        &self.owner
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
    pub async fn run_once(&self) -> Result<usize, WorkerError> {
        let now = now_millis();
        let due = operations::due(&self.db, now, BATCH).await?;
        // Operations of different resources are independent: drive a few at once.
        let outcomes: Vec<Result<Drive, WorkerError>> = futures_util::stream::iter(due)
            .map(|op| self.claim_and_drive(op, now, false))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut finished = 0;
        for outcome in outcomes {
            if outcome? == Drive::Finished {
                finished += 1;
            }
        }
        Ok(finished)
    }

    /// Drives the operation a provisioning request names, unless a live worker holds it. A
    /// request is a reason to try now: a retry waiting for its backoff is taken at once (so a
    /// request whose provisioner always panics runs into the broker's delivery limit).
    pub async fn handle(&self, operation_id: &str) -> Result<Drive, WorkerError> {
        let Some(op) = operations::find(&self.db, operation_id).await? else {
            return Ok(Drive::Skipped);
        };
        let now = now_millis();
        if op.status != lro::IN_PROGRESS || held(&op, now) {
            return Ok(Drive::Skipped);
        }
        self.claim_and_drive(op, now, true).await
    }

    /// Fails the operation of a dead-lettered provisioning request, whoever holds it: the
    /// broker gave up on the request, and the resource must not wait for it forever. The
    /// operation is the one the request names, or else the resource's running one.
    pub async fn fail_dead_lettered(
        &self,
        operation_id: Option<&str>,
        resource_id: Option<&str>,
        why: &str,
    ) -> Result<bool, WorkerError> {
        let by_id = match operation_id {
            Some(op) => operations::find(&self.db, op).await?,
            None => None,
        };
        let op = match (
            by_id,
            resource_id.and_then(|r| ResourceId::parse(r, &self.vocabulary)),
        ) {
            (Some(op), _) => Some(op),
            (None, Some(resource)) => operations::running_for(&self.db, &resource.key()).await?,
            (None, None) => None,
        };
        let Some(op) = op.filter(|op| op.status == lro::IN_PROGRESS) else {
            return Ok(false);
        };
        let Some(id) = ResourceId::parse(&op.resource_id, &self.vocabulary) else {
            return Ok(false);
        };
        let lease = self.lease(now_millis());
        if !operations::take_over(&self.db, &op.id, lease).await? {
            return Ok(false);
        }
        let last = op
            .error
            .as_ref()
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map(|m| format!(" Last error: {m}"))
            .unwrap_or_default();
        let error = OperationError::new(
            ErrorCode::ProvisioningRequestDeadLettered,
            format!(
                "The provisioning request for '{}' could not be processed: {why}.{last}",
                op.resource_id
            ),
        )
        .to_value();
        match self
            .settle_on(&op, &id, async |at| self.fail(at, error).await)
            .await
        {
            Ok(_) => Ok(true),
            Err(WorkerError::Db(DbErr::RecordNotUpdated)) => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn claim_and_drive(
        &self,
        op: operation::Model,
        now: i64,
        waiting_retry_too: bool,
    ) -> Result<Drive, WorkerError> {
        if !self.claim(&op, now, waiting_retry_too).await? {
            return Ok(Drive::Skipped);
        }
        // The worker's spans carry the trace context the request came with.
        let span = tracing::info_span!(
            "provision",
            operation = %op.id,
            resource = %op.resource_id,
            traceparent = op.traceparent.as_deref().unwrap_or_default()
        );
        let drive = tracing::Instrument::instrument(self.drive(&op), span).await;
        match drive {
            // Another worker took the lease over (ours expired): its outcome stands, ours rolled back.
            Err(WorkerError::Db(DbErr::RecordNotUpdated)) => Ok(Drive::Skipped),
            other => other,
        }
    }

    /// Takes the lease if nobody holds a live one; the WHERE clause is the whole protocol.
    async fn claim(
        &self,
        op: &operation::Model,
        now: i64,
        waiting_retry_too: bool,
    ) -> Result<bool, DbErr> {
        operations::claim(&self.db, &op.id, self.lease(now), now, waiting_retry_too).await
    }

    /// This worker's lease from `now`.
    fn lease(&self, now: i64) -> Lease<'_> {
        Lease {
            owner: &self.owner,
            until: now + millis(self.settings.lease),
        }
    }

    pub(super) fn removal(&self) -> &dyn crate::arm::hooks::RemovalHook {
        self.backends.removal.as_ref()
    }

    pub(super) fn context(&self) -> ProvisionContext<'_> {
        ProvisionContext {
            db: &self.db,
            storage: &self.backends.storage,
            vocabulary: &self.vocabulary,
            keys: &self.backends.keys,
        }
    }

    fn provisioner(&self, row: &resource::Model) -> Option<&Arc<dyn Provisioner>> {
        self.backends.provisioners.get(&row.type_key)
    }

    /// Settles the operation in one transaction; the relay is woken for its events.
    async fn settle<E: Into<WorkerError>>(
        &self,
        run: impl AsyncFnOnce(&sea_orm::DatabaseTransaction) -> Result<(), E>,
    ) -> Result<Drive, WorkerError> {
        let tx = self.db.begin().await?;
        run(&tx).await.map_err(Into::into)?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        Ok(Drive::Finished)
    }

    /// `settle`, recording the outcome for the operation's resource `id`.
    async fn settle_on<E: Into<WorkerError>>(
        &self,
        op: &operation::Model,
        id: &ResourceId,
        run: impl AsyncFnOnce(Settling<'_>) -> Result<(), E>,
    ) -> Result<Drive, WorkerError> {
        self.settle(async |tx| run(Settling { tx, op, id }).await)
            .await
    }

    async fn drive(&self, op: &operation::Model) -> Result<Drive, WorkerError> {
        let Some(id) = ResourceId::parse(&op.resource_id, &self.vocabulary) else {
            tracing::error!(operation = %op.id, resource = %op.resource_id, "operation names an unparsable resource id");
            let error = OperationError::new(
                ErrorCode::InvalidResourceId,
                "The operation's resource id could not be parsed.",
            )
            .to_value();
            return self
                .settle(async |tx| self.end(tx, op, lro::FAILED, Some(error)).await)
                .await;
        };
        // Read without a lock: the provisioner works outside any transaction, and the commit
        // re-checks the generation.
        let row = resources::find(&self.db, &op.resource_key).await?;
        let row = match row {
            // Gone: a delete is done; a write has nothing left to write.
            None if op.verb == "DELETE" => {
                return self
                    .settle(async |tx| self.end(tx, op, lro::SUCCEEDED, None).await)
                    .await;
            }
            None => {
                let error = canceled("the resource no longer exists");
                return self
                    .settle(async |tx| self.end(tx, op, lro::CANCELED, Some(error)).await)
                    .await;
            }
            Some(row) if row.generation != op.target_generation => {
                let error = canceled("a newer write replaced this one");
                return self
                    .settle(async |tx| self.end(tx, op, lro::CANCELED, Some(error)).await)
                    .await;
            }
            Some(row) => row,
        };
        if now_millis() > op.deadline_at {
            let error = timed_out(op);
            return self
                .settle_on(op, &id, async |at| self.fail(at, error).await)
                .await;
        }
        if op.verb == "DELETE" {
            return self.drive_delete(op, &id, &row).await;
        }
        let applied = match self.provisioner(&row) {
            Some(provisioner) => guarded(provisioner.apply(&self.context(), &row)).await,
            None => Ok(Applied::default()),
        };
        match applied {
            Ok(applied) => {
                self.settle_on(op, &id, async |at| {
                    self.complete_write(at, &row, applied).await
                })
                .await
            }
            Err(attempt) => self.attempt_failed(op, &id, attempt).await,
        }
    }

    /// Removes the backends of the resource, of everything under it and of what it manages
    /// (projects before hubs, owners before what they manage), then drops the rows.
    async fn drive_delete(
        &self,
        op: &operation::Model,
        id: &ResourceId,
        row: &resource::Model,
    ) -> Result<Drive, WorkerError> {
        let removed = self.removal_set(row).await?;
        for target in removed.iter().chain(std::iter::once(row)) {
            let Some(provisioner) = self.provisioner(target) else {
                continue;
            };
            if let Err(attempt) = guarded(provisioner.remove(&self.context(), target)).await {
                return self.attempt_failed(op, id, attempt).await;
            }
        }
        self.settle_on(op, id, async |at| self.delete_rows(at, row, &removed).await)
            .await
    }

    /// What goes with `row`, in removal order: its descendants and every resource managed by
    /// it or by them.
    async fn removal_set(&self, row: &resource::Model) -> Result<Vec<resource::Model>, DbErr> {
        let mut rows = resources::below(&self.db, &row.id_key).await?;
        let mut owners: Vec<String> = rows.iter().map(|r| r.id_key.clone()).collect();
        owners.push(row.id_key.clone());
        let managed = resources::managed_by(&self.db, owners).await?;
        for extra in managed {
            if !rows.iter().any(|r| r.id_key == extra.id_key) {
                rows.push(extra);
            }
        }
        // Dependents (projects) first, managed resources last, deeper before shallower.
        rows.sort_by_key(|r| {
            let rank = if r.depends_on_key.is_some() {
                0
            } else if r.managed_by_key.is_some() {
                2
            } else {
                1
            };
            (rank, std::cmp::Reverse(r.id_key.len()))
        });
        Ok(rows)
    }

    /// A failed attempt: retried after a backoff while the deadline allows, failed otherwise.
    async fn attempt_failed(
        &self,
        op: &operation::Model,
        id: &ResourceId,
        attempt: Attempt,
    ) -> Result<Drive, WorkerError> {
        let (error, drive) = match attempt {
            Attempt::Failed(err @ ProvisionError::Fail { .. }) => {
                let error = err.to_arm();
                return self
                    .settle_on(op, id, async |at| self.fail(at, error).await)
                    .await;
            }
            Attempt::Failed(err) => (err.to_arm(), Drive::Deferred),
            Attempt::Panicked(message) => {
                tracing::error!(operation = %op.id, panic = %message, "provisioner panicked");
                let error = OperationError::new(
                    ErrorCode::ProvisionerFailed,
                    format!("The provisioner failed unexpectedly: {message}"),
                )
                .to_value();
                (error, Drive::Panicked(message))
            }
        };
        let retry_at = now_millis() + millis(backoff(op.attempts + 1));
        if retry_at > op.deadline_at {
            return self
                .settle_on(op, id, async |at| self.fail(at, error).await)
                .await;
        }
        tracing::info!(operation = %op.id, attempt = op.attempts + 1, error = %error, "provisioning attempt failed; retrying");
        self.defer(op, error, retry_at).await?;
        Ok(drive)
    }
}

/// The deadline passed: the last attempt's error says why, when there was one.
fn timed_out(op: &operation::Model) -> Value {
    let last = op
        .error
        .as_ref()
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str);
    let message = match last {
        Some(last) => format!(
            "The operation on '{}' did not finish before its deadline. Last error: {last}",
            op.resource_id
        ),
        None => format!(
            "The operation on '{}' did not finish before its deadline.",
            op.resource_id
        ),
    };
    OperationError::new(ErrorCode::OperationTimedOut, message).to_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(4), Duration::from_millis(1600));
        assert_eq!(backoff(40), Duration::from_secs(30));
    }
}
