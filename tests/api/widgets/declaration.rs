//! `Contoso.Widgets/widgets` and its child `widgets/gears`, declared outside `src/`.

use async_trait::async_trait;
use kiln::{arm::registry::*, error::ArmError, provisioners::*, store::*};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};
use utoipa::ToSchema;

/// Widgets are tracked and provisioned. PUT answers 201 (200 on replace) with
/// `Azure-AsyncOperation`, except at 2024-01-01, which answers 202 with `Location`. PATCH and
/// DELETE answer 202; HEAD and the list by subscription are served; `polish` is an action.
pub static WIDGET: TypeDescriptor = TypeDescriptor {
    namespace: "Contoso.Widgets",
    type_path: &["widgets"],
    name_params: &["widgetName"],
    api_versions: ApiVersions::Own(&["2024-01-01", "2025-06-01-preview"]),
    tracked: true,
    proxy_tags: false,
    provisioned: true,
    name_rule: "Widget names are 2-20 lower-case letters.",
    name_valid: |n| matches!(n.len(), 2..=20) && n.bytes().all(|b| b.is_ascii_lowercase()),
    verbs: Verbs {
        put: Some(ByVersion {
            default: WriteAnswer::CREATED_ASYNC,
            at: &[("2024-01-01", WriteAnswer::ACCEPTED)],
        }),
        patch: Some(ByVersion::always(WriteAnswer::ACCEPTED)),
        delete: Some(ByVersion::always(DeleteAnswer::ACCEPTED)),
        head: true,
        list: Some(Listing::PAGED),
        list_by_subscription: true,
    },
    actions: &[ActionDecl {
        name: "polish",
        rbac: "polish/action",
        summary: "Polishes the widget; answers how much it shines.",
        returns: ActionReturns::Schema(SchemaFn::of::<Shine>()),
        secret: false,
        since: None,
    }],
    schema: TypeSchema::of::<Widget, WidgetProperties>(),
    tag: "Widgets",
};

/// Gears are synchronous proxy resources under a widget: PUT 201 or 200, DELETE 200 or 204,
/// listed on one page with `?teeth=`. They have every default of the engine (`Plain(&GEAR)`).
pub static GEAR: TypeDescriptor = TypeDescriptor {
    namespace: "Contoso.Widgets",
    type_path: &["widgets", "gears"],
    name_params: &["widgetName", "gearName"],
    api_versions: WIDGET.api_versions,
    tracked: false,
    proxy_tags: false,
    provisioned: false,
    name_rule: "Gear names are 1-10 letters or digits.",
    name_valid: |n| matches!(n.len(), 1..=10) && n.bytes().all(|b| b.is_ascii_alphanumeric()),
    verbs: Verbs {
        put: Some(ByVersion::always(WriteAnswer::CREATED_OR_OK)),
        patch: Some(ByVersion::always(WriteAnswer::OK)),
        delete: Some(ByVersion::always(DeleteAnswer::AT_ONCE)),
        head: false,
        list: Some(Listing::one_page(&["teeth"])),
        list_by_subscription: false,
    },
    actions: &[],
    schema: TypeSchema::of::<Gear, GearProperties>(),
    tag: "Gears",
};

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Widget {
    pub location: String,
    pub tags: Option<std::collections::BTreeMap<String, String>>,
    pub properties: Option<WidgetProperties>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WidgetProperties {
    pub color: Option<String>,
    pub teeth: Option<u32>,
    #[schema(read_only)]
    pub serial_number: Option<String>,
    #[schema(read_only)]
    pub provisioning_state: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Gear {
    pub properties: Option<GearProperties>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct GearProperties {
    pub teeth: u32,
}

#[derive(Serialize, ToSchema)]
pub struct Shine {
    pub widget: String,
    pub shine: u32,
}

/// The widget type's hooks. The provisioner records the names it removed.
#[derive(Clone, Default)]
pub struct Widgets(pub Arc<Mutex<Vec<String>>>);

#[async_trait]
impl ResourceKind for Widgets {
    fn descriptor(&self) -> &'static TypeDescriptor {
        &WIDGET
    }
    fn provisioner(&self) -> Option<Arc<dyn Provisioner>> {
        Some(Arc::new(self.clone()))
    }
    async fn invoke(
        &self,
        _: &ActionDecl,
        target: ActionTarget<'_>,
    ) -> Result<ActionAnswer, ArmError> {
        let teeth = target.rendered["properties"]["teeth"].as_u64().unwrap_or(0);
        Ok(ActionAnswer::ok(
            json!({"widget": target.id.name(), "shine": teeth * 10}),
        ))
    }
}

/// Paints the widget: a serial number, or a failure for the one color it cannot do.
#[async_trait]
impl Provisioner for Widgets {
    async fn apply(
        &self,
        _: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<Applied, ProvisionError> {
        if row.body["properties"]["color"] == "plaid" {
            return Err(ProvisionError::fail("PaintUnavailable", "No plaid paint."));
        }
        Ok(Applied::default().property("serialNumber", json!(format!("W-{}", row.name))))
    }
    async fn remove(
        &self,
        _: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<(), ProvisionError> {
        self.0.lock().unwrap().push(row.name.clone());
        Ok(())
    }
}
