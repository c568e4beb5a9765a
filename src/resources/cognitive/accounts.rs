//! Account rules: a kind and a sku from the catalogue, a custom subdomain unique across Kiln
//! (held also by a soft-deleted account, until its purge), immutable identifiers, and the
//! data-plane endpoints derived from the subdomain when the account is read.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::DatabaseConnection;
use serde_json::{Map, Value, json};

use super::keys::{self, KeyName};
use super::platform::skus_of_kind;
use super::{ACCOUNTS, PROJECTS, SUBDOMAIN_REALM, deleted};
use crate::arm::envelope::{self, Spec};
use crate::arm::registry::{
    ActionAnswer, ActionDecl, ActionTarget, PrepareContext, Prepared, Rendered, ResourceKind,
    TypeDescriptor,
};
use crate::config::TypeSettings;
use crate::error::{ArmError, ErrorCode};
use crate::provisioners::Provisioner;
use crate::store::{deleted_accounts, reserved_names, resource, resources};

/// Server-set properties: a client's values are ignored.
const READ_ONLY: &[&str] = &[
    "provisioningState",
    "endpoint",
    "endpoints",
    "internalId",
    "dateCreated",
    "capabilities",
    "callRateLimit",
    "quotaLimit",
    "isMigrated",
    "skuChangeInfo",
    "deletionDate",
    "scheduledPurgeDate",
    "associatedProjects",
];

pub struct Accounts {
    pub(super) settings: Arc<TypeSettings>,
}

fn property<'a>(spec: &'a Spec, name: &str) -> Option<&'a Value> {
    spec.properties.get(name).filter(|v| !v.is_null())
}

/// `restore` is a request, not a property: taken out of what is stored.
fn take_restore(spec: &mut Spec) -> bool {
    spec.properties
        .remove("restore")
        .is_some_and(|v| v.as_bool() == Some(true))
}

/// A DNS label of 2-64 letters, digits and '-', starting and ending with a letter or digit.
fn valid_subdomain(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn check_kind(spec: &mut Spec, existing: Option<&Spec>) -> Result<(), ArmError> {
    let Some(requested) = spec.kind.clone().filter(|k| !k.trim().is_empty()) else {
        if let Some(old) = existing.and_then(|e| e.kind.clone()) {
            spec.kind = Some(old);
            return Ok(());
        }
        return Err(ArmError::new(
            ErrorCode::KindRequired,
            "The account needs a kind, such as 'AIServices' or 'OpenAI'.",
        )
        .with_target("kind"));
    };
    match existing.and_then(|e| e.kind.as_deref()) {
        Some(old) if !old.eq_ignore_ascii_case(&requested) => Err(ArmError::new(
            ErrorCode::PropertyChangeNotAllowed,
            format!("The kind of an account cannot be changed from '{old}' to '{requested}'."),
        )
        .with_target("kind")),
        Some(old) => {
            spec.kind = Some(old.to_owned());
            Ok(())
        }
        None => Ok(()),
    }
}

fn check_sku(spec: &Spec) -> Result<(), ArmError> {
    let name = spec
        .sku
        .as_ref()
        .and_then(|s| s.get("name"))
        .and_then(Value::as_str);
    let Some(name) = name else {
        return Err(ArmError::new(
            ErrorCode::InvalidSkuName,
            "The account needs sku.name, such as 'S0'.",
        )
        .with_target("sku.name"));
    };
    let kind = spec.kind.as_deref().unwrap_or_default();
    match skus_of_kind(kind) {
        Some(offered) if !offered.iter().any(|s| s.eq_ignore_ascii_case(name)) => {
            Err(ArmError::new(
                ErrorCode::InvalidSkuName,
                format!(
                    "The sku '{name}' is not offered for kind '{kind}'. Offered: {}.",
                    offered.join(", ")
                ),
            )
            .with_target("sku.name"))
        }
        _ => Ok(()),
    }
}

/// Keeps what the server set when the account was created.
fn keep_identifiers(spec: &mut Spec, existing: Option<&Spec>) {
    let old = |name: &str| existing.and_then(|e| property(e, name)).cloned();
    let internal_id =
        old("internalId").unwrap_or_else(|| json!(uuid::Uuid::new_v4().simple().to_string()));
    let created = old("dateCreated").unwrap_or_else(|| {
        json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    });
    spec.properties.insert("internalId".into(), internal_id);
    spec.properties.insert("dateCreated".into(), created);
}

/// The subdomain, fixed once set, claimed across Kiln for this account.
async fn claim_subdomain(
    cx: &PrepareContext<'_>,
    spec: &mut Spec,
    existing: Option<&Spec>,
) -> Result<(), ArmError> {
    let old = existing
        .and_then(|e| property(e, "customSubDomainName"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let new = match property(spec, "customSubDomainName") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ArmError::new(
                ErrorCode::InvalidSubdomainName,
                "properties.customSubDomainName must be a string.",
            )
            .with_target("properties.customSubDomainName"));
        }
    };
    let name = match (old, new) {
        (Some(old), Some(new)) if !old.eq_ignore_ascii_case(&new) => {
            return Err(ArmError::new(
                ErrorCode::PropertyChangeNotAllowed,
                format!("The customSubDomainName '{old}' of an account cannot be changed."),
            )
            .with_target("properties.customSubDomainName"));
        }
        (Some(old), None) => {
            spec.properties
                .insert("customSubDomainName".into(), json!(old));
            return Ok(());
        }
        (Some(_), Some(_)) | (None, None) => return Ok(()),
        (None, Some(new)) => new,
    };
    if !valid_subdomain(&name) {
        return Err(ArmError::new(
            ErrorCode::InvalidSubdomainName,
            format!(
                "The customSubDomainName '{name}' is invalid: use 2-64 letters, digits and '-', starting and ending with a letter or digit."
            ),
        )
        .with_target("properties.customSubDomainName"));
    }
    let owner = cx.id.key();
    let holder =
        reserved_names::claim(cx.tx, SUBDOMAIN_REALM, &name.to_lowercase(), &owner).await?;
    if holder != owner {
        return Err(subdomain_in_use(&name));
    }
    Ok(())
}

pub(super) fn subdomain_in_use(name: &str) -> ArmError {
    ArmError::new(
        ErrorCode::CustomDomainInUse,
        format!(
            "Please pick a different name. The subdomain name '{name}' is not available as it's already used by a resource. If the resource using the name was deleted in the last 48 hours, you may need to purge the deleted resource."
        ),
    )
    .with_target("properties.customSubDomainName")
}

/// A `defaultProject` must name one of the account's projects.
async fn check_default_project(cx: &PrepareContext<'_>, spec: &Spec) -> Result<(), ArmError> {
    let Some(project) = property(spec, "defaultProject") else {
        return Ok(());
    };
    let name = project.as_str().unwrap_or_default();
    let project_key = format!("{}/projects/{}", cx.id.key(), name.to_lowercase());
    if name.is_empty() || !resources::exists(cx.tx, &project_key).await? {
        return Err(ArmError::new(
            ErrorCode::InvalidProperty,
            format!("The defaultProject '{name}' is not a project of this account."),
        )
        .with_target("properties.defaultProject"));
    }
    Ok(())
}

/// The data-plane hosts of an account: Azure's by default, under `domain` when set.
pub(super) struct DataPlane<'a> {
    pub domain: Option<&'a str>,
}

impl DataPlane<'_> {
    fn host(&self, subdomain: &str, service: &str) -> String {
        let suffix = self.domain.unwrap_or("azure.com");
        format!("https://{subdomain}.{service}.{suffix}/")
    }

    /// `endpoint` and `endpoints` of an account of `kind`.
    pub fn account(
        &self,
        kind: &str,
        subdomain: Option<&str>,
        location: &str,
    ) -> (String, BTreeMap<String, String>) {
        let Some(sub) = subdomain else {
            let suffix = self.domain.unwrap_or("microsoft.com");
            let regional = format!("https://{location}.api.cognitive.{suffix}/");
            return (
                regional.clone(),
                BTreeMap::from([("Cognitive Services API".into(), regional)]),
            );
        };
        let cognitive = self.host(sub, "cognitiveservices");
        let openai = self.host(sub, "openai");
        let foundry = self.host(sub, "services.ai");
        if kind.eq_ignore_ascii_case("OpenAI") {
            let endpoints = BTreeMap::from([
                ("OpenAI Language Model Instance API".into(), openai.clone()),
                ("OpenAI Dall-E API".into(), openai.clone()),
                ("OpenAI Whisper API".into(), openai.clone()),
            ]);
            return (openai, endpoints);
        }
        let mut endpoints = BTreeMap::from([("Cognitive Services API".into(), cognitive.clone())]);
        if kind.eq_ignore_ascii_case("AIServices") {
            endpoints.insert("AI Foundry API".into(), foundry.clone());
            endpoints.insert(
                "Azure AI Model Inference API".into(),
                format!("{foundry}models"),
            );
            endpoints.insert("OpenAI Language Model Instance API".into(), openai);
            endpoints.insert("Content Safety".into(), cognitive.clone());
        }
        (cognitive, endpoints)
    }

    /// The Foundry API of project `name` of the account with `subdomain`.
    pub fn project(&self, subdomain: Option<&str>, name: &str) -> BTreeMap<String, String> {
        let Some(sub) = subdomain else {
            return BTreeMap::new();
        };
        let foundry = self.host(sub, "services.ai");
        BTreeMap::from([(
            "AI Foundry API".into(),
            format!("{foundry}api/projects/{name}"),
        )])
    }
}

/// What an account of `kind` can do (a subset of Azure's capability list).
fn capabilities(kind: &str) -> Value {
    let mut out = vec![
        json!({"name": "VirtualNetworks"}),
        json!({"name": "CustomerManagedKey"}),
        json!({"name": "DisableLocalAuth"}),
    ];
    if kind.eq_ignore_ascii_case("AIServices") || kind.eq_ignore_ascii_case("OpenAI") {
        out.push(json!({"name": "MaxFineTuneCount", "value": "100"}));
        out.push(json!({"name": "MaxRunningFineTuneCount", "value": "1"}));
    }
    Value::Array(out)
}

/// The account's projects, oldest first: its `associatedProjects`, and its `defaultProject`
/// when none is set.
pub(super) fn project_names(projects: &[resource::Model], account_key: &str) -> Vec<String> {
    let mut mine: Vec<&resource::Model> = projects
        .iter()
        .filter(|p| p.parent_key == account_key)
        .collect();
    mine.sort_by_key(|p| (p.created_at, p.id_key.clone()));
    mine.into_iter().map(|p| p.name.clone()).collect()
}

/// The default project: the one set, else the first.
pub(super) fn default_project(account: &Value, projects: &[String]) -> Option<String> {
    account["properties"]["defaultProject"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| projects.first().cloned())
}

impl Accounts {
    async fn list_keys(&self, target: &ActionTarget<'_>) -> Result<ActionAnswer, ArmError> {
        if target.row.body["properties"]["disableLocalAuth"].as_bool() == Some(true) {
            // Azure's code and message, which clients match on.
            return Err(ArmError::new(
                ErrorCode::BadRequest,
                "Failed to list key. disableLocalAuth is set to be true",
            ));
        }
        let keys = self.stored_keys(target).await?;
        Ok(ActionAnswer::ok(keys.to_json()))
    }

    async fn regenerate_key(&self, target: &ActionTarget<'_>) -> Result<ActionAnswer, ArmError> {
        let which = KeyName::parse(target.body.get("keyName").and_then(Value::as_str))?;
        let mut keys = self.stored_keys(target).await?;
        keys.regenerate(which);
        keys::save(target.db, target.keys, &target.row.id_key, &keys).await?;
        Ok(ActionAnswer::ok(keys.to_json()))
    }

    async fn stored_keys(&self, target: &ActionTarget<'_>) -> Result<keys::Keys, ArmError> {
        keys::load(target.db, target.keys, &target.row.id_key)
            .await?
            .ok_or_else(|| {
                ArmError::new(
                    ErrorCode::AccountNotReady,
                    format!(
                        "The account '{}' is still being provisioned; its keys are not made yet. Retry when provisioningState is Succeeded.",
                        target.row.name
                    ),
                )
            })
    }
}

#[async_trait]
impl ResourceKind for Accounts {
    fn descriptor(&self) -> &'static TypeDescriptor {
        &ACCOUNTS
    }

    fn provisioner(&self) -> Option<Arc<dyn Provisioner>> {
        Some(Arc::new(super::provisioner::AccountProvisioner {
            settings: self.settings.clone(),
        }))
    }

    async fn prepare(&self, cx: &PrepareContext<'_>, mut spec: Spec) -> Result<Prepared, ArmError> {
        let existing = cx.existing;
        let restore = take_restore(&mut spec);
        if existing.is_none() {
            match deleted_accounts::find(cx.tx, &cx.id.key()).await? {
                Some(record) if restore => return deleted::restore(cx, spec, record),
                Some(_) => return Err(deleted::flag_must_be_set(cx.id.name())),
                None if restore => return Err(deleted::nothing_to_restore(cx.id.name())),
                None => {}
            }
        }
        check_kind(&mut spec, existing)?;
        check_sku(&spec)?;
        envelope::strip(&mut spec.properties, READ_ONLY);
        keep_identifiers(&mut spec, existing);
        claim_subdomain(cx, &mut spec, existing).await?;
        check_default_project(cx, &spec).await?;
        Ok(Prepared::spec(spec))
    }

    async fn decorate(
        &self,
        db: &DatabaseConnection,
        items: &mut [Rendered],
    ) -> Result<(), ArmError> {
        let keys: Vec<String> = items.iter().map(|i| i.row.id_key.clone()).collect();
        let projects = resources::children_of_any(db, keys, &PROJECTS.type_key()).await?;
        let plane = DataPlane {
            domain: self.settings.data_plane_domain.as_deref(),
        };
        for item in items.iter_mut() {
            let kind = item.json["kind"].as_str().unwrap_or_default().to_owned();
            let location = item.row.location.clone().unwrap_or_default();
            let names = project_names(&projects, &item.row.id_key);
            let default = default_project(&item.json, &names);
            let Some(properties) = envelope::properties_mut(&mut item.json) else {
                continue;
            };
            let subdomain = properties
                .get("customSubDomainName")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let (endpoint, endpoints) = plane.account(&kind, subdomain.as_deref(), &location);
            let derived: Map<String, Value> = Map::from_iter([
                ("endpoint".to_owned(), json!(endpoint)),
                ("endpoints".to_owned(), json!(endpoints)),
                ("capabilities".to_owned(), capabilities(&kind)),
                ("associatedProjects".to_owned(), json!(names)),
            ]);
            properties.extend(derived);
            if let Some(default) = default {
                properties.insert("defaultProject".into(), json!(default));
            }
        }
        Ok(())
    }

    async fn invoke(
        &self,
        action: &ActionDecl,
        target: ActionTarget<'_>,
    ) -> Result<ActionAnswer, ArmError> {
        if action.name == super::REGENERATE_KEY.name {
            self.regenerate_key(&target).await
        } else {
            self.list_keys(&target).await
        }
    }
}
