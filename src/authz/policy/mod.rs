//! The loaded authorization policy ([`PolicySnapshot`]: role definitions as casbin `p`
//! rules, role assignments as `g` links, the decision over a scope walk), and how it is kept
//! current. A snapshot is rebuilt off to the side and swapped in when the policy version in
//! the database moves, so requests never wait for a reload; changes made through this
//! replica are applied to the live snapshot at once.

mod snapshot;

use std::sync::{Arc, RwLock as StdRwLock};
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::watch;

use super::condition::Condition;
use super::roles::{RoleDefinition, RoleDefinitionProperties};
use crate::store::{assignments, definitions, policy_version, role_definition};

// The path the engine's and the provisioners' deletes still call; they move to
// `authz::remove_for_deleted`, and this goes with them.
pub use snapshot::{Assignment, Grant, PolicySnapshot, Query};

pub const MODEL: &str = include_str!("../../../policies/model.conf");

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("reading the policy: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("building the casbin enforcer: {0}")]
    Casbin(#[from] casbin::Error),
}

impl From<PolicyError> for crate::error::ArmError {
    fn from(err: PolicyError) -> Self {
        match err {
            PolicyError::Database(db) => db.into(),
            PolicyError::Casbin(c) => crate::error::ArmError::internal(&c),
        }
    }
}

/// A change this replica committed, applied to its live snapshot without a reload.
pub enum Change {
    Added(Assignment),
    Removed(Assignment),
    /// The same assignment with another condition or description.
    Replaced(Assignment, Assignment),
    /// Role definitions changed: their `p` rules are rebuilt.
    Roles,
}

/// The current snapshot, and how it is kept current.
pub struct Policy {
    db: DatabaseConnection,
    current: StdRwLock<Arc<PolicySnapshot>>,
    /// One rebuild or local change at a time; requests never take it.
    gate: tokio::sync::Mutex<()>,
}

impl Policy {
    pub async fn load(db: DatabaseConnection) -> Result<Self, PolicyError> {
        let snapshot = read_snapshot(&db).await?;
        Ok(Self {
            db,
            current: StdRwLock::new(Arc::new(snapshot)),
            gate: tokio::sync::Mutex::new(()),
        })
    }

    pub fn snapshot(&self) -> Arc<PolicySnapshot> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn swap(&self, snapshot: PolicySnapshot) {
        let snapshot = Arc::new(snapshot);
        match self.current.write() {
            Ok(mut current) => *current = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    /// Rebuilds when the database's policy version differs from the snapshot's. Returns
    /// whether it did.
    pub async fn refresh(&self) -> Result<bool, PolicyError> {
        let _gate = self.gate.lock().await;
        self.refresh_locked().await
    }

    async fn refresh_locked(&self) -> Result<bool, PolicyError> {
        if policy_version::read(&self.db).await? == self.snapshot().version() {
            return Ok(false);
        }
        let started = std::time::Instant::now();
        let snapshot = read_snapshot(&self.db).await?;
        tracing::info!(
            version = snapshot.version(),
            assignments = snapshot.assignment_count(),
            took_ms = started.elapsed().as_millis() as u64,
            "authorization policy reloaded"
        );
        self.swap(snapshot);
        Ok(true)
    }

    /// After this replica committed `change` as policy version `version`: applied in place
    /// when the snapshot is exactly one version behind, else by a rebuild (someone else
    /// changed the policy too). Either way the change is enforced when this returns.
    pub async fn committed(&self, change: Change, version: i64) -> Result<(), PolicyError> {
        // The change is stored: failing to apply it here must not fail the request. The
        // poller rebuilds from the database on its next pass.
        if let Err(err) = self.apply_committed(change, version).await {
            tracing::warn!(error = %err, version, "applying a committed policy change failed; the next poll reloads");
        }
        Ok(())
    }

    async fn apply_committed(&self, change: Change, version: i64) -> Result<(), PolicyError> {
        let _gate = self.gate.lock().await;
        let snapshot = self.snapshot();
        if snapshot.version() + 1 == version {
            match &change {
                Change::Added(a) => snapshot.add(a),
                Change::Removed(a) => snapshot.remove(a),
                Change::Replaced(old, new) => {
                    snapshot.remove(old);
                    snapshot.add(new);
                }
                Change::Roles => {
                    self.refresh_locked().await?;
                    return Ok(());
                }
            }
            snapshot.set_version(version);
            return Ok(());
        }
        if snapshot.version() < version {
            self.refresh_locked().await?;
        }
        Ok(())
    }

    /// Polls the policy version every `interval` until `shutdown`.
    pub async fn run_until_stopped(
        self: Arc<Self>,
        interval: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            if let Err(err) = self.refresh().await {
                tracing::warn!(error = %err, "authorization policy reload failed; keeping the current one");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

pub fn custom_role(row: role_definition::Model) -> Option<RoleDefinition> {
    let properties: RoleDefinitionProperties = serde_json::from_value(row.body).ok()?;
    let scope = row
        .id
        .to_lowercase()
        .split("/providers/microsoft.authorization/roledefinitions/")
        .next()
        .map(|s| {
            if s.is_empty() {
                "/".to_owned()
            } else {
                s.to_owned()
            }
        })?;
    Some(RoleDefinition {
        name: row.name_key,
        scope,
        properties,
    })
}

async fn read_snapshot(db: &DatabaseConnection) -> Result<PolicySnapshot, PolicyError> {
    // The version first: a change committed while the rows are read leaves the snapshot
    // behind the database, and the next poll rebuilds again.
    let version = policy_version::read(db).await?;
    let custom: Vec<RoleDefinition> = definitions::all(db)
        .await?
        .into_iter()
        .filter_map(custom_role)
        .collect();
    let rows = assignments::all_for_policy(db).await?;
    let assignments = rows.into_iter().filter_map(|row| {
        let assignments::PolicyRow { name, principal: subject, role, scope_key: scope, condition } = row;
        let condition = match condition.as_deref().map(Condition::parse) {
            None => None,
            Some(Ok(parsed)) => Some(Arc::new(parsed)),
            Some(Err(err)) => {
                // Conditions are validated at PUT; a row that does not parse grants nothing.
                tracing::warn!(assignment = %name, error = %err, "stored condition does not parse; ignoring the assignment");
                return None;
            }
        };
        Some(Assignment {
            name,
            subject,
            role,
            scope,
            condition,
        })
    });
    PolicySnapshot::build(version, custom, assignments).await
}
