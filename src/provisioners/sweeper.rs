//! The sweeper: what no message and no worker is looking after gets looked after again, so a
//! lost or duplicated message can never leave a resource non-terminal.
//!
//! - a lease that expired a sweep ago and nobody took over (its worker died) is released and
//!   the request published again;
//! - an operation past its deadline is released even from a live lease, so the next attempt
//!   fails it with its last error;
//! - a resource left Creating/Updating/Deleting with no operation running (generation ahead
//!   of observedGeneration, or a pending delete) gets a new operation and request;
//! - each type's housekeeping runs ([`Provisioner::sweep`]: soft-deleted accounts past their
//!   retention are purged).
//!
//! [`Provisioner::sweep`]: crate::arm::provisioning::Provisioner::sweep

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::{Notify, watch};

use super::worker::Worker;
use super::{Backends, ProvisionContext};
use crate::arm::id::{PathVocabulary, ResourceId};
use crate::config::WorkerSettings;
use crate::events::{self, EventFacts};
use crate::lifecycle::{ProvisioningState, Verb, action_of};
use crate::store::operations::{self, NewOperation, Stale};
use crate::store::resources::{self, RowLock};
use crate::store::{millis, now_millis, operation};

/// The caller recorded on what the sweeper starts.
const SWEEPER: &str = "kiln-sweeper";
/// Rows looked at per pass.
const BATCH: u64 = 256;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sweep {
    pub expired_leases: u64,
    pub past_deadline: u64,
    pub restarted: u64,
    /// What the types' housekeeping did.
    pub housekept: u64,
}

impl Sweep {
    pub fn is_empty(&self) -> bool {
        *self == Sweep::default()
    }
}

#[derive(Clone)]
pub struct Sweeper {
    db: DatabaseConnection,
    settings: WorkerSettings,
    vocabulary: Arc<PathVocabulary>,
    /// Wakes the in-process worker and the relay after a pass that changed something.
    wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
    backends: Backends,
}

impl Sweeper {
    /// The sweeper of what `worker` drives: the same database, settings and wake-ups.
    pub fn beside(worker: &Worker) -> Self {
        Self {
            db: worker.db.clone(),
            settings: worker.settings().clone(),
            vocabulary: worker.vocabulary.clone(),
            wake: worker.wake.clone(),
            outbox_wake: worker.outbox_wake.clone(),
            backends: worker.backends().clone(),
        }
    }

    pub async fn run_until_stopped(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.run_once().await {
                Ok(sweep) if !sweep.is_empty() => tracing::info!(?sweep, "sweeper re-drove work"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "sweep failed; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.sweep_interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    pub async fn run_once(&self) -> Result<Sweep, DbErr> {
        let now = now_millis();
        let grace = millis(self.settings.sweep_interval);
        let sweep = Sweep {
            expired_leases: self
                .release(now, Stale::LeaseExpiredBefore(now - grace))
                .await?,
            past_deadline: self.release(now, Stale::PastDeadline(now)).await?,
            restarted: self.restart_orphans(now).await?,
            housekept: self.housekeeping(now).await,
        };
        if !sweep.is_empty() {
            self.wake.notify_one();
            self.outbox_wake.notify_one();
        }
        Ok(sweep)
    }

    /// Each type's housekeeping. A failure is logged and tried again next sweep: it must not
    /// stop the sweeper's own work.
    async fn housekeeping(&self, now: i64) -> u64 {
        let cx = ProvisionContext {
            db: &self.db,
            storage: &self.backends.storage,
            vocabulary: &self.vocabulary,
            keys: &self.backends.keys,
        };
        let mut done = 0;
        for provisioner in self.backends.provisioners.all() {
            match provisioner.sweep(&cx, now).await {
                Ok(n) => done += n,
                Err(err) => {
                    tracing::warn!(error = %err, "housekeeping failed; retrying next sweep")
                }
            }
        }
        done
    }

    async fn release(&self, now: i64, which: Stale) -> Result<u64, DbErr> {
        let tx = self.db.begin().await?;
        let ops = operations::release_stale(&tx, which, BATCH).await?;
        for op in &ops {
            tracing::warn!(operation = %op.id, resource = %op.resource_id, owner = ?op.lease_owner, overdue = op.deadline_at < now, "releasing an operation nobody is finishing");
            self.request(&tx, op).await?;
        }
        tx.commit().await?;
        Ok(ops.len() as u64)
    }

    async fn request(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        op: &operation::Model,
    ) -> Result<(), DbErr> {
        let Some(id) = ResourceId::parse(&op.resource_id, &self.vocabulary) else {
            return Ok(());
        };
        let verb = Verb::parse(&op.verb).unwrap_or(Verb::Put);
        let action = action_of(&id.type_name(), verb.rbac());
        let facts = EventFacts::of_operation(op, &id, &action);
        events::enqueue(tx, events::PROVISIONING_REQUESTED, &facts).await
    }

    /// Non-terminal resources without a running operation get one.
    async fn restart_orphans(&self, now: i64) -> Result<u64, DbErr> {
        let running_states = ProvisioningState::RUNNING.map(ProvisioningState::as_str);
        let pending = resources::keys_in_states(&self.db, running_states.to_vec(), BATCH).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let running = operations::running_among(&self.db, pending.clone()).await?;
        let mut restarted = 0;
        for key in pending.into_iter().filter(|k| !running.contains(k)) {
            if self.restart(&key, now).await? {
                restarted += 1;
            }
        }
        Ok(restarted)
    }

    /// Starts an operation for an orphaned resource, re-checking under the row lock so two
    /// sweepers never start two.
    async fn restart(&self, key: &str, now: i64) -> Result<bool, DbErr> {
        let tx = self.db.begin().await?;
        let Some(row) = resources::lock(&tx, key, RowLock::Update).await? else {
            return Ok(false);
        };
        let running = operations::running_for(&tx, key).await?;
        let Some(id) = ResourceId::parse(&row.id, &self.vocabulary) else {
            return Ok(false);
        };
        if running.is_some() || crate::lifecycle::is_terminal(&row.provisioning_state) {
            return Ok(false);
        }
        let verb = if row.provisioning_state == ProvisioningState::Deleting.as_str() {
            Verb::Delete.method()
        } else {
            Verb::Put.method()
        };
        let op = operations::start(
            &tx,
            NewOperation {
                subscription_key: row.subscription_key.clone(),
                resource_key: row.id_key.clone(),
                resource_id: row.id.clone(),
                namespace: id.namespace(),
                location: row.location.as_deref(),
                verb,
                target_generation: row.generation,
                request_hash: "",
                api_version: "",
                caller: SWEEPER,
                correlation_id: uuid::Uuid::new_v4().to_string(),
                traceparent: None,
                started_at: now,
                deadline_at: now + millis(self.settings.operation_deadline),
            },
        )
        .await?;
        tracing::warn!(resource = %row.id, state = %row.provisioning_state, operation = %op.id, "restarting a resource left without an operation");
        self.request(&tx, &op).await?;
        tx.commit().await?;
        Ok(true)
    }
}
