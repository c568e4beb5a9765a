//! The generic `…/resources` lists of Microsoft.Resources: top-level resources of every type
//! in a subscription or a group. A platform endpoint, not a resource type.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::resource_groups::DESCRIPTOR;
use crate::arm::engine::Engine;
use crate::arm::http::ArmRequest;
use crate::arm::id::ResourceId;
use crate::arm::read::{ListFilter, ListScope};
use crate::error::{ArmError, ErrorCode, ErrorResponse};

/// A page of resources of any type.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceList {
    pub value: Vec<serde_json::Value>,
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
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
        None => Err(ArmError::new(
            ErrorCode::InvalidFilterInQueryString,
            format!(
                "The $filter '{filter}' is not supported. Supported: resourceType eq '<type>'."
            ),
        )),
    }
}

/// A page of the resources in `scope` that the caller may see under `action`.
async fn list(
    req: &ArmRequest,
    hreq: &HttpRequest,
    engine: &Engine,
    scope: &ListScope,
    action: &str,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let filter = resources_filter(req)?;
    req.list(engine, hreq, &cx, scope, &filter, action).await
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
    let scope = ListScope::TopLevelInSubscription {
        subscription: path.into_inner(),
    };
    let action = "Microsoft.Resources/subscriptions/resources/read";
    list(&req, &hreq, &engine, &scope, action).await
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
    let scope = ListScope::TopLevelInGroup {
        group: ResourceId::resource_group(&path.0, &path.1),
    };
    let action = "Microsoft.Resources/subscriptions/resourceGroups/resources/read";
    list(&req, &hreq, &engine, &scope, action).await
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_group_resources)
        .service(list_subscription_resources);
}
