//! What a PUT of a role assignment may say: the checks of its body, and the request
//! attributes conditions on writing assignments see.

use std::sync::Arc;

use serde_json::Value;

use super::shape::RoleAssignmentProperties;
use crate::authz::condition::{AccessRequest, AttributeSource, Condition};
use crate::authz::scope::{AuthzScope, guid_of, properties_of};
use crate::error::{ArmError, ErrorCode};

pub const PRINCIPAL_TYPES: [&str; 4] = ["User", "Group", "ServicePrincipal", "ForeignGroup"];

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

/// The attributes of an assignment for conditions that delegate role assignment ("may
/// assign any role except Owner"): `@Request[…]` of the one a write creates, `@Resource[…]` of
/// the one a delete removes.
pub struct AssignmentAttributes {
    action: String,
    source: AttributeSource,
    role: String,
    principal: String,
    principal_type: String,
}

impl AssignmentAttributes {
    /// The `@Resource[…]` attributes of deleting a stored assignment (its role as a GUID).
    pub fn of_stored(action: &str, assignment: &super::RoleAssignment) -> Self {
        let properties = &assignment.properties;
        let role = properties
            .role_definition_id
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_lowercase();
        Self {
            action: action.to_owned(),
            source: AttributeSource::Resource,
            role,
            principal: properties.principal_id.clone(),
            principal_type: properties.principal_type.clone().unwrap_or_default(),
        }
    }
}

impl AccessRequest for AssignmentAttributes {
    fn action(&self) -> &str {
        &self.action
    }

    fn attribute(&self, source: AttributeSource, name: &str) -> Vec<String> {
        if source != self.source {
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
    pub fn request_attributes(&self, action: &str) -> AssignmentAttributes {
        AssignmentAttributes {
            action: action.to_owned(),
            source: AttributeSource::Request,
            role: self.role.clone(),
            principal: self.principal_id.clone(),
            principal_type: self.principal_type.clone(),
        }
    }
}

pub(super) fn invalid(code: ErrorCode, message: impl Into<String>) -> ArmError {
    ArmError::new(code, message)
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
                ErrorCode::InvalidRoleAssignmentId,
                format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."),
            )
        })?
        .to_string();
    let props: RoleAssignmentProperties = properties_of(body)?;
    let role = guid_of(&props.role_definition_id)
        .filter(|g| known_role(g))
        .ok_or_else(|| {
            invalid(
                ErrorCode::RoleDefinitionDoesNotExist,
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
                ErrorCode::InvalidPrincipalId,
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
                    ErrorCode::InvalidPrincipalType,
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
            ErrorCode::InvalidRoleAssignmentScope,
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
                ErrorCode::InvalidConditionVersion,
                "conditionVersion is set, but there is no condition.",
            ));
        }
        (Some(text), version) => {
            if version.is_some_and(|v| v != "2.0") {
                return Err(invalid(
                    ErrorCode::InvalidConditionVersion,
                    format!(
                        "The condition version '{}' is not supported. Use '2.0'.",
                        version.unwrap_or_default()
                    ),
                )
                .with_target("properties.conditionVersion"));
            }
            let parsed = Condition::parse(text).map_err(|e| {
                invalid(
                    ErrorCode::InvalidCondition,
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
