//! The loaded authorization policy: role definitions as casbin `p` rules, role assignments as
//! `g` links, and the decision over a scope walk. A snapshot is rebuilt off to the side and
//! swapped in when the policy version in the database moves, so requests never wait for a
//! reload; changes made through this replica are applied to the live snapshot at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock as StdRwLock};
use std::time::Duration;

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use parking_lot::RwLock;
use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};
use tokio::sync::watch;

use super::condition::{AccessRequest, AttributeSource, Condition};
use super::index::AssignmentIndex;
use super::roles::{self, RoleDefinition, RoleDefinitionProperties};
use crate::store::{authz_state, role_assignment, role_definition};

pub const MODEL: &str = include_str!("../../policies/model.conf");

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

/// One role assignment as the policy holds it.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub name: String,
    /// Lower-cased principal (or group) object id.
    pub subject: String,
    /// Lower-cased role definition GUID.
    pub role: String,
    pub scope: String,
    pub condition: Option<Arc<Condition>>,
}

impl Assignment {
    /// The role side of the `g` link: a conditioned assignment gets its own token, so the
    /// walk can find its condition; unconditioned ones share the role's GUID.
    fn role_token(&self) -> String {
        match self.condition {
            Some(_) => format!("{}#{}", self.role, self.name),
            None => self.role.clone(),
        }
    }
}

/// What a decision is asked.
pub struct Query<'a> {
    /// The caller's object id and its groups, lower-cased.
    pub subjects: &'a [String],
    pub action: &'a str,
    /// A data action (`dataActions`), rather than a control-plane one.
    pub data: bool,
    /// Scope keys from the target up to the tenant root.
    pub walk: &'a [String],
    /// Attributes for conditions; `None` means none are known.
    pub request: Option<&'a dyn AccessRequest>,
}

/// Why a decision allowed: the role and the scope of the assignment that granted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: String,
    pub scope: String,
}

/// The action alone, for conditions evaluated without attributes.
struct BareRequest<'a>(&'a str);

impl AccessRequest for BareRequest<'_> {
    fn action(&self) -> &str {
        self.0
    }
    fn attribute(&self, _: AttributeSource, _: &str) -> Vec<String> {
        Vec::new()
    }
}

pub struct PolicySnapshot {
    version: AtomicI64,
    enforcer: Enforcer,
    index: Arc<RwLock<AssignmentIndex>>,
    conditions: RwLock<HashMap<String, Arc<Condition>>>,
    roles: HashMap<String, RoleDefinition>,
    /// (role, a:|d:action) → granted, answered by casbin once per snapshot: the decision cache,
    /// invalidated by construction when a new policy version is swapped in.
    grants: RwLock<GrantCache>,
}

/// (role token, prefixed action) → granted.
type GrantCache = HashMap<(Box<str>, Box<str>), bool>;

const GRANT_CACHE_LIMIT: usize = 100_000;

impl PolicySnapshot {
    pub async fn build(
        version: i64,
        custom_roles: Vec<RoleDefinition>,
        assignments: impl IntoIterator<Item = Assignment>,
    ) -> Result<Self, PolicyError> {
        let model = DefaultModel::from_str(MODEL).await?;
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default()).await?;
        enforcer.add_function(
            "actionMatch",
            casbin::function_map::OperatorFunction::Arg2(|action, pattern| {
                let (action, pattern) = (action.to_string(), pattern.to_string());
                super::condition::action_matches(&pattern, &action).into()
            }),
        );
        let index = Arc::new(RwLock::new(AssignmentIndex::default()));
        enforcer.set_role_manager(index.clone())?;
        let mut roles: HashMap<String, RoleDefinition> = roles::built_in()
            .iter()
            .map(|r| (r.name.clone(), r.clone()))
            .collect();
        for role in custom_roles {
            roles.insert(role.name.clone(), role);
        }
        let rules: Vec<Vec<String>> = roles
            .values()
            .flat_map(RoleDefinition::policy_rules)
            .collect();
        if !rules.is_empty() {
            enforcer.add_policies(rules).await?;
        }
        let mut conditions = HashMap::new();
        {
            let mut links = index.write();
            for assignment in assignments {
                links.add(
                    &assignment.subject,
                    &assignment.role_token(),
                    &assignment.scope,
                );
                if let Some(condition) = &assignment.condition {
                    conditions.insert(assignment.name.clone(), condition.clone());
                }
            }
        }
        Ok(Self {
            version: AtomicI64::new(version),
            enforcer,
            index,
            conditions: RwLock::new(conditions),
            roles,
            grants: RwLock::default(),
        })
    }

    pub fn version(&self) -> i64 {
        self.version.load(Ordering::Acquire)
    }

    pub fn assignment_count(&self) -> usize {
        self.index.read().len()
    }

    pub fn role(&self, guid: &str) -> Option<&RoleDefinition> {
        self.roles.get(&guid.to_lowercase())
    }

    pub fn roles(&self) -> impl Iterator<Item = &RoleDefinition> {
        self.roles.values()
    }

    fn add(&self, assignment: &Assignment) {
        if let Some(condition) = &assignment.condition {
            self.conditions
                .write()
                .insert(assignment.name.clone(), condition.clone());
        }
        self.index.write().add(
            &assignment.subject,
            &assignment.role_token(),
            &assignment.scope,
        );
    }

    fn remove(&self, assignment: &Assignment) {
        self.index.write().remove(
            &assignment.subject,
            &assignment.role_token(),
            &assignment.scope,
        );
        self.conditions.write().remove(&assignment.name);
    }

    /// Whether a role grants an action (`a:`/`d:` prefixed), through casbin, remembered.
    fn role_grants(&self, role: &str, action: &str) -> bool {
        if let Some(known) = self.grants.read().get(&(role.into(), action.into())) {
            return *known;
        }
        let granted = match self.enforcer.enforce((role, action)) {
            Ok(granted) => granted,
            Err(err) => {
                tracing::error!(error = %err, role, action, "casbin enforce failed; denying");
                false
            }
        };
        let mut grants = self.grants.write();
        if grants.len() >= GRANT_CACHE_LIMIT {
            grants.clear();
        }
        grants.insert((role.into(), action.into()), granted);
        granted
    }

    /// Whether an assignment's role token grants the action, its condition included.
    fn token_grants(
        &self,
        token: &str,
        action: &str,
        plain_action: &str,
        request: Option<&dyn AccessRequest>,
    ) -> bool {
        let (role, assignment) = match token.split_once('#') {
            Some((role, name)) => (role, Some(name)),
            None => (token, None),
        };
        if !self.role_grants(role, action) {
            return false;
        }
        let Some(name) = assignment else {
            return true;
        };
        let Some(condition) = self.conditions.read().get(name).cloned() else {
            return false;
        };
        match request {
            Some(request) => condition.evaluate(request),
            // Without attributes a condition that restricts this action cannot be shown to
            // hold: it fails closed (a negated comparison on a missing attribute would pass).
            None if condition.mentions_action(plain_action) => false,
            None => condition.evaluate(&BareRequest(plain_action)),
        }
    }

    /// Walks the scopes from the target up and stops at the first assignment whose role
    /// grants the action (and whose condition, if any, holds).
    pub fn decide(&self, query: &Query<'_>) -> Option<Grant> {
        let action = if query.data {
            roles::data_action(query.action)
        } else {
            roles::control_action(query.action)
        };
        let index = self.index.read();
        for scope in query.walk {
            for subject in query.subjects {
                let mut granted = None;
                index.any_role_at(subject, scope, |token| {
                    let ok = self.token_grants(token, &action, query.action, query.request);
                    if ok {
                        granted = Some(token.split('#').next().unwrap_or(token).to_owned());
                    }
                    ok
                });
                if let Some(role) = granted {
                    return Some(Grant {
                        role,
                        scope: scope.clone(),
                    });
                }
            }
        }
        None
    }

    /// The roles (GUIDs) that grant a control-plane action.
    pub fn roles_granting(&self, action: &str) -> Vec<String> {
        let prefixed = roles::control_action(action);
        self.roles
            .keys()
            .filter(|role| self.role_grants(role, &prefixed))
            .cloned()
            .collect()
    }

    /// The scopes strictly below `under` where the subjects hold a role granting the
    /// (control-plane) action without a condition that needs attributes. A list filters its
    /// rows to these.
    pub fn granted_scopes_below(
        &self,
        subjects: &[String],
        action: &str,
        under: &str,
    ) -> Vec<String> {
        let prefixed = roles::control_action(action);
        let prefix = format!("{}/", under.trim_end_matches('/'));
        let index = self.index.read();
        let mut scopes: Vec<String> = subjects
            .iter()
            .flat_map(|s| index.assignments_of(s))
            .filter(|(scope, _)| scope.starts_with(&prefix) || under == "/")
            .filter(|(_, token)| self.token_grants(token, &prefixed, action, None))
            .map(|(scope, _)| scope.to_owned())
            .collect();
        scopes.sort();
        scopes.dedup();
        scopes
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
        if read_version(&self.db).await? == self.snapshot().version() {
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
            snapshot.version.store(version, Ordering::Release);
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

pub async fn read_version(db: &impl sea_orm::ConnectionTrait) -> Result<i64, sea_orm::DbErr> {
    Ok(authz_state::Entity::find_by_id(1)
        .one(db)
        .await?
        .map_or(0, |row| row.version))
}

/// Bumps the policy version inside the caller's transaction and returns the new one.
pub async fn bump_version(db: &impl sea_orm::ConnectionTrait) -> Result<i64, sea_orm::DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ColumnTrait, QueryFilter};
    authz_state::Entity::update_many()
        .col_expr(
            authz_state::Column::Version,
            Expr::col(authz_state::Column::Version).add(1),
        )
        .filter(authz_state::Column::Id.eq(1))
        .exec(db)
        .await?;
    read_version(db).await
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
    let version = read_version(db).await?;
    let custom: Vec<RoleDefinition> = role_definition::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .filter_map(custom_role)
        .collect();
    let rows: Vec<(String, String, String, String, Option<String>)> =
        role_assignment::Entity::find()
            .select_only()
            .column(role_assignment::Column::NameKey)
            .column(role_assignment::Column::PrincipalId)
            .column(role_assignment::Column::RoleDefinitionKey)
            .column(role_assignment::Column::ScopeKey)
            .column(role_assignment::Column::Condition)
            .into_tuple()
            .all(db)
            .await?;
    let assignments = rows.into_iter().filter_map(|(name, subject, role, scope, condition)| {
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
