//! `Microsoft.Storage/storageAccounts` and `Microsoft.KeyVault/vaults`: the dependent resources
//! a hub's provisioner creates in the hub's resource group. Kiln serves them read-only; they
//! are removed with the hub (`managedBy`) or with their resource group.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::arm::registry::{ApiVersions, ResourceKind, TypeDescriptor, TypeSchema, Verbs};
use crate::provisioners::{Applied, ProvisionContext, ProvisionError, Provisioner};
use crate::store::resource;

/// Read-only here: GET and the list by group (a user's PUT or DELETE answers 405).
pub static STORAGE_ACCOUNT: TypeDescriptor = TypeDescriptor {
    namespace: "Microsoft.Storage",
    type_path: &["storageAccounts"],
    name_params: &["accountName"],
    api_versions: ApiVersions::Published,
    tracked: true,
    proxy_tags: false,
    provisioned: false,
    name_rule: "Storage account names are 3-24 lower-case letters and digits.",
    name_valid: valid_storage_name,
    verbs: Verbs::READ_ONLY,
    actions: &[],
    schema: TypeSchema::of::<StorageAccount, DependentProperties>(),
    tag: "StorageAccounts",
};

/// Read-only here: GET and the list by group (a user's PUT or DELETE answers 405).
pub static KEY_VAULT: TypeDescriptor = TypeDescriptor {
    namespace: "Microsoft.KeyVault",
    type_path: &["vaults"],
    name_params: &["vaultName"],
    api_versions: ApiVersions::Published,
    tracked: true,
    proxy_tags: false,
    provisioned: false,
    name_rule: "Key vault names are 3-24 letters, digits and '-', starting with a letter.",
    name_valid: valid_vault_name,
    verbs: Verbs::READ_ONLY,
    actions: &[],
    schema: TypeSchema::of::<Vault, DependentProperties>(),
    tag: "Vaults",
};

/// The wire shape of a dependent resource type, for the OpenAPI document: the members every
/// dependent has, and the ones its type adds after `location`.
macro_rules! dependent_schema {
    ($(#[$doc:meta])* $name:ident, $type_name:tt, {$($(#[$meta:meta])* $field:ident: $ty:ty),* $(,)?}) => {
        $crate::resource_schema!(
            $(#[$doc])*
            #[derive(Debug, Serialize, Deserialize, ToSchema)]
            #[serde(rename_all = "camelCase")]
            $name, $type_name, {
                location: String,
                $($(#[$meta])* $field: $ty,)*
                tags: Option<BTreeMap<String, String>>,
                #[schema(read_only)]
                managed_by: Option<String>,
                properties: Option<DependentProperties>,
            }
        );
    };
}

dependent_schema!(
    /// A storage account a hub's provisioner created (`managedBy` names the hub).
    StorageAccount,
    "Microsoft.Storage/storageAccounts",
    { kind: Option<String>, sku: Option<Value> }
);

dependent_schema!(
    /// A key vault a hub's provisioner created (`managedBy` names the hub).
    Vault,
    "Microsoft.KeyVault/vaults",
    {}
);

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependentProperties {
    #[schema(read_only)]
    pub provisioning_state: Option<String>,
    /// What the provisioner set, as stored.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

pub fn valid_storage_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

pub fn valid_vault_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Storage accounts: the engine's defaults, with their root in the object store behind them.
pub struct StorageAccounts;

#[async_trait]
impl ResourceKind for StorageAccounts {
    fn descriptor(&self) -> &'static TypeDescriptor {
        &STORAGE_ACCOUNT
    }

    fn provisioner(&self) -> Option<Arc<dyn Provisioner>> {
        Some(Arc::new(StorageAccountProvisioner))
    }
}

/// A storage account's backend is its root in the object store.
pub struct StorageAccountProvisioner;

#[async_trait]
impl Provisioner for StorageAccountProvisioner {
    async fn apply(
        &self,
        cx: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<Applied, ProvisionError> {
        cx.storage
            .ensure_account(&row.name, &row.id)
            .await
            .map_err(ProvisionError::from)?;
        Ok(Applied::default())
    }

    async fn remove(
        &self,
        cx: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<(), ProvisionError> {
        cx.storage
            .remove(&[&row.name])
            .await
            .map_err(ProvisionError::from)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_azure_rules() {
        assert!(super::valid_storage_name("sthub1a2b3c4d"));
        assert!(!super::valid_storage_name("St-hub"));
        assert!(super::valid_vault_name("kv-hub-1a2b3c4d"));
        assert!(!super::valid_vault_name("1kv"));
        assert!(!super::valid_vault_name("kv-"));
    }
}
