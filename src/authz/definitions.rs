//! Role definitions through the API: built-ins are served read-only; custom roles are stored
//! and become casbin `p` rules on the next snapshot.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, TransactionTrait};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::policy::{self, Change, Policy};
use super::roles::{CUSTOM, RoleDefinition, RoleDefinitionProperties};
use super::scope::{AuthzScope, properties_of, within_any};
use crate::arm::id::PathVocabulary;
use crate::error::{ArmError, ErrorCode};
use crate::identity::Caller;
use crate::store::{assignments, definitions, now_millis, policy_version, role_definition};

pub const TYPE: &str = "Microsoft.Authorization/roleDefinitions";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleDefinitionView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub properties: RoleDefinitionProperties,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleDefinitionList {
    pub value: Vec<RoleDefinitionView>,
}

/// A definition as seen from a scope: built-ins take the scope's subscription in their id,
/// as Azure shows them.
pub fn render(role: &RoleDefinition, at: &AuthzScope) -> RoleDefinitionView {
    let base = if role.is_built_in() {
        match &at.resource {
            Some(id) => format!("/subscriptions/{}", id.subscription),
            None => String::new(),
        }
    } else if role.scope == "/" {
        String::new()
    } else {
        role.scope.clone()
    };
    RoleDefinitionView {
        id: format!(
            "{base}/providers/Microsoft.Authorization/roleDefinitions/{}",
            role.name
        ),
        name: role.name.clone(),
        type_name: TYPE.into(),
        properties: role.properties.clone(),
    }
}

/// `$filter` of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFilter {
    All,
    RoleName(String),
    Type(String),
}

impl ListFilter {
    pub fn parse(raw: Option<&str>) -> Result<Self, ArmError> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(Self::All);
        };
        let value = |rest: &str| {
            rest.trim()
                .strip_prefix('\'')
                .and_then(|r| r.strip_suffix('\''))
                .map(str::to_owned)
        };
        let (field, rest) = raw.split_once(" eq ").unwrap_or(("", ""));
        match (field.trim().to_ascii_lowercase().as_str(), value(rest)) {
            ("rolename", Some(v)) => Ok(Self::RoleName(v)),
            ("type", Some(v)) => Ok(Self::Type(v)),
            _ if raw.eq_ignore_ascii_case("atScopeAndBelow()") => Ok(Self::All),
            _ => Err(ArmError::new(
                ErrorCode::InvalidFilter,
                format!(
                    "The $filter '{raw}' is not supported. Use roleName eq '{{name}}' or type eq '{{BuiltInRole|CustomRole}}'."
                ),
            )),
        }
    }

    fn admits(&self, role: &RoleDefinition) -> bool {
        match self {
            Self::All => true,
            Self::RoleName(n) => role.properties.role_name.eq_ignore_ascii_case(n),
            Self::Type(t) => role.properties.role_type.eq_ignore_ascii_case(t),
        }
    }
}

#[derive(Clone)]
pub struct RoleDefinitions {
    pub db: DatabaseConnection,
    pub policy: Arc<Policy>,
    pub vocabulary: Arc<PathVocabulary>,
}

fn invalid(code: ErrorCode, message: impl Into<String>) -> ArmError {
    ArmError::new(code, message)
}

pub fn not_found(name: &str) -> ArmError {
    ArmError::with_status(
        actix_web::http::StatusCode::NOT_FOUND,
        ErrorCode::RoleDefinitionDoesNotExist,
        format!("The specified role definition with ID '{name}' does not exist."),
    )
}

/// Whether a custom role may be assigned at `scope_key`: at or below one of its assignable
/// scopes. Built-in roles may be assigned anywhere.
pub fn assignable_at(role: &RoleDefinition, scope_key: &str) -> bool {
    role.is_built_in() || within_any(scope_key, &role.properties.assignable_scopes)
}

impl RoleDefinitions {
    pub fn get(&self, name: &str) -> Result<RoleDefinition, ArmError> {
        self.policy
            .snapshot()
            .role(name)
            .cloned()
            .ok_or_else(|| not_found(name))
    }

    /// Built-ins, and custom roles assignable at or above the scope.
    pub fn list(&self, at: &AuthzScope, filter: &ListFilter) -> Vec<RoleDefinitionView> {
        let snapshot = self.policy.snapshot();
        let mut roles: Vec<&RoleDefinition> = snapshot
            .roles()
            .filter(|r| filter.admits(r))
            .filter(|r| assignable_at(r, &at.key))
            .collect();
        roles.sort_by(|a, b| a.properties.role_name.cmp(&b.properties.role_name));
        roles.into_iter().map(|r| render(r, at)).collect()
    }

    fn validate(
        &self,
        at: &AuthzScope,
        name: &str,
        body: &Value,
    ) -> Result<(String, RoleDefinitionProperties), ArmError> {
        let name = uuid::Uuid::parse_str(name)
            .map_err(|_| {
                invalid(
                    ErrorCode::InvalidRoleDefinitionId,
                    format!("The role definition ID '{name}' is not valid. It must be a GUID."),
                )
            })?
            .to_string();
        let mut props: RoleDefinitionProperties = properties_of(body)?;
        if props.role_name.trim().is_empty() || props.role_name.len() > 512 {
            return Err(invalid(
                ErrorCode::InvalidRoleDefinitionName,
                "roleName must be 1 to 512 characters.",
            )
            .with_target("properties.roleName"));
        }
        let patterns: Vec<&String> = props
            .permissions
            .iter()
            .flat_map(|p| {
                p.actions
                    .iter()
                    .chain(&p.not_actions)
                    .chain(&p.data_actions)
                    .chain(&p.not_data_actions)
            })
            .collect();
        // Azure sets conditions on built-in roles only; a custom role's would be enforced by
        // nothing the user sees, so it is refused rather than kept.
        if props
            .permissions
            .iter()
            .any(|p| p.condition.is_some() || p.condition_version.is_some())
        {
            return Err(invalid(
                ErrorCode::InvalidCondition,
                "Custom role definitions cannot carry a condition; put the condition on the role assignment.",
            )
            .with_target("properties.permissions"));
        }
        let grants_something = props
            .permissions
            .iter()
            .any(|p| !p.actions.is_empty() || !p.data_actions.is_empty());
        if !grants_something {
            return Err(invalid(
                ErrorCode::RoleDefinitionHasNoPermissions,
                "A role definition needs at least one action or data action in 'permissions'.",
            )
            .with_target("properties.permissions"));
        }
        if let Some(bad) = patterns.iter().find(|p| {
            p.is_empty() || p.len() > 1024 || p.chars().any(|c| c.is_whitespace() || c.is_control())
        }) {
            return Err(invalid(
                ErrorCode::InvalidActionOrNotAction,
                format!("The permission '{bad}' is not valid."),
            )
            .with_target("properties.permissions"));
        }
        if props.assignable_scopes.is_empty() {
            return Err(invalid(
                ErrorCode::InvalidAssignableScopes,
                "A custom role needs at least one assignable scope (a subscription, resource group or resource).",
            )
            .with_target("properties.assignableScopes"));
        }
        let mut scopes = Vec::new();
        for raw in &props.assignable_scopes {
            let scope = AuthzScope::parse(raw, &self.vocabulary)?;
            if scope.key == "/" {
                return Err(invalid(
                    ErrorCode::InvalidAssignableScopes,
                    "'/' is reserved for built-in roles.",
                )
                .with_target("properties.assignableScopes"));
            }
            scopes.push(scope.display);
        }
        if !within_any(&at.key, &props.assignable_scopes) && at.key != "/" {
            return Err(invalid(
                ErrorCode::InvalidRoleDefinitionScope,
                format!(
                    "The scope '{}' of the request is not among the role's assignable scopes or below one of them.",
                    at.display
                ),
            ));
        }
        props.assignable_scopes = scopes;
        props.role_type = CUSTOM.into();
        props.created_on = None;
        props.updated_on = None;
        props.created_by = None;
        props.updated_by = None;
        Ok((name, props))
    }

    /// 403 `code` when `name` is a built-in role: those are read-only.
    fn refuse_built_in(&self, name: &str, code: ErrorCode, done: &str) -> Result<(), ArmError> {
        if self
            .policy
            .snapshot()
            .role(name)
            .is_some_and(RoleDefinition::is_built_in)
        {
            return Err(ArmError::new(
                code,
                format!("The built-in role '{name}' cannot be {done}."),
            ));
        }
        Ok(())
    }

    /// Creates or replaces a custom role (ARM answers 201 either way).
    pub async fn put(
        &self,
        caller: &Caller,
        at: &AuthzScope,
        name: &str,
        body: &Value,
    ) -> Result<RoleDefinitionView, ArmError> {
        let (name, mut props) = self.validate(at, name, body)?;
        self.refuse_built_in(
            &name,
            ErrorCode::RoleDefinitionUpdateNotPermitted,
            "changed",
        )?;
        let now = now_millis();
        let stamp = chrono::DateTime::from_timestamp_millis(now)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        let tx = self.db.begin().await?;
        let existing = definitions::find(&tx, &name).await?;
        // A role belongs to the scope it was created at: it is changed there or nowhere.
        if existing.as_ref().is_some_and(|e| e.scope_key != at.key) {
            return Err(ArmError::new(
                ErrorCode::RoleDefinitionWithSameIdExists,
                format!("A role definition with the id '{name}' exists at another scope."),
            ));
        }
        let name_key = props.role_name.trim().to_lowercase();
        let clash = definitions::find_named_other_than(&tx, &name_key, &name).await?;
        if clash.is_some() || super::roles::built_in_named(props.role_name.trim()).is_some() {
            return Err(ArmError::new(
                ErrorCode::RoleDefinitionWithSameNameExists,
                format!(
                    "A role definition cannot be updated with a name that already exists: '{}'.",
                    props.role_name
                ),
            ));
        }
        let (created_at, created_by) = existing
            .as_ref()
            .map_or((now, caller.principal_id.clone()), |e| {
                (e.created_at, e.created_by.clone())
            });
        props.created_on = chrono::DateTime::from_timestamp_millis(created_at)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        props.updated_on = stamp;
        props.created_by = Some(created_by.clone());
        props.updated_by = Some(caller.principal_id.clone());
        let id = at.child_id("roleDefinitions", &name);
        let row = role_definition::Model {
            name_key: name.clone(),
            id: existing.as_ref().map_or(id, |e| e.id.clone()),
            scope_key: at.key.clone(),
            role_name_key: name_key,
            body: serde_json::to_value(&props).unwrap_or_default(),
            created_at,
            updated_at: now,
            created_by,
            updated_by: caller.principal_id.clone(),
        };
        let result = match existing {
            Some(_) => definitions::update(&tx, row).await,
            None => definitions::insert(&tx, row).await,
        };
        result.map_err(|err| match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => ArmError::new(
                ErrorCode::RoleDefinitionWithSameNameExists,
                format!(
                    "A role definition with the name '{}' already exists.",
                    props.role_name
                ),
            ),
            _ => err.into(),
        })?;
        let version = policy_version::bump(&tx).await?;
        tx.commit().await?;
        self.policy.committed(Change::Roles, version).await?;
        let role = self.get(&name)?;
        Ok(render(&role, at))
    }

    /// Deletes a custom role; `None` when absent. A role still assigned is 409.
    pub async fn delete(
        &self,
        at: &AuthzScope,
        name: &str,
    ) -> Result<Option<RoleDefinitionView>, ArmError> {
        let Some(name) = uuid::Uuid::parse_str(name).ok().map(|u| u.to_string()) else {
            return Ok(None);
        };
        self.refuse_built_in(
            &name,
            ErrorCode::RoleDefinitionDeleteNotPermitted,
            "deleted",
        )?;
        let tx = self.db.begin().await?;
        let Some(row) = definitions::find(&tx, &name).await? else {
            return Ok(None);
        };
        if row.scope_key != at.key {
            return Ok(None); // not a role of this scope
        }
        let assigned = assignments::count_with_role(&tx, &name).await?;
        if assigned > 0 {
            return Err(ArmError::new(
                ErrorCode::RoleDefinitionHasAssignments,
                format!(
                    "The role definition '{name}' has {assigned} role assignment(s); delete them first."
                ),
            ));
        }
        definitions::delete(&tx, &name).await?;
        let version = policy_version::bump(&tx).await?;
        tx.commit().await?;
        self.policy.committed(Change::Roles, version).await?;
        Ok(policy::custom_role(row).map(|role| render(&role, at)))
    }
}
