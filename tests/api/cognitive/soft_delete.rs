//! The soft delete: a deleted account keeps its name, subdomain, keys and projects until it
//! is restored or purged (by its user, or by the sweeper after the retention).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::CS_API;
use super::deployments::{catalog_model, deploy_and_wait, deployment_body, deployment_url};
use crate::both_backends;
use crate::helpers::{Backend, Options, TestApp, assert_refused};

both_backends!(
    a_deleted_account_is_kept_restored_and_purged,
    the_sweeper_purges_accounts_past_their_retention,
    a_deleted_group_soft_deletes_its_accounts,
);

fn deleted_path(app: &TestApp, group: &str, name: &str) -> String {
    format!(
        "/subscriptions/{}/providers/Microsoft.CognitiveServices/locations/eastus/resourceGroups/{group}/deletedAccounts/{name}?api-version={CS_API}",
        app.subscription
    )
}

fn deleted_list(app: &TestApp) -> String {
    format!(
        "/subscriptions/{}/providers/Microsoft.CognitiveServices/deletedAccounts?api-version={CS_API}",
        app.subscription
    )
}

async fn keys_of(app: &TestApp, group: &str, name: &str) -> Value {
    let url = app.cs_url(&format!("{}/listKeys", app.account_path(group, name)));
    let (status, keys) = app.post_json(&url, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    keys
}

async fn subdomain_available(app: &TestApp, name: &str) -> bool {
    let url = app.cs_url(&format!(
        "/subscriptions/{}/providers/Microsoft.CognitiveServices/checkDomainAvailability",
        app.subscription
    ));
    let (_, body) = app.post_json(&url, &json!({"subdomainName": name})).await;
    body["isSubdomainAvailable"].as_bool().unwrap()
}

async fn a_deleted_account_is_kept_restored_and_purged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.foundry_account("rg", "ai1", "kiln-soft").await;
    let project = format!(
        "{}/projects/p1?api-version={CS_API}",
        app.account_path("rg", "ai1")
    );
    app.put_and_wait(
        &project,
        &json!({"location": "eastus", "properties": {"displayName": "P"}}),
    )
    .await;
    let model = catalog_model(&app, "ai1").await;
    let deployment = deployment_url(&app, "ai1", "chat");
    deploy_and_wait(
        &app,
        &deployment,
        &deployment_body(&model["version"], json!(5)),
    )
    .await;
    let keys = keys_of(&app, "rg", "ai1").await;

    app.delete_and_wait(&app.account_url("rg", "ai1")).await;
    assert_eq!(
        app.get(&app.account_url("rg", "ai1")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&deployment).await.status(), StatusCode::NOT_FOUND);
    let deleted = app.get_ok(&deleted_path(&app, "rg", "ai1")).await;
    assert_eq!(deleted["name"], "ai1");
    assert_eq!(deleted["kind"], "AIServices");
    assert!(
        deleted["id"]
            .as_str()
            .unwrap()
            .ends_with("/locations/eastus/resourceGroups/rg/deletedAccounts/ai1"),
        "{deleted}"
    );
    assert!(
        deleted["properties"]["deletionDate"].is_string(),
        "{deleted}"
    );
    assert!(
        deleted["properties"]["scheduledPurgeDate"].is_string(),
        "{deleted}"
    );
    let listed = app.get_ok(&deleted_list(&app)).await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1, "{listed}");
    // Wrong location: not found.
    let elsewhere = deleted_path(&app, "rg", "ai1").replace("/eastus/", "/westus/");
    assert_eq!(app.get(&elsewhere).await.status(), StatusCode::NOT_FOUND);

    // Until the purge, the subdomain and the name stay reserved.
    assert!(!subdomain_available(&app, "kiln-soft").await);
    let other = json!({"location": "eastus", "kind": "AIServices", "sku": {"name": "S0"},
                       "properties": {"customSubDomainName": "kiln-soft"}});
    let res = app.put(&app.account_url("rg", "ai2"), &other).await;
    assert_refused(
        "the subdomain of a deleted account",
        res,
        StatusCode::CONFLICT,
        "CustomDomainInUse",
    )
    .await;
    let again = json!({"location": "eastus", "kind": "AIServices", "sku": {"name": "S0"}});
    let res = app.put(&app.account_url("rg", "ai1"), &again).await;
    assert_refused(
        "the name of a deleted account",
        res,
        StatusCode::CONFLICT,
        "FlagMustBeSetForRestore",
    )
    .await;

    // Restore with only what `az cognitiveservices account recover` sends.
    let restored = app
        .put_and_wait(
            &app.account_url("rg", "ai1"),
            &json!({"location": "eastus", "properties": {"restore": true}}),
        )
        .await;
    assert_eq!(
        restored["properties"]["customSubDomainName"], "kiln-soft",
        "{restored}"
    );
    assert_eq!(restored["kind"], "AIServices");
    assert!(restored["properties"].get("restore").is_none());
    assert_eq!(keys_of(&app, "rg", "ai1").await, keys);
    let p1 = app.get_ok(&project).await;
    assert_eq!(p1["properties"]["displayName"], "P");
    let chat = app.get_ok(&deployment).await;
    assert_eq!(
        (
            chat["sku"]["capacity"].as_i64(),
            chat["properties"]["provisioningState"].as_str()
        ),
        (Some(5), Some("Succeeded")),
        "{chat}"
    );
    assert_eq!(
        app.get(&deleted_path(&app, "rg", "ai1")).await.status(),
        StatusCode::NOT_FOUND
    );

    // Delete again and purge: the name and subdomain are free; a second purge is a no-op.
    app.delete_and_wait(&app.account_url("rg", "ai1")).await;
    let res = app.delete(&deleted_path(&app, "rg", "ai1")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.get(&deleted_path(&app, "rg", "ai1")).await.status(),
        StatusCode::NOT_FOUND
    );
    let res = app.delete(&deleted_path(&app, "rg", "ai1")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(subdomain_available(&app, "kiln-soft").await);
    let fresh = app.foundry_account("rg", "ai1", "kiln-soft").await;
    assert_eq!(fresh["properties"]["associatedProjects"], json!([]));
    assert_ne!(keys_of(&app, "rg", "ai1").await, keys);
}

async fn the_sweeper_purges_accounts_past_their_retention(backend: Backend) {
    let settings = kiln::config::TypeSettings {
        soft_delete_retention: Duration::from_millis(1),
        ..Default::default()
    };
    let options = Options {
        registry: Some(kiln::resources::registry_with(&settings)),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.create_group("rg").await;
    app.foundry_account("rg", "short", "kiln-short").await;
    app.delete_and_wait(&app.account_url("rg", "short")).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let sweep = app.sweeper.run_once().await.unwrap();
    assert!(sweep.housekept >= 1, "{sweep:?}");
    assert_eq!(
        app.get(&deleted_path(&app, "rg", "short")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(subdomain_available(&app, "kiln-short").await);
}

async fn a_deleted_group_soft_deletes_its_accounts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.foundry_account("rg", "ai1", "kiln-in-group").await;
    let res = app
        .delete(&format!("{}?api-version=2024-11-01", app.group_path("rg")))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    app.poll_location(&location).await;
    let deleted = app.get_ok(&deleted_path(&app, "rg", "ai1")).await;
    assert_eq!(
        deleted["properties"]["customSubDomainName"],
        "kiln-in-group"
    );
    assert!(!subdomain_available(&app, "kiln-in-group").await);
}
