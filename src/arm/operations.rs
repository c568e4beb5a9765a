//! Operation monitors: `Azure-AsyncOperation` (status) and `Location` (result) URLs.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::engine::Engine;
use super::http::{self, ArmRequest};
use super::lro::OperationStatus;
use super::read::OperationResult;
use crate::error::{ArmError, ErrorResponse};
use crate::store::operation;

/// The path of a resource provider's monitor URLs, declared once for both of them.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub struct MonitorPath {
    subscription_id: String,
    namespace: String,
    #[expect(
        dead_code,
        reason = "part of the URL ARM gives out; the operation is found by its id"
    )]
    location: String,
    operation_id: String,
}

/// What a resource provider's monitor extracts (actix extracts a tuple in order).
type Monitor = (ArmRequest, web::Path<MonitorPath>, web::Data<Engine>);

/// The operation a monitor URL names: a resource provider's (with its namespace) or a
/// resource group's (without).
struct Named {
    subscription: String,
    namespace: Option<String>,
    operation_id: String,
}

impl Named {
    fn provider(path: web::Path<MonitorPath>) -> Self {
        let MonitorPath {
            subscription_id,
            namespace,
            operation_id,
            ..
        } = path.into_inner();
        Self {
            subscription: subscription_id,
            namespace: Some(namespace),
            operation_id,
        }
    }
}

/// The operation a monitor URL names, as the caller may see it.
async fn monitored(
    req: &ArmRequest,
    engine: &Engine,
    named: &Named,
) -> Result<operation::Model, ArmError> {
    let cx = req.context_unchecked(req.api_version()?);
    engine
        .operation(
            &cx,
            &named.subscription,
            named.namespace.as_deref(),
            &named.operation_id,
        )
        .await
}

/// The status of an operation.
#[utoipa::path(
    tag = "Operations",
    params(MonitorPath, ("api-version" = String, Query)),
    responses(
        (status = 200, description = "The operation's status", body = OperationStatus),
        (status = 404, description = "No such operation", body = ErrorResponse)
    )
)]
#[get(
    "/subscriptions/{subscriptionId}/providers/{namespace}/locations/{location}/operationStatuses/{operationId}"
)]
pub async fn operation_status((req, path, engine): Monitor) -> Result<HttpResponse, ArmError> {
    let named = Named::provider(path);
    let row = monitored(&req, &engine, &named).await?;
    let status = OperationStatus::from_row(&row, &named.subscription);
    let mut response = HttpResponse::Ok();
    // Clients wait Retry-After between polls, or 30 s without it: keep it short while running.
    if status.status == crate::arm::lro::IN_PROGRESS {
        response.insert_header(("Retry-After", "1"));
    }
    Ok(response.json(status))
}

async fn result(
    req: &ArmRequest,
    engine: &Engine,
    named: &Named,
) -> Result<HttpResponse, ArmError> {
    let row = monitored(req, engine, named).await?;
    Ok(match engine.operation_result(&row).await? {
        OperationResult::Running => http::accepted(
            &engine.operation_ref(&row, &named.subscription),
            &req.base_url,
        ),
        OperationResult::Resource(body, etag) => http::resource(StatusCode::OK, &etag, &body),
        // Resource groups answer 200 when gone, as ARM's own operationresults do.
        OperationResult::Deleted if named.namespace.is_none() => HttpResponse::Ok().finish(),
        OperationResult::Deleted => HttpResponse::NoContent().finish(),
        OperationResult::Failed(err) => return Err(err),
    })
}

/// The result of a resource provider's operation: 202 while running, then what the
/// synchronous call would have answered.
#[utoipa::path(
    tag = "Operations",
    params(MonitorPath, ("api-version" = String, Query)),
    responses(
        (status = 200, description = "Finished: the resource"),
        (status = 202, description = "Still running"),
        (status = 204, description = "Finished: deleted"),
        (status = 404, description = "No such operation", body = ErrorResponse)
    )
)]
#[get(
    "/subscriptions/{subscriptionId}/providers/{namespace}/locations/{location}/operationResults/{operationId}"
)]
pub async fn operation_result((req, path, engine): Monitor) -> Result<HttpResponse, ArmError> {
    result(&req, &engine, &Named::provider(path)).await
}

/// The result of a resource-group operation (ARM's `operationresults`).
#[utoipa::path(
    tag = "Operations",
    params(("subscriptionId" = String, Path), ("operationId" = String, Path), ("api-version" = String, Query)),
    responses(
        (status = 200, description = "Finished"),
        (status = 202, description = "Still running"),
        (status = 404, description = "No such operation", body = ErrorResponse)
    )
)]
#[get("/subscriptions/{subscriptionId}/operationResults/{operationId}")]
pub async fn group_operation_result(
    req: ArmRequest,
    path: web::Path<(String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let (subscription, operation_id) = path.into_inner();
    let named = Named {
        subscription,
        namespace: None,
        operation_id,
    };
    result(&req, &engine, &named).await
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(operation_status)
        .service(operation_result)
        .service(group_operation_result);
}
