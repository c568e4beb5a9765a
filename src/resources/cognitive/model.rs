//! The wire shapes of Cognitive Services accounts and their projects, for the OpenAPI
//! document and the check every stored write passes (resource-shapes.md §5). Properties the
//! shapes do not name are kept as sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The envelope of a tracked Cognitive Services resource: the members both types have, and
/// the ones a type adds after `location`.
macro_rules! tracked_schema {
    ($(#[$doc:meta])* $name:ident, $type_name:tt, $properties:ty, {$($(#[$meta:meta])* $field:ident: $ty:ty),* $(,)?}) => {
        $crate::resource_schema!(
            $(#[$doc])*
            #[derive(Debug, Serialize, Deserialize, ToSchema)]
            $name, $type_name, {
                location: String,
                $($(#[$meta])* $field: $ty,)*
                identity: Option<Value>,
                tags: Option<BTreeMap<String, String>>,
                #[schema(read_only)]
                etag: Option<String>,
                #[serde(rename = "systemData")]
                #[schema(read_only)]
                system_data: Option<Value>,
                properties: Option<$properties>,
            }
        );
    };
}

tracked_schema!(
    /// A Cognitive Services account: a Foundry resource (`AIServices`), Azure OpenAI
    /// (`OpenAI`), or another kind, kept as given.
    Account,
    "Microsoft.CognitiveServices/accounts",
    AccountProperties,
    {
        /// `AIServices`, `OpenAI`, or another Cognitive Services kind.
        kind: Option<String>,
        /// `{name: "S0"}` (or `F0`).
        sku: Option<Value>,
    }
);

tracked_schema!(
    /// A Foundry project of an account that allows project management.
    Project,
    "Microsoft.CognitiveServices/accounts/projects",
    ProjectProperties,
    {}
);

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountProperties {
    /// The account's subdomain: unique across Kiln, held until the account is purged.
    pub custom_sub_domain_name: Option<String>,
    /// `Enabled` or `Disabled`.
    pub public_network_access: Option<String>,
    pub network_acls: Option<Value>,
    /// When true, keys are not served (`listKeys` is refused).
    pub disable_local_auth: Option<bool>,
    /// A Foundry resource that can own projects.
    pub allow_project_management: Option<bool>,
    /// The project the account's data plane answers by default (its first one unless set).
    pub default_project: Option<String>,
    pub associated_projects: Option<Vec<String>>,
    /// With a soft-deleted account of the same name: bring it back.
    pub restore: Option<bool>,
    #[schema(read_only)]
    pub endpoint: Option<String>,
    #[schema(read_only)]
    pub endpoints: Option<BTreeMap<String, String>>,
    #[schema(read_only)]
    pub internal_id: Option<String>,
    #[schema(read_only)]
    pub date_created: Option<String>,
    #[schema(read_only)]
    pub capabilities: Option<Vec<Value>>,
    /// Accepted, Creating, Deleting, Succeeded, Failed or Canceled.
    #[schema(read_only)]
    pub provisioning_state: Option<String>,
    /// Properties of other api-versions, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectProperties {
    pub display_name: Option<String>,
    pub description: Option<String>,
    #[schema(read_only)]
    pub endpoints: Option<BTreeMap<String, String>>,
    /// Whether it is its account's `defaultProject`.
    #[schema(read_only)]
    pub is_default: Option<bool>,
    #[schema(read_only)]
    pub provisioning_state: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// What `listKeys` answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountKeys {
    pub key1: String,
    pub key2: String,
}
