//! `Microsoft.Resources/resourceGroups`: PUT 201/200, HEAD, PATCH 200, DELETE 202 (Location
//! only) that cascades through everything in the group, 404 when absent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::arm::registry::{
    ApiVersions, ByVersion, DeleteAnswer, Listing, ResourceKind, Running, TypeDescriptor,
    TypeSchema, Verbs, WriteAnswer,
};
use crate::error::{ArmError, ErrorCode};
use crate::lifecycle::{BLOCKERS_NAMED, refuse_delete_while};
use crate::store::resource;
use crate::store::resources;
use sea_orm::DatabaseTransaction;

pub static DESCRIPTOR: TypeDescriptor = TypeDescriptor {
    namespace: "Microsoft.Resources",
    type_path: &["resourceGroups"],
    tracked: true,
    proxy_tags: false,
    provisioned: false,
    name_rule: "Resource group names are 1-90 letters, digits, '-', '_', '.', '(' or ')', and must not end with '.'.",
    name_valid: valid_name,
    name_params: &["resourceGroupName"],
    api_versions: ApiVersions::Published,
    verbs: Verbs {
        put: Some(ByVersion::always(WriteAnswer::CREATED_OR_OK)),
        patch: Some(ByVersion::always(WriteAnswer::OK)),
        // ARM answers a group's delete with Location only, and 404 when there is none.
        delete: Some(ByVersion::always(DeleteAnswer {
            absent: 404,
            deleted: 200,
            running: Running::Accepted,
            at_once: false,
        })),
        head: true,
        list: Some(Listing::PAGED),
        list_by_subscription: false,
    },
    actions: &[],
    schema: TypeSchema::of::<ResourceGroup, ResourceGroupProperties>(),
    tag: "ResourceGroups",
};

fn valid_name(name: &str) -> bool {
    let len = name.chars().count();
    (1..=90).contains(&len)
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
}

pub struct ResourceGroups;

#[async_trait::async_trait]
impl ResourceKind for ResourceGroups {
    fn descriptor(&self) -> &'static TypeDescriptor {
        &DESCRIPTOR
    }

    /// Deleting a group deletes everything in it; it is refused while a resource outside the
    /// group depends on one inside (a project in another group on a hub in this one).
    async fn check_delete(
        &self,
        tx: &DatabaseTransaction,
        row: &resource::Model,
    ) -> Result<(), ArmError> {
        let dependents =
            resources::depended_on_from_outside(tx, &row.id_key, BLOCKERS_NAMED).await?;
        refuse_delete_while(
            &dependents,
            ErrorCode::ResourceGroupHasDependents,
            |dependents| {
                format!(
                    "The resource group '{}' holds resources that resources outside it depend on ({dependents}). Delete those first.",
                    row.name
                )
            },
        )
    }
}

crate::resource_schema!(
    /// A resource group.
    #[derive(Debug, Serialize, Deserialize, ToSchema)]
    ResourceGroup,
    "Microsoft.Resources/resourceGroups",
    {
        location: String,
        tags: Option<BTreeMap<String, String>>,
        #[serde(rename = "managedBy")]
        managed_by: Option<String>,
        properties: Option<ResourceGroupProperties>,
    }
);

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResourceGroupProperties {
    #[serde(rename = "provisioningState")]
    #[schema(read_only)]
    pub provisioning_state: Option<String>,
    /// Properties this version does not name, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}
