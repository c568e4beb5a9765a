//! Operation monitors: `Azure-AsyncOperation` (status) and `Location` (result) URLs.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};

use super::engine::Engine;
use super::http::{self, ArmRequest};
use super::lro::OperationStatus;
use super::read::OperationResult;
use crate::error::{ArmError, ErrorResponse};

/// The status of an operation.
#[utoipa::path(
    tag = "Operations",
    params(
        ("subscriptionId" = String, Path), ("namespace" = String, Path), ("location" = String, Path),
        ("operationId" = String, Path), ("api-version" = String, Query)
    ),
    responses(
        (status = 200, description = "The operation's status", body = OperationStatus),
        (status = 404, description = "No such operation", body = ErrorResponse)
    )
)]
#[get(
    "/subscriptions/{subscriptionId}/providers/{namespace}/locations/{location}/operationStatuses/{operationId}"
)]
pub async fn operation_status(
    req: ArmRequest,
    path: web::Path<(String, String, String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let (subscription, namespace, _location, operation_id) = path.into_inner();
    let cx = req.context_unchecked(req.api_version()?);
    let row = engine
        .operation(&cx, &subscription, Some(&namespace), &operation_id)
        .await?;
    let status = OperationStatus::from_row(&row, &subscription);
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
    subscription: &str,
    namespace: Option<&str>,
    operation_id: &str,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context_unchecked(req.api_version()?);
    let row = engine
        .operation(&cx, subscription, namespace, operation_id)
        .await?;
    Ok(match engine.operation_result(&row).await? {
        OperationResult::Running => {
            http::accepted(&engine.operation_ref(&row, subscription), &req.base_url)
        }
        OperationResult::Resource(body, etag) => http::resource(StatusCode::OK, &etag, &body),
        // Resource groups answer 200 when gone, as ARM's own operationresults do.
        OperationResult::Deleted if namespace.is_none() => HttpResponse::Ok().finish(),
        OperationResult::Deleted => HttpResponse::NoContent().finish(),
        OperationResult::Failed(err) => return Err(err),
    })
}

/// The result of a resource provider's operation: 202 while running, then what the
/// synchronous call would have answered.
#[utoipa::path(
    tag = "Operations",
    params(
        ("subscriptionId" = String, Path), ("namespace" = String, Path), ("location" = String, Path),
        ("operationId" = String, Path), ("api-version" = String, Query)
    ),
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
pub async fn operation_result(
    req: ArmRequest,
    path: web::Path<(String, String, String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let (subscription, namespace, _location, operation_id) = path.into_inner();
    result(
        &req,
        &engine,
        &subscription,
        Some(&namespace),
        &operation_id,
    )
    .await
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
    result(&req, &engine, &subscription, None, &operation_id).await
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(operation_status)
        .service(operation_result)
        .service(group_operation_result);
}
