//! Hub and project rules: a project names a hub of its subscription, inherits the hub's
//! storage, key vault and network, and keeps its own immutable workspaceId.

use async_trait::async_trait;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use serde_json::{Map, Value, json};

use super::DESCRIPTOR;
use crate::arm::envelope::{self, Spec};
use crate::arm::id::{PathVocabulary, ResourceId};
use crate::arm::registry::{PrepareContext, Prepared, Rendered, ResourceKind, TypeDescriptor};
use crate::error::{ArmError, ErrorCode};
use crate::lifecycle::{BLOCKERS_NAMED, ProvisioningState, refuse_delete_while};
use crate::provisioners::Provisioner;
use crate::store::resource;
use crate::store::resources::{self, RowLock};

const KINDS: &[&str] = &["Default", "Hub", "Project", "FeatureStore"];

/// Server-set properties: a client's values are ignored.
const READ_ONLY: &[&str] = &[
    "provisioningState",
    "workspaceId",
    "mlFlowTrackingUri",
    "notebookInfo",
    "privateEndpointConnections",
    "privateLinkCount",
    "serviceProvisionedResourceGroup",
    "storageHnsEnabled",
    "tenantId",
    "associatedWorkspaces",
    "discoveryUrl",
];

/// What a project takes from its hub (read-only on the project).
const INHERITED: &[&str] = &["storageAccount", "keyVault", "managedNetwork"];

/// Hub properties fixed once set.
const IMMUTABLE_ONCE_SET: &[&str] = &["storageAccount", "keyVault"];

pub struct Workspaces;

fn is_kind(spec: &Spec, kind: &str) -> bool {
    spec.kind
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case(kind))
}

fn change_not_allowed(property: &str) -> ArmError {
    ArmError::new(
        ErrorCode::PropertyChangeNotAllowed,
        format!("Changing property '{property}' is not allowed."),
    )
    .with_target(format!("properties.{property}"))
}

fn same_id(a: &Value, b: &Value) -> bool {
    match (a.as_str(), b.as_str()) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

impl Workspaces {
    /// Resolves `properties.hubResourceId` to an existing hub of the same subscription.
    async fn resolve_hub(
        &self,
        cx: &PrepareContext<'_>,
        raw: Option<&Value>,
    ) -> Result<resource::Model, ArmError> {
        let raw = match raw {
            None | Some(Value::Null) => {
                return Err(ArmError::new(
                    ErrorCode::HubResourceIdRequired,
                    "A workspace of kind 'Project' requires properties.hubResourceId, the id of its hub.",
                )
                .with_target("properties.hubResourceId"));
            }
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                return Err(ArmError::new(
                    ErrorCode::InvalidHubResourceId,
                    "properties.hubResourceId must be a string.",
                )
                .with_target("properties.hubResourceId"));
            }
        };
        let hub_id = ResourceId::parse(raw, cx.vocabulary)
            .filter(|id| id.is_top_level() && id.type_key() == DESCRIPTOR.type_key())
            .ok_or_else(|| {
                ArmError::new(
                    ErrorCode::InvalidHubResourceId,
                    format!(
                        "'{raw}' is not the id of a Microsoft.MachineLearningServices workspace."
                    ),
                )
                .with_target("properties.hubResourceId")
            })?;
        if !hub_id
            .subscription
            .eq_ignore_ascii_case(&cx.id.subscription)
        {
            return Err(ArmError::new(
                ErrorCode::HubInDifferentSubscription,
                format!(
                    "The hub '{raw}' must be in the project's subscription '{}'.",
                    cx.id.subscription
                ),
            )
            .with_target("properties.hubResourceId"));
        }
        // FOR KEY SHARE: a concurrent delete of the hub waits for this project and then refuses.
        let hub = resources::lock(cx.tx, &hub_id.key(), RowLock::KeyShare).await?;
        let Some(hub) = hub else {
            return Err(ArmError::new(
                ErrorCode::HubNotFound,
                format!("The hub '{raw}' does not exist."),
            )
            .with_target("properties.hubResourceId"));
        };
        if hub.kind_key.as_deref() != Some("hub") {
            return Err(ArmError::new(
                ErrorCode::NotAHub,
                format!("The workspace '{raw}' is not of kind 'Hub'."),
            )
            .with_target("properties.hubResourceId"));
        }
        let hub_group = resources::lock(cx.tx, &hub.group_key, RowLock::KeyShare).await?;
        let group_deleting =
            hub_group.is_some_and(|g| g.provisioning_state == ProvisioningState::Deleting.as_str());
        if hub.provisioning_state == ProvisioningState::Deleting.as_str() || group_deleting {
            return Err(ArmError::new(
                ErrorCode::HubBeingDeleted,
                format!("The hub '{raw}' (or its resource group) is being deleted."),
            ));
        }
        Ok(hub)
    }
}

/// What a caller needs on a hub to put a project under it.
pub const HUB_JOIN: &str = "Microsoft.MachineLearningServices/workspaces/hubs/join/action";

#[async_trait]
impl ResourceKind for Workspaces {
    fn descriptor(&self) -> &'static TypeDescriptor {
        &DESCRIPTOR
    }

    /// A project joins its hub: the caller needs `hubs/join/action` there, checked before the
    /// hub is looked up, so a hub elsewhere is neither revealed nor bound to.
    fn provisioner(&self) -> Option<std::sync::Arc<dyn Provisioner>> {
        Some(std::sync::Arc::new(super::WorkspaceProvisioner))
    }

    fn linked(&self, body: &Value, vocabulary: &PathVocabulary) -> Vec<(ResourceId, String)> {
        let is_project = body["kind"]
            .as_str()
            .is_some_and(|k| k.eq_ignore_ascii_case("project"));
        body["properties"]["hubResourceId"]
            .as_str()
            .filter(|_| is_project)
            .and_then(|raw| ResourceId::parse(raw, vocabulary))
            .map(|hub| vec![(hub, HUB_JOIN.to_owned())])
            .unwrap_or_default()
    }

    async fn prepare(&self, cx: &PrepareContext<'_>, mut spec: Spec) -> Result<Prepared, ArmError> {
        let existing = cx.existing;
        let requested = spec.kind.clone().unwrap_or_else(|| "Default".into());
        if !KINDS.iter().any(|k| k.eq_ignore_ascii_case(&requested)) {
            return Err(ArmError::new(
                ErrorCode::InvalidWorkspaceKind,
                format!(
                    "The workspace kind '{requested}' is not supported. Supported kinds: {}.",
                    KINDS.join(", ")
                ),
            )
            .with_target("kind"));
        }
        match existing.and_then(|e| e.kind.as_deref()) {
            Some(old) if !old.eq_ignore_ascii_case(&requested) => {
                return Err(ArmError::new(
                    ErrorCode::PropertyChangeNotAllowed,
                    "Changing property 'kind' is not allowed.",
                )
                .with_target("kind"));
            }
            // Keep the casing the resource was created with.
            Some(old) => spec.kind = Some(old.to_owned()),
            None => spec.kind = Some(requested),
        }
        let properties = &mut spec.properties;
        envelope::strip(properties, READ_ONLY);
        let workspace_id = existing
            .and_then(|e| e.properties.get("workspaceId").cloned())
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        properties.insert("workspaceId".into(), workspace_id);

        let mut depends_on = None;
        if is_kind(&spec, "Project") {
            let hub = self
                .resolve_hub(cx, spec.properties.get("hubResourceId"))
                .await?;
            let old_hub = existing.and_then(|e| e.properties.get("hubResourceId"));
            if old_hub.is_some_and(|old| !same_id(old, &json!(hub.id))) {
                return Err(change_not_allowed("hubResourceId"));
            }
            for key in INHERITED {
                spec.properties.remove(*key);
            }
            spec.properties
                .insert("hubResourceId".into(), json!(hub.id));
            depends_on = Some(hub.id_key);
            // The provisioner gave the project its identity: a replace without one keeps it.
            if spec.identity.is_none() {
                spec.identity = existing.and_then(|e| e.identity.clone());
            }
        } else {
            spec.properties.remove("hubResourceId");
            for key in IMMUTABLE_ONCE_SET {
                let old = existing
                    .and_then(|e| e.properties.get(*key))
                    .filter(|v| !v.is_null());
                match (old, spec.properties.get(*key)) {
                    (Some(old), Some(new)) if !same_id(old, new) => {
                        return Err(change_not_allowed(key));
                    }
                    (Some(old), None) => {
                        spec.properties.insert((*key).into(), old.clone());
                    }
                    _ => {}
                }
            }
        }
        Ok(Prepared {
            spec,
            depends_on,
            companion: None,
        })
    }

    async fn check_delete(
        &self,
        tx: &DatabaseTransaction,
        row: &resource::Model,
    ) -> Result<(), ArmError> {
        if row.kind_key.as_deref() != Some("hub") {
            return Ok(());
        }
        let projects = resources::dependents_of(tx, &row.id_key, BLOCKERS_NAMED).await?;
        refuse_delete_while(&projects, ErrorCode::HubHasProjects, |projects| {
            format!(
                "The hub '{}' still has projects ({projects}). Delete its projects first.",
                row.name
            )
        })
    }

    async fn decorate(
        &self,
        db: &DatabaseConnection,
        items: &mut [Rendered],
    ) -> Result<(), ArmError> {
        let hub_keys: Vec<String> = items
            .iter()
            .filter(|i| i.row.kind_key.as_deref() == Some("hub"))
            .map(|i| i.row.id_key.clone())
            .collect();
        let project_hubs: Vec<String> = items
            .iter()
            .filter_map(|i| i.row.depends_on_key.clone())
            .collect();
        let projects: Vec<(String, String)> = if hub_keys.is_empty() {
            vec![]
        } else {
            resources::depending_on_any(db, hub_keys)
                .await?
                .into_iter()
                .filter_map(|(hub, id)| hub.map(|h| (h, id)))
                .collect()
        };
        let hubs: Vec<resource::Model> = if project_hubs.is_empty() {
            vec![]
        } else {
            resources::by_keys(db, project_hubs).await?
        };
        for item in items.iter_mut() {
            let location = item.row.location.clone().unwrap_or_default();
            let id = item.row.id.clone();
            let Some(properties) = envelope::properties_mut(&mut item.json) else {
                continue;
            };
            properties.insert(
                "mlFlowTrackingUri".into(),
                json!(format!(
                    "azureml://{location}.api.azureml.ms/mlflow/v1.0{id}"
                )),
            );
            if item.row.kind_key.as_deref() == Some("hub") {
                let mut associated: Vec<&str> = projects
                    .iter()
                    .filter(|(hub, _)| *hub == item.row.id_key)
                    .map(|(_, p)| p.as_str())
                    .collect();
                associated.sort_unstable();
                properties.insert("associatedWorkspaces".into(), json!(associated));
            }
            if let Some(hub) = item
                .row
                .depends_on_key
                .as_ref()
                .and_then(|k| hubs.iter().find(|h| h.id_key == *k))
            {
                let hub_properties: Map<String, Value> = hub
                    .body
                    .get("properties")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for key in INHERITED {
                    if let Some(value) = hub_properties.get(*key) {
                        properties.insert((*key).into(), value.clone());
                    }
                }
            }
        }
        Ok(())
    }
}
