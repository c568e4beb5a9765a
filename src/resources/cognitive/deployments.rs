//! Model deployments of an account: a model of the catalog, offered to the account's kind in
//! its region, with a sku the model offers and a capacity in its range, within the quota of
//! the subscription in that region. Rate limits follow from the capacity.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::NAMESPACE;
use super::quota;
use crate::arm::envelope::{self, Spec};
use crate::arm::registry::{
    ActionAnswer, ActionDecl, ActionReturns, ActionTarget, ApiVersions, ByVersion, DeleteAnswer,
    Listing, PrepareContext, Prepared, ResourceKind, TypeDescriptor, TypeSchema, Verbs,
    WriteAnswer,
};
use crate::config::TypeSettings;
use crate::config::catalog::Entry;
use crate::error::{ArmError, ErrorCode};
use crate::lifecycle::ProvisioningState;
use crate::store::resources::{self, RowLock};

/// PUT answers 201 (200 on replace) with `Azure-AsyncOperation`, never 202: the client rejects
/// it. PATCH 202 with monitors, DELETE 202/204.
pub static DEPLOYMENTS: TypeDescriptor = TypeDescriptor {
    namespace: NAMESPACE,
    type_path: &["accounts", "deployments"],
    name_params: &["accountName", "deploymentName"],
    api_versions: ApiVersions::Published,
    tracked: false,
    proxy_tags: true,
    provisioned: true,
    name_rule: "Deployment names are 2-64 characters: a letter or digit, then letters, digits, '_', '.' or '-'.",
    name_valid: super::valid_name,
    verbs: Verbs {
        put: Some(ByVersion::always(WriteAnswer::CREATED_ASYNC)),
        patch: Some(ByVersion::always(WriteAnswer::ACCEPTED)),
        delete: Some(ByVersion::always(DeleteAnswer::ACCEPTED)),
        head: false,
        list: Some(Listing::PAGED),
        list_by_subscription: false,
    },
    actions: &[PAUSE, RESUME],
    schema: TypeSchema::of::<Deployment, DeploymentProperties>(),
    tag: "Deployments",
};

/// The first api-version with pause and resume: the spec's examples PauseDeployment.json
/// (preview/2025-10-01-preview) and ResumeDeployment.json (stable/2026-03-01);
/// azure-mgmt-cognitiveservices 14.1.0 (2025-09-01) has neither, 15.0.0b1 on has both.
const PAUSE_SINCE: &str = "2025-10-01-preview";

/// `POST …/deployments/{d}/pause`: inference answers 423 until resumed; idempotent.
const PAUSE: ActionDecl = ActionDecl {
    name: "pause",
    rbac: "pause/action",
    summary: "Pauses inference on the deployment (deploymentState Paused); idempotent.",
    returns: ActionReturns::Resource,
    secret: false,
    since: Some(PAUSE_SINCE),
};

/// `POST …/deployments/{d}/resume`: back to Running; idempotent.
const RESUME: ActionDecl = ActionDecl {
    name: "resume",
    rbac: "resume/action",
    summary: "Resumes inference on a paused deployment (deploymentState Running); idempotent.",
    returns: ActionReturns::Resource,
    secret: false,
    since: Some(PAUSE_SINCE),
};

/// The sku families whose deployments can pause.
const PAUSABLE_SKUS: &[&str] = &["Standard", "DataZoneStandard", "GlobalStandard"];

crate::resource_schema!(
    /// A model deployment.
    #[derive(Debug, Serialize, Deserialize, ToSchema)]
    Deployment,
    "Microsoft.CognitiveServices/accounts/deployments",
    {
        /// `{name: "Standard" | "GlobalStandard" | …, capacity}`.
        sku: Option<Value>,
        tags: Option<std::collections::BTreeMap<String, String>>,
        #[schema(read_only)]
        etag: Option<String>,
        #[serde(rename = "systemData")]
        #[schema(read_only)]
        system_data: Option<Value>,
        properties: Option<DeploymentProperties>,
    }
);

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentProperties {
    /// `{format, name, version, publisher?, source?}`.
    pub model: Option<Value>,
    pub rai_policy_name: Option<String>,
    /// OnceNewDefaultVersionAvailable, OnceCurrentVersionExpired or NoAutoUpgrade.
    pub version_upgrade_option: Option<String>,
    #[schema(read_only)]
    pub capabilities: Option<Map<String, Value>>,
    #[schema(read_only)]
    pub rate_limits: Option<Vec<Value>>,
    #[schema(read_only)]
    pub call_rate_limit: Option<Value>,
    /// Running or Paused.
    #[schema(read_only)]
    pub deployment_state: Option<String>,
    #[schema(read_only)]
    pub provisioning_state: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

const READ_ONLY: &[&str] = &[
    "provisioningState",
    "capabilities",
    "rateLimits",
    "callRateLimit",
    "deploymentState",
    "currentCapacity",
];

/// Every account has these content filters.
const RAI_POLICIES: &[&str] = &["Microsoft.Default", "Microsoft.DefaultV2"];
const UPGRADE_OPTIONS: &[&str] = &[
    "OnceNewDefaultVersionAvailable",
    "OnceCurrentVersionExpired",
    "NoAutoUpgrade",
];

pub struct Deployments {
    pub(super) settings: Arc<TypeSettings>,
}

fn invalid(message: String, target: &str) -> ArmError {
    ArmError::new(ErrorCode::InvalidResourceProperties, message).with_target(target)
}

fn capacity_error(message: String) -> ArmError {
    ArmError::new(ErrorCode::InvalidCapacity, message).with_target("sku.capacity")
}

fn one_of(
    value: Option<&Value>,
    allowed: &[&str],
    default: &str,
    target: &str,
) -> Result<Value, ArmError> {
    let Some(given) = value.filter(|v| !v.is_null()) else {
        return Ok(json!(default));
    };
    let text = given.as_str().unwrap_or_default();
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(text))
        .map(|a| json!(a))
        .ok_or_else(|| {
            invalid(
                format!(
                    "'{given}' is not a valid {target}. Use one of: {}.",
                    allowed.join(", ")
                ),
                target,
            )
        })
}

/// The rate limits a capacity buys: per unit the sku's published limits.
fn rate_limits(per_unit: &[Value], capacity: i64) -> Vec<Value> {
    per_unit
        .iter()
        .map(|limit| {
            let mut scaled = limit.clone();
            if let Some(count) = limit["count"].as_f64() {
                scaled["count"] = json!((count * capacity as f64).round() as i64);
            }
            scaled
        })
        .collect()
}

impl Deployments {
    /// The catalog entry the deployment names, checked against its account.
    fn entry<'a>(
        &'a self,
        account: &'a crate::store::resource::Model,
        model: &Value,
    ) -> Result<&'a Entry, ArmError> {
        let (Some(format), Some(name)) = (model["format"].as_str(), model["name"].as_str()) else {
            return Err(invalid(
                "properties.model needs format and name, such as {\"format\": \"OpenAI\", \"name\": \"gpt-4o-mini\", \"version\": \"2024-07-18\"}.".into(),
                "properties.model",
            ));
        };
        let version = model["version"].as_str().filter(|v| !v.is_empty());
        let kind = account.body["kind"].as_str();
        let location = account.location.as_deref().unwrap_or_default();
        self.settings
            .model_catalog
            .find(kind, location, format, name, version)
            .ok_or_else(|| {
                let which = version.map_or_else(|| name.to_owned(), |v| format!("{name} {v}"));
                ArmError::new(
                    ErrorCode::DeploymentModelNotSupported,
                    format!(
                        "The model '{format} {which}' is not offered to accounts of kind '{}' in '{location}'. List what is with GET …/accounts/{}/models.",
                        kind.unwrap_or_default(),
                        account.name
                    ),
                )
                .with_target("properties.model")
            })
    }
}

#[async_trait]
impl ResourceKind for Deployments {
    fn descriptor(&self) -> &'static TypeDescriptor {
        &DEPLOYMENTS
    }

    async fn prepare(&self, cx: &PrepareContext<'_>, mut spec: Spec) -> Result<Prepared, ArmError> {
        let account_key = cx.id.parent().map(|p| p.key()).unwrap_or_default();
        let Some(account) = resources::lock(cx.tx, &account_key, RowLock::KeyShare).await? else {
            return Err(ArmError::new(
                ErrorCode::ParentResourceNotFound,
                "The account of the deployment does not exist.",
            ));
        };
        envelope::strip(&mut spec.properties, READ_ONLY);
        let model = spec.properties.get("model").cloned().unwrap_or(Value::Null);
        let entry = self.entry(&account, &model)?;
        let sku_name = spec
            .sku
            .as_ref()
            .and_then(|s| s["name"].as_str())
            .unwrap_or("Standard")
            .to_owned();
        let location = account.location.as_deref().unwrap_or_default();
        let Some(sku) = entry.sku(&sku_name, location) else {
            let offered: Vec<&str> = entry
                .model
                .skus
                .iter()
                .filter(|s| s.offered_in(location))
                .map(|s| s.name.as_str())
                .collect();
            return Err(invalid(
                format!(
                    "The sku '{sku_name}' is not offered for model '{} {}' in '{location}'. Offered there: {}.",
                    entry.model.name,
                    entry.model.version,
                    offered.join(", ")
                ),
                "sku.name",
            ));
        };
        let range = sku.capacity;
        let capacity = match spec.sku.as_ref().map(|s| &s["capacity"]) {
            None | Some(Value::Null) => range.default.or(range.minimum).unwrap_or(1),
            // az sends the capacity as a string ("10").
            Some(value) => value
                .as_i64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| capacity_error("sku.capacity must be a whole number.".into()))?,
        };
        let (min, max) = (
            range.minimum.unwrap_or(1),
            range.maximum.unwrap_or(i64::MAX),
        );
        let step = range.step.unwrap_or(1).max(1);
        if capacity < min || capacity > max || (capacity - min) % step != 0 {
            return Err(capacity_error(format!(
                "The capacity {capacity} is out of range for sku '{}' of model '{}': use {min} to {max}{}.",
                sku.name,
                entry.model.name,
                if step > 1 {
                    format!(", in steps of {step}")
                } else {
                    String::new()
                }
            )));
        }
        match &sku.usage_name {
            Some(usage) => quota::reserve(cx, &account, usage, capacity, &self.settings).await?,
            None => quota::hold_none(cx).await?,
        }
        spec.sku = Some(json!({"name": sku.name, "capacity": capacity}));
        let properties = &mut spec.properties;
        properties.insert(
            "model".into(),
            json!({
                "format": entry.model.format,
                "name": entry.model.name,
                "version": entry.model.version,
            }),
        );
        let rai = one_of(
            properties.get("raiPolicyName"),
            RAI_POLICIES,
            "Microsoft.DefaultV2",
            "raiPolicyName",
        )?;
        properties.insert("raiPolicyName".into(), rai);
        let upgrade = one_of(
            properties.get("versionUpgradeOption"),
            UPGRADE_OPTIONS,
            "OnceNewDefaultVersionAvailable",
            "versionUpgradeOption",
        )?;
        properties.insert("versionUpgradeOption".into(), upgrade);
        let limits = rate_limits(&sku.rate_limits, capacity);
        let call_rate = limits.iter().find(|l| l["key"] == "request").map(
            |l| json!({"count": l["count"], "renewalPeriod": l["renewalPeriod"], "rules": []}),
        );
        properties.insert(
            "capabilities".into(),
            Value::Object(entry.model.capabilities.clone()),
        );
        properties.insert("rateLimits".into(), json!(limits));
        if let Some(call_rate) = call_rate {
            properties.insert("callRateLimit".into(), call_rate);
        }
        // A paused deployment stays paused through a replace; only resume runs it again.
        let state = cx
            .existing
            .and_then(|e| e.properties.get("deploymentState"))
            .cloned()
            .unwrap_or_else(|| json!(RUNNING));
        properties.insert("deploymentState".into(), state);
        Ok(Prepared::spec(spec))
    }

    async fn invoke(
        &self,
        action: &ActionDecl,
        target: ActionTarget<'_>,
    ) -> Result<ActionAnswer, ArmError> {
        let state = if action.name == PAUSE.name {
            PAUSED
        } else {
            RUNNING
        };
        set_state(target, state)
    }
}

const RUNNING: &str = "Running";
const PAUSED: &str = "Paused";

/// The deployment with `deploymentState` set; refused for a sku that cannot pause or while a
/// write or delete of the deployment is under way.
fn set_state(target: ActionTarget<'_>, state: &str) -> Result<ActionAnswer, ArmError> {
    let row = target.row;
    let sku = row.body["sku"]["name"].as_str().unwrap_or_default();
    if !PAUSABLE_SKUS.contains(&sku) {
        return Err(ArmError::new(
            ErrorCode::BadRequest,
            format!(
                "Deployments of sku '{sku}' cannot be paused or resumed; only {} can.",
                PAUSABLE_SKUS.join(", ")
            ),
        ));
    }
    if row.provisioning_state != ProvisioningState::Succeeded.as_str() {
        return Err(ArmError::new(
            ErrorCode::AnotherOperationInProgress,
            format!(
                "The deployment '{}' is {}; retry when its provisioningState is Succeeded.",
                row.name, row.provisioning_state
            ),
        ));
    }
    if row.body["properties"]["deploymentState"] == state {
        return Ok(ActionAnswer::ok(target.rendered));
    }
    let mut changed = row.clone();
    changed.body["properties"]["deploymentState"] = json!(state);
    Ok(ActionAnswer::changed(changed))
}
