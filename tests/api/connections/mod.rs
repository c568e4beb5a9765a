//! Connections: every authType round trips with its secrets sealed, sharing between a hub
//! and its projects, secrets that never leak, and master-key rotation under traffic.

mod leaks;
mod rotation;
mod round_trip;
mod sharing;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

pub const API: &str = "2025-12-01";

/// `…/workspaces/{ws}/connections/{name}` (no query).
pub fn connection_path(app: &TestApp, group: &str, workspace: &str, name: &str) -> String {
    format!(
        "{}/connections/{name}",
        app.workspace_path(group, workspace)
    )
}

pub fn with_api(path: &str) -> String {
    format!("{path}?api-version={API}")
}

/// PUTs a connection and asserts the synchronous 200.
pub async fn put_connection(app: &TestApp, path: &str, properties: Value) -> Value {
    let res = app
        .put(&with_api(path), &json!({"properties": properties}))
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "PUT {path}: {body}");
    body
}

pub async fn list_secrets_as(app: &TestApp, token: &str, path: &str) -> Response {
    app.send_as(
        token,
        Method::POST,
        &with_api(&format!("{path}/listsecrets")),
        None,
    )
    .await
}

pub async fn list_secrets(app: &TestApp, path: &str) -> Value {
    let res = list_secrets_as(app, &app.token, path).await;
    assert_eq!(res.status(), StatusCode::OK, "listsecrets {path}");
    res.json().await.unwrap()
}

/// A hub and a project of it in `group`; returns their ids.
pub async fn hub_and_project(
    app: &TestApp,
    group: &str,
    hub: &str,
    project: &str,
) -> (String, String) {
    app.create_group(group).await;
    let hub_body = app.hub(group, hub).await;
    let hub_id = hub_body["id"].as_str().unwrap().to_owned();
    let project_body = app
        .create_workspace(
            group,
            project,
            json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": hub_id}}),
        )
        .await;
    (hub_id, project_body["id"].as_str().unwrap().to_owned())
}
