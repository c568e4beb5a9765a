//! Connection endpoints under `Microsoft.MachineLearningServices/workspaces`: all synchronous
//! (PUT 200, DELETE 200/204), lists on one page, `listsecrets` as a POST action.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::{Connection, ConnectionList};
use super::service::{self, ListFilter};
use super::{WORKSPACE_CONNECTIONS, WORKSPACE_HOST};
use crate::arm::engine::{DeleteResult, Engine};
use crate::arm::http::{self, ArmRequest, JsonBody};
use crate::arm::id::ResourceId;
use crate::error::{ArmError, ErrorResponse};
use crate::secrets::MasterKeys;

/// The path of one connection.
#[derive(Deserialize, IntoParams)]
#[into_params(
    names("subscriptionId", "resourceGroupName", "workspaceName", "connectionName"),
    parameter_in = Path
)]
pub struct ConnectionPath(String, String, String, String);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiVersion {
    #[serde(rename = "api-version")]
    pub api_version: String,
}

fn workspace_id(sub: &str, group: &str, workspace: &str) -> ResourceId {
    ResourceId::resource(
        sub,
        group,
        WORKSPACE_CONNECTIONS.namespace,
        &[("workspaces", workspace)],
    )
}

fn connection_id(path: &ConnectionPath) -> ResourceId {
    ResourceId::resource(
        &path.0,
        &path.1,
        WORKSPACE_CONNECTIONS.namespace,
        &[("workspaces", &path.2), ("connections", &path.3)],
    )
}

/// Creates or replaces a connection (synchronous). Secret credential fields are sealed and
/// left out of the answer; a replace that omits them keeps the stored ones.
#[utoipa::path(tag = "Connections",
    params(ConnectionPath, ApiVersion),
    request_body = Connection,
    responses((status = 200, body = Connection), (status = "4XX", body = ErrorResponse)))]
#[put(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}/connections/{connectionName}"
)]
pub async fn create_or_update_connection(
    req: ArmRequest,
    path: web::Path<ConnectionPath>,
    body: JsonBody,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&WORKSPACE_CONNECTIONS)?;
    let result = engine
        .put(&cx, &connection_id(&path), &body.0, &req.preconditions)
        .await?;
    Ok(http::write(&result, StatusCode::OK, &cx.base_url))
}

/// A connection without its secrets. Through a project, a connection its hub shares with it
/// answers too, with its own id (under the hub).
#[utoipa::path(tag = "Connections",
    params(ConnectionPath, ApiVersion),
    responses((status = 200, body = Connection), (status = 404, body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}/connections/{connectionName}"
)]
pub async fn get_connection(
    req: ArmRequest,
    path: web::Path<ConnectionPath>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&WORKSPACE_CONNECTIONS)?;
    let (body, etag) = service::get(&engine, &WORKSPACE_HOST, &cx, &connection_id(&path)).await?;
    Ok(http::resource(StatusCode::OK, &etag, &body))
}

/// Merges `properties` (RFC 7396). Secret fields left out keep their stored values, unless
/// the change moves `target` or `authUrl`: then they must be given again (400
/// `CredentialsRequired`).
#[utoipa::path(tag = "Connections",
    params(ConnectionPath, ApiVersion),
    request_body = Connection,
    responses((status = 200, body = Connection), (status = "4XX", body = ErrorResponse)))]
#[patch(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}/connections/{connectionName}"
)]
pub async fn update_connection(
    req: ArmRequest,
    path: web::Path<ConnectionPath>,
    body: JsonBody,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&WORKSPACE_CONNECTIONS)?;
    let id = connection_id(&path);
    let result = service::patch(
        &engine,
        &WORKSPACE_HOST,
        &cx,
        &id,
        &body.0,
        &req.preconditions,
    )
    .await?;
    Ok(http::write(&result, StatusCode::OK, &cx.base_url))
}

/// Deletes a connection and its sealed secrets: 200, or 204 when absent.
#[utoipa::path(tag = "Connections",
    params(ConnectionPath, ApiVersion),
    responses((status = 200, description = "Deleted"), (status = 204, description = "Did not exist"), (status = "4XX", body = ErrorResponse)))]
#[delete(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}/connections/{connectionName}"
)]
pub async fn delete_connection(
    req: ArmRequest,
    path: web::Path<ConnectionPath>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&WORKSPACE_CONNECTIONS)?;
    let id = connection_id(&path);
    Ok(
        match service::delete(&engine, &WORKSPACE_HOST, &cx, &id, &req.preconditions).await? {
            DeleteResult::Absent => HttpResponse::NoContent().finish(),
            DeleteResult::Deleted => HttpResponse::Ok().finish(),
            DeleteResult::Accepted(op) => http::accepted(&op, &cx.base_url),
        },
    )
}

/// The connection with its credentials. Needs
/// `Microsoft.MachineLearningServices/workspaces/connections/listsecrets/action`.
#[utoipa::path(tag = "Connections",
    params(ConnectionPath, ApiVersion),
    responses((status = 200, body = Connection), (status = "4XX", body = ErrorResponse)))]
#[post(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}/connections/{connectionName}/listsecrets"
)]
pub async fn list_connection_secrets(
    req: ArmRequest,
    path: web::Path<ConnectionPath>,
    engine: web::Data<Engine>,
    keys: web::Data<Arc<MasterKeys>>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&WORKSPACE_CONNECTIONS)?;
    let body =
        service::list_secrets(&engine, &WORKSPACE_HOST, &keys, &cx, &connection_id(&path)).await?;
    // Secrets must not be kept by a cache on the way or in a browser.
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .insert_header(("pragma", "no-cache"))
        .json(body))
}

/// A workspace's connections and, for a project, those its hub shares with it: all on one
/// page, each with `createdByWorkspaceArmId`.
#[utoipa::path(tag = "Connections",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("workspaceName" = String, Path), ("api-version" = String, Query), ("category" = Option<String>, Query), ("target" = Option<String>, Query)),
    responses((status = 200, body = ConnectionList), (status = 404, body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}/connections"
)]
pub async fn list_connections(
    req: ArmRequest,
    path: web::Path<(String, String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(&WORKSPACE_CONNECTIONS)?;
    let given = |name: &str| req.param(name).filter(|v| !v.is_empty()).map(str::to_owned);
    let filter = ListFilter {
        category: given("category"),
        target: given("target"),
    };
    let parent = workspace_id(&path.0, &path.1, &path.2);
    let items = service::list(&engine, &WORKSPACE_HOST, &cx, &parent, &filter).await?;
    Ok(http::list(items, None))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_connections)
        .service(create_or_update_connection)
        .service(get_connection)
        .service(update_connection)
        .service(delete_connection)
        .service(list_connection_secrets);
}
