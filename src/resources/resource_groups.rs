//! `Microsoft.Resources/resourceGroups`, and the generic `…/resources` lists.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, put, route, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::arm::engine::{DeleteResult, Engine};
use crate::arm::http::{self, ArmRequest, JsonBody};
use crate::arm::id::ResourceId;
use crate::arm::read::{ListFilter, ListScope};
use crate::arm::registry::{ResourceKind, TypeDescriptor};
use crate::error::{ArmError, ErrorResponse};
use crate::store::resource;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};

pub static DESCRIPTOR: TypeDescriptor = TypeDescriptor {
    namespace: "Microsoft.Resources",
    type_path: &["resourceGroups"],
    api_versions: &[
        "2019-10-01",
        "2020-06-01",
        "2021-04-01",
        "2022-09-01",
        "2024-03-01",
        "2025-04-01",
    ],
    tracked: true,
    provisioned: false,
    name_rule: "Resource group names are 1-90 letters, digits, '-', '_', '.', '(' or ')', and must not end with '.'.",
    name_valid: valid_name,
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
        let (low, high) = (format!("{}/", row.id_key), format!("{}0", row.id_key));
        let dependents: Vec<String> = resource::Entity::find()
            .select_only()
            .column(resource::Column::Id)
            .filter(resource::Column::DependsOnKey.gt(low.clone()))
            .filter(resource::Column::DependsOnKey.lt(high.clone()))
            .filter(
                Condition::any()
                    .add(resource::Column::IdKey.lte(low))
                    .add(resource::Column::IdKey.gte(high)),
            )
            .limit(5)
            .into_tuple()
            .all(tx)
            .await?;
        if dependents.is_empty() {
            return Ok(());
        }
        Err(ArmError::conflict(
            "ResourceGroupHasDependents",
            format!(
                "The resource group '{}' holds resources that resources outside it depend on ({}). Delete those first.",
                row.name,
                dependents.join(", ")
            ),
        ))
    }
}

/// A resource group.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResourceGroup {
    #[schema(read_only)]
    pub id: Option<String>,
    #[schema(read_only)]
    pub name: Option<String>,
    #[schema(read_only, example = "Microsoft.Resources/resourceGroups")]
    pub r#type: Option<String>,
    pub location: String,
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(rename = "managedBy")]
    pub managed_by: Option<String>,
    pub properties: Option<ResourceGroupProperties>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResourceGroupProperties {
    #[serde(rename = "provisioningState")]
    #[schema(read_only)]
    pub provisioning_state: Option<String>,
}

/// A page of resources.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceList {
    pub value: Vec<serde_json::Value>,
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

fn group_id(path: &(String, String)) -> ResourceId {
    ResourceId::resource_group(&path.0, &path.1)
}

#[utoipa::path(tag = "ResourceGroups",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("api-version" = String, Query)),
    request_body = ResourceGroup,
    responses((status = 200, body = ResourceGroup), (status = 201, body = ResourceGroup), (status = "4XX", body = ErrorResponse)))]
#[put("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}")]
pub async fn create_or_update(
    req: ArmRequest,
    path: web::Path<(String, String)>,
    body: JsonBody,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let result = engine
        .put(&cx, &group_id(&path), &body.0, &req.preconditions)
        .await?;
    let status = if result.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(http::write(&result, status, &cx.base_url))
}

#[utoipa::path(tag = "ResourceGroups",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, body = ResourceGroup), (status = 404, body = ErrorResponse)))]
#[get("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}")]
pub async fn get_group(
    req: ArmRequest,
    path: web::Path<(String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let (body, etag) = engine.get(&cx, &group_id(&path)).await?;
    Ok(http::resource(StatusCode::OK, &etag, &body))
}

/// 204 when the group exists, 404 when not (the SDKs' `check_existence`).
#[utoipa::path(head, tag = "ResourceGroups",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("api-version" = String, Query)),
    responses((status = 204, description = "Exists"), (status = 404, description = "Absent")))]
#[route(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
    method = "HEAD"
)]
pub async fn check_existence(
    req: ArmRequest,
    path: web::Path<(String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    match engine.get(&cx, &group_id(&path)).await {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(err) if err.status == StatusCode::NOT_FOUND => Ok(HttpResponse::NotFound().finish()),
        Err(err) => Err(err),
    }
}

#[utoipa::path(tag = "ResourceGroups",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("api-version" = String, Query)),
    request_body = ResourceGroup,
    responses((status = 200, body = ResourceGroup), (status = "4XX", body = ErrorResponse)))]
#[patch("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}")]
pub async fn update(
    req: ArmRequest,
    path: web::Path<(String, String)>,
    body: JsonBody,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let result = engine
        .patch(&cx, &group_id(&path), &body.0, &req.preconditions)
        .await?;
    Ok(http::write(&result, StatusCode::OK, &cx.base_url))
}

/// Deletes the group and everything in it: 202 + Location, then 404.
#[utoipa::path(tag = "ResourceGroups",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("api-version" = String, Query)),
    responses((status = 202, description = "Deletion started"), (status = 404, body = ErrorResponse)))]
#[delete("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}")]
pub async fn delete_group(
    req: ArmRequest,
    path: web::Path<(String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let id = group_id(&path);
    Ok(match engine.delete(&cx, &id, &req.preconditions).await? {
        DeleteResult::Absent => return Err(crate::arm::engine::not_found(&id)),
        DeleteResult::Deleted => HttpResponse::Ok().finish(),
        DeleteResult::Accepted(op) => http::accepted(&op, &cx.base_url),
    })
}

#[utoipa::path(tag = "ResourceGroups",
    params(("subscriptionId" = String, Path), ("api-version" = String, Query), ("$top" = Option<u64>, Query), ("$skipToken" = Option<String>, Query)),
    responses((status = 200, body = ResourceList)))]
#[get("/subscriptions/{subscriptionId}/resourceGroups")]
pub async fn list_groups(
    req: ArmRequest,
    hreq: HttpRequest,
    path: web::Path<String>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let scope = ListScope::Subscription {
        subscription: path.into_inner(),
        type_key: DESCRIPTOR.type_key(),
    };
    req.list(
        &engine,
        &hreq,
        &cx,
        &scope,
        &ListFilter::default(),
        &DESCRIPTOR.action("read"),
    )
    .await
}

/// `$filter=resourceType eq '…'`, the one filter of the generic lists Kiln supports.
fn resources_filter(req: &ArmRequest) -> Result<ListFilter, ArmError> {
    let Some(filter) = req.param("$filter") else {
        return Ok(ListFilter::default());
    };
    let parsed = filter
        .trim()
        .strip_prefix("resourceType eq '")
        .or_else(|| filter.trim().strip_prefix("resourcetype eq '"))
        .and_then(|rest| rest.strip_suffix('\''));
    match parsed {
        Some(ty) => Ok(ListFilter {
            type_key: Some(ty.to_lowercase()),
            ..ListFilter::default()
        }),
        None => Err(ArmError::bad_request(
            "InvalidFilterInQueryString",
            format!(
                "The $filter '{filter}' is not supported. Supported: resourceType eq '<type>'."
            ),
        )),
    }
}

#[utoipa::path(tag = "Resources",
    params(("subscriptionId" = String, Path), ("api-version" = String, Query), ("$filter" = Option<String>, Query), ("$top" = Option<u64>, Query), ("$skipToken" = Option<String>, Query)),
    responses((status = 200, body = ResourceList)))]
#[get("/subscriptions/{subscriptionId}/resources")]
pub async fn list_subscription_resources(
    req: ArmRequest,
    hreq: HttpRequest,
    path: web::Path<String>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let scope = ListScope::TopLevelInSubscription {
        subscription: path.into_inner(),
    };
    let filter = resources_filter(&req)?;
    req.list(
        &engine,
        &hreq,
        &cx,
        &scope,
        &filter,
        "Microsoft.Resources/subscriptions/resources/read",
    )
    .await
}

#[utoipa::path(tag = "Resources",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("api-version" = String, Query), ("$filter" = Option<String>, Query), ("$top" = Option<u64>, Query), ("$skipToken" = Option<String>, Query)),
    responses((status = 200, body = ResourceList), (status = 404, body = ErrorResponse)))]
#[get("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/resources")]
pub async fn list_group_resources(
    req: ArmRequest,
    hreq: HttpRequest,
    path: web::Path<(String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let scope = ListScope::TopLevelInGroup {
        group: group_id(&path),
    };
    let filter = resources_filter(&req)?;
    req.list(
        &engine,
        &hreq,
        &cx,
        &scope,
        &filter,
        "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
    )
    .await
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_groups)
        .service(list_group_resources)
        .service(list_subscription_resources)
        .service(create_or_update)
        .service(get_group)
        .service(check_existence)
        .service(update)
        .service(delete_group);
}
