//! Workspace endpoints: extract, call the engine, answer with the status codes the clients of
//! each api-version accept (PUT 200/202, never 201).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, put, web};

use super::model::{Workspace, WorkspaceList};
use super::{DESCRIPTOR, SYNC_PATCH_VERSION};
use crate::arm::engine::{DeleteResult, Engine, WriteOutcome};
use crate::arm::http::{self, ArmRequest, JsonBody};
use crate::arm::id::ResourceId;
use crate::arm::read::{ListFilter, ListScope};
use crate::error::{ArmError, ErrorResponse};

fn workspace_id(path: &(String, String, String)) -> ResourceId {
    ResourceId::resource(
        &path.0,
        &path.1,
        DESCRIPTOR.namespace,
        &[("workspaces", &path.2)],
    )
}

fn kind_filter(req: &ArmRequest) -> ListFilter {
    ListFilter {
        kind_key: req
            .param("kind")
            .filter(|k| !k.is_empty())
            .map(str::to_lowercase),
        type_key: None,
    }
}

/// Creates or replaces a workspace: 202 with monitors while it provisions.
#[utoipa::path(tag = "Workspaces",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("workspaceName" = String, Path), ("api-version" = String, Query)),
    request_body = Workspace,
    responses(
        (status = 200, description = "Done", body = Workspace),
        (status = 202, description = "Provisioning; follow Location or Azure-AsyncOperation", body = Workspace),
        (status = "4XX", body = ErrorResponse)))]
#[put(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}"
)]
pub async fn create_or_update(
    req: ArmRequest,
    path: web::Path<(String, String, String)>,
    body: JsonBody,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let result = engine
        .put(&cx, &workspace_id(&path), &body.0, &req.preconditions)
        .await?;
    Ok(http::write(&result, StatusCode::OK, &cx.base_url))
}

#[utoipa::path(tag = "Workspaces",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("workspaceName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, body = Workspace), (status = 404, body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}"
)]
pub async fn get_workspace(
    req: ArmRequest,
    path: web::Path<(String, String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let (body, etag) = engine.get(&cx, &workspace_id(&path)).await?;
    Ok(http::resource(StatusCode::OK, &etag, &body))
}

/// Merges `properties` (RFC 7396) and replaces `tags`. 2020-08-01's client does not poll a
/// PATCH, so that version waits for the operation and answers 200.
#[utoipa::path(tag = "Workspaces",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("workspaceName" = String, Path), ("api-version" = String, Query)),
    request_body = Workspace,
    responses((status = 200, body = Workspace), (status = 202, body = Workspace), (status = "4XX", body = ErrorResponse)))]
#[patch(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}"
)]
pub async fn update(
    req: ArmRequest,
    path: web::Path<(String, String, String)>,
    body: JsonBody,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let id = workspace_id(&path);
    let result = engine.patch(&cx, &id, &body.0, &req.preconditions).await?;
    if cx.api_version != SYNC_PATCH_VERSION {
        return Ok(http::write(&result, StatusCode::OK, &cx.base_url));
    }
    if let WriteOutcome::Accepted(op) = &result.outcome {
        engine.wait_for(&op.id, Duration::from_secs(30)).await?;
    }
    let (body, etag) = engine.get(&cx, &id).await?;
    Ok(http::resource(StatusCode::OK, &etag, &body))
}

/// Deletes a workspace: 202 + Location, then GET is 404; 204 when absent; 409 for a hub that
/// still has projects.
#[utoipa::path(tag = "Workspaces",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("workspaceName" = String, Path), ("api-version" = String, Query)),
    responses((status = 202, description = "Deletion started"), (status = 204, description = "Did not exist"), (status = 409, body = ErrorResponse)))]
#[delete(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}"
)]
pub async fn delete_workspace(
    req: ArmRequest,
    path: web::Path<(String, String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    Ok(
        match engine
            .delete(&cx, &workspace_id(&path), &req.preconditions)
            .await?
        {
            DeleteResult::Absent => HttpResponse::NoContent().finish(),
            DeleteResult::Deleted => HttpResponse::Ok().finish(),
            DeleteResult::Accepted(op) => http::accepted(&op, &cx.base_url),
        },
    )
}

#[utoipa::path(tag = "Workspaces",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("api-version" = String, Query), ("kind" = Option<String>, Query), ("$top" = Option<u64>, Query), ("$skipToken" = Option<String>, Query)),
    responses((status = 200, body = WorkspaceList), (status = 404, body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces"
)]
pub async fn list_by_group(
    req: ArmRequest,
    hreq: HttpRequest,
    path: web::Path<(String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&DESCRIPTOR)?;
    let scope = ListScope::Parent {
        parent: ResourceId::resource_group(&path.0, &path.1),
        type_key: DESCRIPTOR.type_key(),
    };
    req.list(
        &engine,
        &hreq,
        &cx,
        &scope,
        &kind_filter(&req),
        &DESCRIPTOR.action("read"),
    )
    .await
}

#[utoipa::path(tag = "Workspaces",
    params(("subscriptionId" = String, Path), ("api-version" = String, Query), ("kind" = Option<String>, Query), ("$top" = Option<u64>, Query), ("$skipToken" = Option<String>, Query)),
    responses((status = 200, body = WorkspaceList)))]
#[get("/subscriptions/{subscriptionId}/providers/Microsoft.MachineLearningServices/workspaces")]
pub async fn list_by_subscription(
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
        &kind_filter(&req),
        &DESCRIPTOR.action("read"),
    )
    .await
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_by_subscription)
        .service(list_by_group)
        .service(create_or_update)
        .service(get_workspace)
        .service(update)
        .service(delete_workspace);
}
