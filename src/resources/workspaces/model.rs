//! The wire shapes of a workspace, for the OpenAPI document (resource-shapes.md §2). The
//! engine stores and returns the JSON as sent, less read-only members, so unknown writable
//! properties of newer api-versions pass through.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

crate::resource_schema!(
    /// A workspace: hub, project or default.
    #[derive(Debug, Serialize, Deserialize, ToSchema)]
    Workspace,
    "Microsoft.MachineLearningServices/workspaces",
    {
        location: String,
        /// Hub, Project or Default (compared case-insensitively).
        kind: Option<String>,
        tags: Option<BTreeMap<String, String>>,
        #[schema(read_only)]
        etag: Option<String>,
        identity: Option<serde_json::Value>,
        sku: Option<serde_json::Value>,
        #[serde(rename = "systemData")]
        #[schema(read_only)]
        system_data: Option<serde_json::Value>,
        properties: WorkspaceProperties,
    }
);

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceProperties {
    pub friendly_name: Option<String>,
    pub description: Option<String>,
    /// Project only: the id of its hub, in the same subscription. Immutable.
    pub hub_resource_id: Option<String>,
    /// Immutable once set; a project shows its hub's.
    pub storage_account: Option<String>,
    /// Immutable once set; a project shows its hub's.
    pub key_vault: Option<String>,
    pub application_insights: Option<String>,
    pub container_registry: Option<String>,
    pub public_network_access: Option<String>,
    /// Hub-level network settings; a project shows its hub's.
    pub managed_network: Option<serde_json::Value>,
    #[schema(read_only)]
    pub workspace_id: Option<String>,
    /// On a hub: the ids of its projects.
    #[schema(read_only)]
    pub associated_workspaces: Option<Vec<String>>,
    #[schema(read_only)]
    pub ml_flow_tracking_uri: Option<String>,
    /// Creating, Updating, Deleting, Succeeded, Failed or Canceled.
    #[schema(read_only)]
    pub provisioning_state: Option<String>,
    /// Properties of other api-versions, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}
