//! Role assignments: validation, storage in the caller's transaction together with the policy
//! version, and the ARM shape they are served in.

use std::sync::Arc;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition as Where, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::Caller;
use super::condition::Condition;
use super::policy::{self, Assignment, Change, Policy};
use super::scope::{AuthzScope, guid_of, properties_of};
use crate::error::ArmError;
use crate::store::{now_millis, role_assignment};

pub const TYPE: &str = "Microsoft.Authorization/roleAssignments";
pub const PRINCIPAL_TYPES: [&str; 4] = ["User", "Group", "ServicePrincipal", "ForeignGroup"];

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    #[schema(read_only)]
    pub scope: Option<String>,
    pub role_definition_id: String,
    pub principal_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_version: Option<String>,
    #[serde(default, skip_deserializing)]
    #[schema(read_only)]
    pub created_on: Option<String>,
    #[serde(default, skip_deserializing)]
    #[schema(read_only)]
    pub updated_on: Option<String>,
    #[serde(default, skip_deserializing)]
    #[schema(read_only)]
    pub created_by: Option<String>,
    #[serde(default, skip_deserializing)]
    #[schema(read_only)]
    pub updated_by: Option<String>,
    #[serde(default)]
    pub delegated_managed_identity_resource_id: Option<String>,
}

/// A role assignment as ARM serves it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleAssignment {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub properties: RoleAssignmentProperties,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleAssignmentList {
    pub value: Vec<RoleAssignment>,
}

fn timestamp(millis: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

pub fn render(row: &role_assignment::Model) -> RoleAssignment {
    RoleAssignment {
        id: row.id.clone(),
        name: row.name_key.clone(),
        type_name: TYPE.into(),
        properties: RoleAssignmentProperties {
            scope: Some(row.scope.clone()),
            role_definition_id: row.role_definition_id.clone(),
            principal_id: row.principal_id.clone(),
            principal_type: Some(row.principal_type.clone()),
            description: row.description.clone(),
            condition: row.condition.clone(),
            condition_version: row.condition_version.clone(),
            created_on: timestamp(row.created_on),
            updated_on: timestamp(row.updated_on),
            created_by: Some(row.created_by.clone()),
            updated_by: Some(row.updated_by.clone()),
            delegated_managed_identity_resource_id: None,
        },
    }
}

fn to_assignment(row: &role_assignment::Model, condition: Option<Arc<Condition>>) -> Assignment {
    Assignment {
        name: row.name_key.clone(),
        subject: row.principal_id.clone(),
        role: row.role_definition_key.clone(),
        scope: row.scope_key.clone(),
        condition,
    }
}

/// A validated request to write an assignment.
#[derive(Debug, Clone)]
pub struct NewAssignment {
    pub name: String,
    pub scope: AuthzScope,
    pub role: String,
    pub principal_id: String,
    pub principal_type: String,
    pub description: Option<String>,
    pub condition: Option<(Arc<Condition>, String)>,
}

/// The `@Request[…]` attributes of writing an assignment, for conditions that delegate
/// role assignment ("may assign any role except Owner").
pub struct WriteAttributes {
    action: String,
    role: String,
    principal: String,
    principal_type: String,
}

impl super::condition::AccessRequest for WriteAttributes {
    fn action(&self) -> &str {
        &self.action
    }

    fn attribute(&self, source: super::condition::AttributeSource, name: &str) -> Vec<String> {
        if source != super::condition::AttributeSource::Request {
            return Vec::new();
        }
        let value = match name.to_ascii_lowercase().as_str() {
            "microsoft.authorization/roleassignments:roledefinitionid" => &self.role,
            "microsoft.authorization/roleassignments:principalid" => &self.principal,
            "microsoft.authorization/roleassignments:principaltype" => &self.principal_type,
            _ => return Vec::new(),
        };
        vec![value.clone()]
    }
}

impl NewAssignment {
    pub fn request_attributes(&self, action: &str) -> WriteAttributes {
        WriteAttributes {
            action: action.to_owned(),
            role: self.role.clone(),
            principal: self.principal_id.clone(),
            principal_type: self.principal_type.clone(),
        }
    }
}

fn invalid(code: &str, message: impl Into<String>) -> ArmError {
    ArmError::bad_request(code, message)
}

/// Checks a PUT body. `known_role` says whether a role GUID exists.
pub fn validate(
    name: &str,
    scope: &AuthzScope,
    body: &Value,
    known_role: impl Fn(&str) -> bool,
) -> Result<NewAssignment, ArmError> {
    let name = uuid::Uuid::parse_str(name)
        .map_err(|_| {
            invalid(
                "InvalidRoleAssignmentId",
                format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."),
            )
        })?
        .to_string();
    let props: RoleAssignmentProperties = properties_of(body)?;
    let role = guid_of(&props.role_definition_id)
        .filter(|g| known_role(g))
        .ok_or_else(|| {
            invalid(
                "RoleDefinitionDoesNotExist",
                format!(
                    "The specified role definition with ID '{}' does not exist.",
                    props.role_definition_id
                ),
            )
            .with_target("properties.roleDefinitionId")
        })?;
    let principal_id = uuid::Uuid::parse_str(&props.principal_id)
        .map_err(|_| {
            invalid(
                "InvalidPrincipalId",
                format!(
                    "The principal ID '{}' is not valid. It must be a GUID.",
                    props.principal_id
                ),
            )
            .with_target("properties.principalId")
        })?
        .to_string();
    let principal_type = match props.principal_type.as_deref() {
        None => "User".to_owned(),
        Some(t) => PRINCIPAL_TYPES
            .iter()
            .find(|k| k.eq_ignore_ascii_case(t))
            .map(|k| (*k).to_owned())
            .ok_or_else(|| {
                invalid(
                    "InvalidPrincipalType",
                    format!(
                        "The principal type '{t}' is not valid. Use one of: {}.",
                        PRINCIPAL_TYPES.join(", ")
                    ),
                )
                .with_target("properties.principalType")
            })?,
    };
    if let Some(scope_in_body) = props.scope.as_deref()
        && !scope_in_body
            .trim_end_matches('/')
            .eq_ignore_ascii_case(scope.display.trim_end_matches('/'))
        && !(scope_in_body == "/" && scope.key == "/")
    {
        return Err(invalid(
            "InvalidRoleAssignmentScope",
            format!(
                "The scope '{scope_in_body}' in the request body does not match the scope '{}' of the URL.",
                scope.display
            ),
        ));
    }
    let condition = match (
        props.condition.as_deref(),
        props.condition_version.as_deref(),
    ) {
        (None | Some(""), None) => None,
        (None | Some(""), Some(_)) => {
            return Err(invalid(
                "InvalidConditionVersion",
                "conditionVersion is set, but there is no condition.",
            ));
        }
        (Some(text), version) => {
            if version.is_some_and(|v| v != "2.0") {
                return Err(invalid(
                    "InvalidConditionVersion",
                    format!(
                        "The condition version '{}' is not supported. Use '2.0'.",
                        version.unwrap_or_default()
                    ),
                )
                .with_target("properties.conditionVersion"));
            }
            let parsed = Condition::parse(text).map_err(|e| {
                invalid(
                    "InvalidCondition",
                    format!("The condition is invalid: {e}."),
                )
                .with_target("properties.condition")
            })?;
            Some((Arc::new(parsed), text.to_owned()))
        }
    };
    Ok(NewAssignment {
        name,
        scope: scope.clone(),
        role,
        principal_id,
        principal_type,
        description: props.description,
        condition,
    })
}

pub fn role_definition_id(scope: &AuthzScope, role: &str) -> String {
    // Azure shows role definition ids under the assignment's subscription.
    match &scope.resource {
        Some(id) => format!(
            "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            id.subscription
        ),
        None => format!("/providers/Microsoft.Authorization/roleDefinitions/{role}"),
    }
}

fn exists_error() -> ArmError {
    ArmError::conflict(
        "RoleAssignmentExists",
        "The role assignment already exists.",
    )
}

/// Outcome of a write, for the status code: 201 created, 200 replaced.
pub struct Written {
    pub assignment: RoleAssignment,
    pub created: bool,
    pub change: Option<(Change, i64)>,
}

/// Inserts or replaces an assignment in `tx`, bumping the policy version. The caller commits
/// and then hands `change` to the policy.
pub async fn write(
    tx: &impl ConnectionTrait,
    by: &str,
    new: NewAssignment,
) -> Result<Written, ArmError> {
    let now = now_millis();
    let existing = role_assignment::Entity::find_by_id(new.name.clone())
        .one(tx)
        .await?;
    let (condition, condition_text) = match new.condition {
        Some((c, text)) => (Some(c), Some(text)),
        None => (None, None),
    };
    if let Some(old) = existing {
        if old.scope_key != new.scope.key
            || old.principal_id != new.principal_id
            || old.role_definition_key != new.role
        {
            return Err(invalid(
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, role definition and scope are not allowed to be updated.",
            ));
        }
        let mut active: role_assignment::ActiveModel = old.clone().into();
        active.principal_type = Set(new.principal_type);
        active.description = Set(new.description);
        active.condition_version = Set(condition_text.as_ref().map(|_| "2.0".to_owned()));
        active.condition = Set(condition_text);
        active.updated_on = Set(now);
        active.updated_by = Set(by.to_owned());
        let row = active.update(tx).await?;
        let version = policy::bump_version(tx).await?;
        // The old link (with its condition token) goes, the new one comes: a rebuild-free swap.
        let removed = to_assignment(
            &old,
            old.condition
                .as_deref()
                .and_then(|t| Condition::parse(t).ok())
                .map(Arc::new),
        );
        let added = to_assignment(&row, condition);
        return Ok(Written {
            assignment: render(&row),
            created: false,
            change: Some((Change::Replaced(removed, added), version)),
        });
    }
    let duplicate = role_assignment::Entity::find()
        .filter(role_assignment::Column::ScopeKey.eq(new.scope.key.clone()))
        .filter(role_assignment::Column::RoleDefinitionKey.eq(new.role.clone()))
        .filter(role_assignment::Column::PrincipalId.eq(new.principal_id.clone()))
        .one(tx)
        .await?;
    if duplicate.is_some() {
        return Err(exists_error());
    }
    let row = role_assignment::Model {
        name_key: new.name.clone(),
        id: new.scope.child_id("roleAssignments", &new.name),
        scope_key: new.scope.key.clone(),
        scope: new.scope.display.clone(),
        role_definition_key: new.role.clone(),
        role_definition_id: role_definition_id(&new.scope, &new.role),
        principal_id: new.principal_id,
        principal_type: new.principal_type,
        condition_version: condition_text.as_ref().map(|_| "2.0".to_owned()),
        condition: condition_text,
        description: new.description,
        created_on: now,
        updated_on: now,
        created_by: by.to_owned(),
        updated_by: by.to_owned(),
    };
    let active: role_assignment::ActiveModel = row.clone().into();
    role_assignment::Entity::insert(active)
        .exec_without_returning(tx)
        .await
        .map_err(|err| match err.sql_err() {
            // A concurrent PUT of the same triple, or of the same name, won.
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => exists_error(),
            _ => err.into(),
        })?;
    let version = policy::bump_version(tx).await?;
    Ok(Written {
        assignment: render(&row),
        created: true,
        change: Some((Change::Added(to_assignment(&row, condition)), version)),
    })
}

/// The domain service the routes call.
#[derive(Clone)]
pub struct RoleAssignments {
    pub db: DatabaseConnection,
    pub policy: Arc<Policy>,
}

/// `$filter` of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFilter {
    /// At, above and below the scope.
    All,
    /// `atScope()`: at or above.
    AtScope,
    /// `principalId eq '…'` (or `assignedTo('…')`): that principal, at, above or below.
    Principal(String),
}

impl ListFilter {
    pub fn parse(raw: Option<&str>) -> Result<Self, ArmError> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(Self::All);
        };
        if raw.eq_ignore_ascii_case("atScope()") {
            return Ok(Self::AtScope);
        }
        let quoted = |rest: &str| {
            rest.trim()
                .strip_prefix('\'')
                .and_then(|r| r.strip_suffix('\''))
                .and_then(|g| uuid::Uuid::parse_str(g).ok())
                .map(|g| g.to_string())
        };
        let lower = raw.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("principalid eq ")
            && let Some(id) = quoted(rest)
        {
            return Ok(Self::Principal(id));
        }
        if let Some(rest) = lower
            .strip_prefix("assignedto(")
            .and_then(|r| r.strip_suffix(')'))
            && let Some(id) = quoted(rest)
        {
            return Ok(Self::Principal(id));
        }
        Err(invalid(
            "InvalidFilter",
            format!(
                "The $filter '{raw}' is not supported. Use atScope(), principalId eq '{{guid}}' or assignedTo('{{guid}}')."
            ),
        ))
    }
}

impl RoleAssignments {
    pub async fn put(&self, caller: &Caller, new: NewAssignment) -> Result<Written, ArmError> {
        let tx = self.db.begin().await?;
        // The scope is checked, and held, in the assignment's own transaction: a group being
        // deleted refuses it (409), and a delete that starts now waits and then cascades it.
        // Checked before the transaction, an assignment raced past the cascade and survived
        // into a group created later under the same name.
        if let Some(id) = new
            .scope
            .resource
            .as_ref()
            .filter(|id| id.resource_group.is_some())
        {
            crate::lifecycle::require_live(&tx, id, crate::lifecycle::Holder::Scope).await?;
        }
        let mut written = write(&tx, &caller.principal_id, new).await?;
        tx.commit().await?;
        if let Some((change, version)) = written.change.take() {
            self.policy.committed(change, version).await?;
        }
        Ok(written)
    }

    pub async fn get(&self, scope: &AuthzScope, name: &str) -> Result<RoleAssignment, ArmError> {
        self.find(&self.db, scope, name)
            .await?
            .map(|row| render(&row))
            .ok_or_else(|| not_found(name))
    }

    async fn find(
        &self,
        db: &impl ConnectionTrait,
        scope: &AuthzScope,
        name: &str,
    ) -> Result<Option<role_assignment::Model>, ArmError> {
        let Some(name) = uuid::Uuid::parse_str(name).ok().map(|u| u.to_string()) else {
            return Ok(None);
        };
        Ok(role_assignment::Entity::find_by_id(name)
            .one(db)
            .await?
            .filter(|row| row.scope_key == scope.key))
    }

    /// Deletes; `None` when there was nothing (204).
    pub async fn delete(
        &self,
        scope: &AuthzScope,
        name: &str,
    ) -> Result<Option<RoleAssignment>, ArmError> {
        let tx = self.db.begin().await?;
        let Some(row) = self.find(&tx, scope, name).await? else {
            return Ok(None);
        };
        let gone = role_assignment::Entity::delete_by_id(row.name_key.clone())
            .exec(&tx)
            .await?;
        if gone.rows_affected == 0 {
            return Ok(None);
        }
        let version = policy::bump_version(&tx).await?;
        tx.commit().await?;
        let condition = row
            .condition
            .as_deref()
            .and_then(|t| Condition::parse(t).ok())
            .map(Arc::new);
        self.policy
            .committed(Change::Removed(to_assignment(&row, condition)), version)
            .await?;
        Ok(Some(render(&row)))
    }

    /// The assignments of a list: `walk` is the list scope's keys from itself up to the root.
    pub async fn list(
        &self,
        scope: &AuthzScope,
        walk: &[String],
        filter: &ListFilter,
    ) -> Result<Vec<RoleAssignment>, ArmError> {
        let above = role_assignment::Column::ScopeKey.is_in(walk.to_vec());
        let below = if scope.key == "/" {
            Where::all()
        } else {
            // The subtree as a range (`key/` ≤ k < `key0`): LIKE would treat `_` in names as a wildcard.
            Where::all()
                .add(role_assignment::Column::ScopeKey.gte(format!("{}/", scope.key)))
                .add(role_assignment::Column::ScopeKey.lt(format!("{}0", scope.key)))
        };
        let mut query = role_assignment::Entity::find();
        query = match filter {
            ListFilter::AtScope => query.filter(above),
            ListFilter::All => query.filter(Where::any().add(above).add(below)),
            ListFilter::Principal(p) => query
                .filter(role_assignment::Column::PrincipalId.eq(p.clone()))
                .filter(Where::any().add(above).add(below)),
        };
        let rows = query
            .order_by_asc(role_assignment::Column::ScopeKey)
            .order_by_asc(role_assignment::Column::NameKey)
            .all(&self.db)
            .await?;
        Ok(rows.iter().map(render).collect())
    }
}

pub fn not_found(name: &str) -> ArmError {
    ArmError::not_found(
        "RoleAssignmentNotFound",
        format!("The role assignment '{name}' is not found."),
    )
}

/// The creator of a subscription is its Owner: the assignment is written in the transaction
/// that creates the subscription, named after the subscription id.
pub async fn grant_subscription_owner(
    tx: &impl ConnectionTrait,
    subscription_id: &str,
    principal_id: &str,
    principal_type: &str,
) -> Result<i64, ArmError> {
    let scope = AuthzScope::of(&crate::arm::id::ResourceId::subscription(subscription_id));
    let new = NewAssignment {
        name: subscription_id.to_lowercase(),
        scope,
        role: super::roles::OWNER.into(),
        principal_id: principal_id.to_lowercase(),
        principal_type: principal_type.into(),
        description: Some("The subscription's creator.".into()),
        condition: None,
    };
    let written = write(tx, principal_id, new).await?;
    Ok(written.change.map_or(0, |(_, version)| version))
}

/// Writes an assignment unless one of that name exists (a provisioner's repeated attempt).
pub async fn ensure(
    tx: &impl ConnectionTrait,
    by: &str,
    new: NewAssignment,
) -> Result<(), sea_orm::DbErr> {
    if role_assignment::Entity::find_by_id(new.name.clone())
        .one(tx)
        .await?
        .is_some()
    {
        return Ok(());
    }
    write(tx, by, new)
        .await
        .map(|_| ())
        .map_err(|e| sea_orm::DbErr::Custom(e.detail.message))
}
