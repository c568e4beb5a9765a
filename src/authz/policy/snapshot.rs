//! A policy snapshot: role definitions as casbin `p` rules, role assignments as `g` links in
//! an [`AssignmentIndex`], and the decision over a scope walk. Immutable but for the changes
//! this replica commits, which [`super::Policy`] applies in place.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use parking_lot::RwLock;

use super::{MODEL, PolicyError};
use crate::authz::condition::{AccessRequest, AttributeSource, Condition};
use crate::authz::index::AssignmentIndex;
use crate::authz::roles::{self, RoleDefinition};

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

/// Whether `condition` holds for the action. Without attributes a condition that restricts
/// this action cannot be shown to hold: it fails closed (a negated comparison on a missing
/// attribute would pass).
fn holds(condition: &Condition, plain_action: &str, request: Option<&dyn AccessRequest>) -> bool {
    match request {
        Some(request) => condition.evaluate(request),
        None if condition.mentions_action(plain_action) => false,
        None => condition.evaluate(&BareRequest(plain_action)),
    }
}

/// The condition of a role's permission blocks, all of which must hold; `None` when it has
/// none, `Some(None)` when one does not parse.
fn role_condition(role: &RoleDefinition) -> Option<Option<Arc<Condition>>> {
    let parts: Vec<String> = role
        .properties
        .permissions
        .iter()
        .filter_map(|p| p.condition.as_deref())
        .map(|c| format!("({c})"))
        .collect();
    if parts.is_empty() {
        return None;
    }
    match Condition::parse(&parts.join(" AND ")) {
        Ok(condition) => Some(Some(Arc::new(condition))),
        Err(err) => {
            tracing::error!(role = %role.name, error = %err, "a role's condition does not parse; the role grants nothing");
            Some(None)
        }
    }
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
    /// The conditions of roles that carry one (`None`: it does not parse, so the role grants
    /// nothing rather than everything).
    role_conditions: HashMap<String, Option<Arc<Condition>>>,
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
            "roleGrants",
            casbin::function_map::OperatorFunction::Arg3(|action, allow, deny| {
                use casbin::function_map::dynamic_to_str;
                // The rule's lists are the JSON `RoleDefinition::policy_rule` wrote.
                let patterns = |list: &casbin::rhai::Dynamic| {
                    serde_json::from_str::<Vec<String>>(&dynamic_to_str(list)).unwrap_or_default()
                };
                roles::RolePatterns {
                    allow: patterns(&allow),
                    deny: patterns(&deny),
                }
                .grant(&dynamic_to_str(&action))
                .into()
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
        let rules: Vec<Vec<String>> = roles.values().map(RoleDefinition::policy_rule).collect();
        let role_conditions = roles
            .values()
            .filter_map(|role| Some((role.name.clone(), role_condition(role)?)))
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
            role_conditions,
            grants: RwLock::default(),
        })
    }

    pub fn version(&self) -> i64 {
        self.version.load(Ordering::Acquire)
    }

    /// After a change of this replica was applied in place.
    pub(super) fn set_version(&self, version: i64) {
        self.version.store(version, Ordering::Release);
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

    pub(super) fn add(&self, assignment: &Assignment) {
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

    pub(super) fn remove(&self, assignment: &Assignment) {
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
        match self.role_conditions.get(role) {
            Some(Some(condition)) if !holds(condition, plain_action, request) => return false,
            Some(None) => return false,
            _ => {}
        }
        let Some(name) = assignment else {
            return true;
        };
        let Some(condition) = self.conditions.read().get(name).cloned() else {
            return false;
        };
        holds(&condition, plain_action, request)
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

    /// The roles (GUIDs) that grant a control-plane action (their conditions, if any, holding
    /// without attributes).
    pub fn roles_granting(&self, action: &str) -> Vec<String> {
        let prefixed = roles::control_action(action);
        self.roles
            .keys()
            .filter(|role| self.token_grants(role, &prefixed, action, None))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in role's condition parses (one that did not would make its role grant
    /// nothing), and the two Foundry roles that delegate assignment carry theirs.
    #[test]
    fn built_in_role_conditions_parse() {
        let with_condition: Vec<&str> = roles::built_in()
            .iter()
            .filter_map(|role| {
                let parsed = role_condition(role)?;
                assert!(
                    parsed.is_some(),
                    "{} has a condition that does not parse",
                    role.properties.role_name
                );
                Some(role.properties.role_name.as_str())
            })
            .collect();
        assert_eq!(with_condition.len(), 2, "{with_condition:?}");
        assert!(with_condition.contains(&"Foundry Account Owner"));
        assert!(with_condition.contains(&"Foundry Project Manager"));
    }

    /// casbin's matcher and `RoleDefinition::grants` are one rule: they agree on every
    /// built-in role, for control and data actions, allowed and denied.
    #[tokio::test]
    async fn casbin_answers_what_the_role_definition_says() {
        let snapshot = PolicySnapshot::build(0, vec![], []).await.unwrap();
        let actions = [
            "Microsoft.MachineLearningServices/workspaces/read",
            "Microsoft.MachineLearningServices/workspaces/write",
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            "Microsoft.CognitiveServices/accounts/OpenAI/fine-tunes-deployments/write",
            "Microsoft.Subscription/cancel/action",
        ];
        let mut granted = 0;
        for role in roles::built_in() {
            for action in actions {
                for data in [false, true] {
                    let prefixed = if data {
                        roles::data_action(action)
                    } else {
                        roles::control_action(action)
                    };
                    let expected = role.grants(action, data);
                    assert_eq!(
                        snapshot.role_grants(&role.name, &prefixed),
                        expected,
                        "{} {prefixed}",
                        role.properties.role_name
                    );
                    granted += usize::from(expected);
                }
            }
        }
        assert!(granted > 0);
        assert!(!snapshot.role_grants("no-such-role", "a:*"));
    }
}
