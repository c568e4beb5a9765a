//! What stands behind a workspace. A hub (and a plain workspace) gets a storage account and a
//! key vault in its resource group unless it names its own, and the account's root in the
//! object store. A project gets its four containers in its hub's account and a
//! system-assigned identity. Names are deterministic, so a repeated attempt finds its work done.

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::arm::id::ResourceId;
use crate::error::ErrorCode;
use crate::provisioners::{Applied, Dependent, ProvisionContext, ProvisionError, Provisioner};
use crate::resources::dependents::{KEY_VAULT, STORAGE_ACCOUNT};
use crate::store::{resource, resources, subscriptions};

/// The suffixes of a project's containers: `{workspaceId}-azureml` and so on.
pub const PROJECT_CONTAINERS: [&str; 4] = ["azureml", "blobstore", "code", "file"];

pub struct WorkspaceProvisioner;

/// The types of a hub's dependents: namespace and type segment.
const STORAGE: (&str, &str) = (STORAGE_ACCOUNT.namespace, "storageAccounts");
const VAULT: (&str, &str) = (KEY_VAULT.namespace, "vaults");

/// FNV-1a: a stable hash (unlike `DefaultHasher`) so names survive upgrades.
fn stable_hash(text: &str) -> String {
    crate::hash::fnv1a_hex(text.as_bytes())[..8].to_owned()
}

/// `st{name}{hash}` (≤ 24 lower-case letters and digits) and `kv-{name}-{hash}` (≤ 24).
/// `hub_key` is the hub's lower-cased id.
pub fn dependent_names(hub_key: &str, hub_name: &str) -> (String, String) {
    let clean: String = hub_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let hash = stable_hash(hub_key);
    let storage = format!("st{}{hash}", &clean[..clean.len().min(14)]);
    let vault = format!("kv-{}-{hash}", &clean[..clean.len().min(12)]);
    (storage, vault)
}

fn property<'a>(row: &'a resource::Model, name: &str) -> Option<&'a str> {
    row.body
        .get("properties")
        .and_then(|p| p.get(name))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The account name at the end of a storage account id.
fn account_name(storage_account_id: &str) -> &str {
    storage_account_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(storage_account_id)
}

/// The resource `name` of type `(namespace, segment)` that the hub's provisioner creates in
/// the hub's group and location.
fn dependent_of(
    hub: &resource::Model,
    hub_id: &ResourceId,
    (namespace, segment): (&str, &str),
    name: &str,
    properties: Value,
) -> Dependent {
    let group = hub_id.resource_group.as_deref().unwrap_or_default();
    Dependent {
        id: ResourceId::resource(&hub_id.subscription, group, namespace, &[(segment, name)]),
        location: hub.location.clone(),
        kind: None,
        sku: None,
        properties: properties.as_object().cloned().unwrap_or_default(),
    }
}

fn db_error(err: impl std::fmt::Display) -> ProvisionError {
    ProvisionError::retry(ErrorCode::DatabaseUnavailable, err.to_string())
}

pub(crate) async fn tenant_of(
    cx: &ProvisionContext<'_>,
    row: &resource::Model,
) -> Result<String, ProvisionError> {
    let found = subscriptions::find(cx.db, &row.subscription_key)
        .await
        .map_err(db_error)?;
    found.map(|s| s.tenant_id).ok_or_else(|| {
        ProvisionError::fail(
            ErrorCode::SubscriptionNotFound,
            format!("The subscription of '{}' no longer exists.", row.id),
        )
    })
}

impl WorkspaceProvisioner {
    async fn apply_hub(
        &self,
        cx: &ProvisionContext<'_>,
        hub: &resource::Model,
    ) -> Result<Applied, ProvisionError> {
        let id = ResourceId::parse(&hub.id, cx.vocabulary).ok_or_else(|| {
            ProvisionError::fail(ErrorCode::InvalidResourceId, "The hub id is invalid.")
        })?;
        let (storage_name, vault_name) = dependent_names(&hub.id_key, &hub.name);
        let mut applied = Applied::default();
        let storage_id = match property(hub, "storageAccount") {
            Some(given) => given.to_owned(),
            None => {
                let properties = json!({
                    "primaryEndpoints": {"blob": cx.storage.account_endpoint(&storage_name)},
                    "isHnsEnabled": false,
                    "supportsHttpsTrafficOnly": true,
                });
                let account = Dependent {
                    kind: Some("StorageV2".into()),
                    sku: Some(json!({"name": "Standard_LRS", "tier": "Standard"})),
                    ..dependent_of(hub, &id, STORAGE, &storage_name, properties)
                };
                applied.create(account)
            }
        };
        cx.storage
            .ensure_account(account_name(&storage_id), &hub.id)
            .await
            .map_err(ProvisionError::from)?;
        let vault_id = match property(hub, "keyVault") {
            Some(given) => given.to_owned(),
            None => {
                let properties = json!({
                    "tenantId": tenant_of(cx, hub).await?,
                    "sku": {"family": "A", "name": "standard"},
                    "enableRbacAuthorization": true,
                    "vaultUri": format!("https://{vault_name}.vault.azure.net/"),
                });
                applied.create(dependent_of(hub, &id, VAULT, &vault_name, properties))
            }
        };
        applied
            .properties
            .insert("storageAccount".into(), json!(storage_id));
        applied
            .properties
            .insert("keyVault".into(), json!(vault_id));
        Ok(applied)
    }

    /// The hub's storage account name and id, once the hub has one.
    async fn hub_account(
        &self,
        cx: &ProvisionContext<'_>,
        project: &resource::Model,
    ) -> Result<Option<(String, String)>, ProvisionError> {
        let Some(hub_key) = &project.depends_on_key else {
            return Ok(None);
        };
        let hub = resources::find(cx.db, hub_key).await.map_err(db_error)?;
        Ok(hub
            .as_ref()
            .and_then(|h| property(h, "storageAccount"))
            .map(|id| (account_name(id).to_owned(), id.to_owned())))
    }

    async fn apply_project(
        &self,
        cx: &ProvisionContext<'_>,
        project: &resource::Model,
    ) -> Result<Applied, ProvisionError> {
        let workspace_id = property(project, "workspaceId").unwrap_or(&project.name);
        let Some((account, account_id)) = self.hub_account(cx, project).await? else {
            // The hub is still being provisioned: its storage account comes with it.
            return Err(ProvisionError::retry(
                ErrorCode::HubNotReady,
                format!(
                    "The hub of '{}' has no storage account yet; it is still being provisioned.",
                    project.id
                ),
            ));
        };
        for suffix in PROJECT_CONTAINERS {
            cx.storage
                .ensure_container(&account, &format!("{workspace_id}-{suffix}"), &project.id)
                .await
                .map_err(ProvisionError::from)?;
        }
        let mut applied = Applied::default();
        let identity = project.body.get("identity");
        let has_principal = identity
            .and_then(|i| i.get("principalId"))
            .and_then(Value::as_str)
            .is_some();
        if !has_principal {
            let user_assigned = identity
                .and_then(|i| i.get("userAssignedIdentities"))
                .cloned();
            let mut created = json!({
                "type": if user_assigned.is_some() { "SystemAssigned,UserAssigned" } else { "SystemAssigned" },
                "principalId": uuid::Uuid::new_v4().to_string(),
                "tenantId": tenant_of(cx, project).await?,
            });
            if let Some(user_assigned) = user_assigned {
                created["userAssignedIdentities"] = user_assigned;
            }
            applied.identity = Some(created);
        }
        let principal = applied
            .identity
            .as_ref()
            .or(identity)
            .and_then(|i| i.get("principalId"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        applied.role_assignments.extend(container_access(
            cx,
            &account_id,
            &principal,
            workspace_id,
        ));
        Ok(applied)
    }
}

fn is_project(row: &resource::Model) -> bool {
    row.kind_key.as_deref() == Some("project")
}

#[async_trait]
impl Provisioner for WorkspaceProvisioner {
    async fn apply(
        &self,
        cx: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<Applied, ProvisionError> {
        if is_project(row) {
            self.apply_project(cx, row).await
        } else {
            self.apply_hub(cx, row).await
        }
    }

    /// A project's containers go here; a hub's storage account and key vault are its managed
    /// dependents, which the worker removes through their own provisioners.
    async fn remove(
        &self,
        cx: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<(), ProvisionError> {
        if !is_project(row) {
            return Ok(());
        }
        let Some(workspace_id) = property(row, "workspaceId") else {
            return Ok(());
        };
        let Some((account, _)) = self.hub_account(cx, row).await? else {
            return Ok(());
        };
        for suffix in PROJECT_CONTAINERS {
            cx.storage
                .remove(&[&account, &format!("{workspace_id}-{suffix}")])
                .await
                .map_err(ProvisionError::from)?;
        }
        Ok(())
    }
}

/// The project identity's access to its own containers in the hub's storage account: Storage
/// Blob Data Contributor on the account, on the condition that a container's name starts with
/// the project's workspaceId (its containers are `{workspaceId}-…`; a sibling's are not).
fn container_access(
    cx: &ProvisionContext<'_>,
    account_id: &str,
    principal: &str,
    workspace_id: &str,
) -> Option<crate::authz::assignments::NewAssignment> {
    use crate::authz::condition::Condition;
    let principal_guid = uuid::Uuid::parse_str(principal).ok()?;
    let account = ResourceId::parse(account_id, cx.vocabulary)?;
    let text = format!(
        "((!(ActionMatches{{'Microsoft.Storage/storageAccounts/blobServices/containers/*'}})) OR \
         (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringStartsWith '{workspace_id}'))"
    );
    let condition = Condition::parse(&text).ok()?;
    Some(crate::authz::assignments::NewAssignment {
        // Deterministic, so a repeated attempt finds it written.
        name: uuid::Uuid::from_u128(principal_guid.as_u128() ^ CONTAINER_ACCESS_SALT).to_string(),
        scope: crate::authz::scope::AuthzScope::of(&account),
        role: crate::authz::roles::STORAGE_BLOB_DATA_CONTRIBUTOR.into(),
        principal_id: principal_guid.to_string(),
        principal_type: "ServicePrincipal".into(),
        description: Some(format!("Project {workspace_id}: its own containers only.")),
        condition: Some((std::sync::Arc::new(condition), text)),
    })
}

/// Mixed into the identity's GUID to name its container assignment.
const CONTAINER_ACCESS_SALT: u128 = 0x6b69_6c6e_2d63_6f6e_7461_696e_6572_7321;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependent_names_are_stable_and_valid() {
        let key = "/subscriptions/s/resourcegroups/g/providers/microsoft.machinelearningservices/workspaces/my_hub-with-a-long-name";
        let (storage, vault) = dependent_names(key, "My_Hub-with-a-long-name");
        assert_eq!(
            dependent_names(key, "My_Hub-with-a-long-name"),
            (storage.clone(), vault.clone())
        );
        assert_ne!(
            dependent_names("/other", "My_Hub-with-a-long-name").0,
            storage
        );
        assert!(
            crate::resources::dependents::valid_storage_name(&storage),
            "{storage}"
        );
        assert!(
            crate::resources::dependents::valid_vault_name(&vault),
            "{vault}"
        );
        assert!(storage.starts_with("stmyhubwithalon"));
        assert_eq!(
            account_name("/subscriptions/s/x/storageAccounts/acct"),
            "acct"
        );
    }
}
