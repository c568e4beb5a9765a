//! The wire shapes of a connection, for the OpenAPI document (resource-shapes.md §3). The
//! engine stores the JSON as sent less read-only members and sealed secrets. No `Debug`:
//! `credentials` may hold secrets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

crate::resource_schema!(
    /// A connection (`WorkspaceConnectionPropertiesV2BasicResource`).
    #[derive(Serialize, Deserialize, ToSchema)]
    Connection,
    "Microsoft.MachineLearningServices/workspaces/connections",
    {
        #[serde(rename = "systemData")]
        #[schema(read_only)]
        system_data: Option<serde_json::Value>,
        properties: ConnectionProperties,
    }
);

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionProperties {
    /// PAT, ManagedIdentity, UsernamePassword, None, SAS, AccountKey, ServicePrincipal,
    /// AccessKey, ApiKey, CustomKeys, OAuth2, AAD, … (extensible).
    pub auth_type: String,
    /// AzureOpenAI, AIServices, CognitiveSearch, … (extensible; stored as given).
    pub category: Option<String>,
    pub target: Option<String>,
    /// On a hub: every project of the hub may read it.
    pub is_shared_to_all: Option<bool>,
    /// On a hub: the projects (full ARM id or workspaceId) or principals and groups (object
    /// ids) it is shared with. Not shown when read through a project.
    pub shared_user_list: Option<Vec<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub expiry_time: Option<String>,
    pub use_workspace_managed_identity: Option<bool>,
    /// The shape depends on authType. Secret fields (keys, passwords, tokens, client
    /// secrets) are write-only: only `listsecrets` returns them. A write that changes
    /// `target` or `authUrl` must give them again.
    pub credentials: Option<serde_json::Value>,
    /// 2020-08-01 clients: the secret, write-only like credentials.
    #[schema(write_only)]
    pub value: Option<String>,
    pub value_format: Option<String>,
    /// The workspace the connection belongs to (a project's list includes its hub's).
    #[schema(read_only)]
    pub created_by_workspace_arm_id: Option<String>,
    #[schema(read_only)]
    pub provisioning_state: Option<String>,
    /// Properties of other api-versions and categories, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}
