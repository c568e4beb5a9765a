//! The ARM shape role assignments are served in, and the ids they show.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::authz::scope::AuthzScope;
use crate::error::{ArmError, ErrorCode};
use crate::store::role_assignment;

pub const TYPE: &str = "Microsoft.Authorization/roleAssignments";

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

pub fn not_found(name: &str) -> ArmError {
    ArmError::new(
        ErrorCode::RoleAssignmentNotFound,
        format!("The role assignment '{name}' is not found."),
    )
}
