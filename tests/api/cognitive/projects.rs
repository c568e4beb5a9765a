//! Foundry projects: only on an account that allows them; the first is the default; they go
//! with their account.

use reqwest::StatusCode;
use serde_json::json;

use super::CS_API;
use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_refused};

both_backends!(
    projects_live_on_accounts_that_allow_them,
    a_project_goes_with_its_account,
);

fn project_url(app: &TestApp, account: &str, project: &str) -> String {
    format!(
        "{}/projects/{project}?api-version={CS_API}",
        app.account_path("rg", account)
    )
}

async fn projects_live_on_accounts_that_allow_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.put_and_wait(
        &app.account_url("rg", "classic"),
        &json!({"location": "eastus", "kind": "OpenAI", "sku": {"name": "S0"}, "properties": {}}),
    )
    .await;
    let body = json!({"location": "eastus", "identity": {"type": "SystemAssigned"},
                      "properties": {"displayName": "First", "description": "the first"}});
    let res = app.put(&project_url(&app, "classic", "p1"), &body).await;
    assert_refused(
        "a project on an account without project management",
        res,
        StatusCode::BAD_REQUEST,
        "ProjectManagementNotAllowed",
    )
    .await;
    let res = app.put(&project_url(&app, "absent", "p1"), &body).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    app.foundry_account("rg", "foundry", "kiln-projects").await;
    let first = app
        .put_and_wait(&project_url(&app, "foundry", "p1"), &body)
        .await;
    assert_eq!(
        first["properties"]["provisioningState"], "Succeeded",
        "{first}"
    );
    assert_eq!(first["properties"]["displayName"], "First");
    assert_eq!(first["properties"]["isDefault"], true);
    assert_eq!(
        first["properties"]["endpoints"]["AI Foundry API"],
        "https://kiln-projects.services.ai.azure.com/api/projects/p1"
    );
    assert!(first["identity"]["principalId"].is_string(), "{first}");
    let second = app
        .put_and_wait(
            &project_url(&app, "foundry", "p2"),
            &json!({"location": "eastus"}),
        )
        .await;
    assert_eq!(second["properties"]["isDefault"], false);

    let account = app.get_ok(&app.account_url("rg", "foundry")).await;
    assert_eq!(account["properties"]["defaultProject"], "p1");
    assert_eq!(
        account["properties"]["associatedProjects"],
        json!(["p1", "p2"])
    );
    let list = app
        .get_ok(&format!(
            "{}/projects?api-version={CS_API}",
            app.account_path("rg", "foundry")
        ))
        .await;
    assert_eq!(list["value"].as_array().unwrap().len(), 2);

    // The account names another default: the projects show it.
    app.put_and_wait(
        &app.account_url("rg", "foundry"),
        &json!({"location": "eastus", "kind": "AIServices", "sku": {"name": "S0"},
                "properties": {"allowProjectManagement": true, "defaultProject": "p2"}}),
    )
    .await;
    let p2 = app.get_ok(&project_url(&app, "foundry", "p2")).await;
    assert_eq!(p2["properties"]["isDefault"], true);
    let p1 = app.get_ok(&project_url(&app, "foundry", "p1")).await;
    assert_eq!(p1["properties"]["isDefault"], false);
}

async fn a_project_goes_with_its_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.foundry_account("rg", "foundry", "kiln-goes").await;
    app.put_and_wait(
        &project_url(&app, "foundry", "p1"),
        &json!({"location": "eastus"}),
    )
    .await;
    app.delete_and_wait(&project_url(&app, "foundry", "p1"))
        .await;
    assert_eq!(
        app.get(&project_url(&app, "foundry", "p1")).await.status(),
        StatusCode::NOT_FOUND
    );
    app.put_and_wait(
        &project_url(&app, "foundry", "p2"),
        &json!({"location": "eastus"}),
    )
    .await;
    app.delete_and_wait(&app.account_url("rg", "foundry")).await;
    assert_eq!(
        app.get(&project_url(&app, "foundry", "p2")).await.status(),
        StatusCode::NOT_FOUND
    );
}
