//! Every authType of the spec, with its credentials shape: secrets sealed on write, shown
//! only by listsecrets; lists, filters, PATCH, replace and delete.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{connection_path, list_secrets, put_connection, with_api};
use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_refused, error_code};

/// (authType, credentials, the credential fields GET may show).
fn cases() -> Vec<(&'static str, Value, &'static [&'static str])> {
    vec![
        ("None", Value::Null, &[]),
        ("PAT", json!({"pat": "secret-pat"}), &[]),
        (
            "ManagedIdentity",
            json!({"clientId": "11111111-2222-3333-4444-555555555555", "resourceId": "/subscriptions/x/resourceGroups/y/providers/Microsoft.ManagedIdentity/userAssignedIdentities/z"}),
            &["clientId", "resourceId"],
        ),
        (
            "UsernamePassword",
            json!({"username": "sa", "password": "secret-password", "securityToken": "secret-token"}),
            &["username"],
        ),
        ("SAS", json!({"sas": "secret-sas"}), &[]),
        ("AccountKey", json!({"key": "secret-account-key"}), &[]),
        (
            "ServicePrincipal",
            json!({"clientId": "c1", "clientSecret": "secret-client", "tenantId": "t1"}),
            &["clientId", "tenantId"],
        ),
        (
            "AccessKey",
            json!({"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "secret-access"}),
            &["accessKeyId"],
        ),
        ("ApiKey", json!({"key": "secret-api-key"}), &[]),
        (
            "CustomKeys",
            json!({"keys": {"x-api-key": "secret-custom-1", "other": "secret-custom-2"}}),
            &[],
        ),
        (
            "OAuth2",
            json!({"clientId": "6f1c4bb1-7c4c-4b7f-9bb8-0a3f2f7bd6a1", "clientSecret": "secret-oauth", "authUrl": "https://login.example.com/token",
                   "developerToken": "secret-dev", "password": "secret-oauth-password", "refreshToken": "secret-refresh", "tenantId": "t2", "username": "bob"}),
            &["clientId", "authUrl", "tenantId", "username"],
        ),
        ("AAD", Value::Null, &[]),
        ("AgenticIdentityToken", Value::Null, &[]),
    ]
}

fn public_part(credentials: &Value, public: &[&str]) -> Option<Value> {
    let map: serde_json::Map<String, Value> = credentials
        .as_object()?
        .iter()
        .filter(|(k, _)| public.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!map.is_empty()).then_some(Value::Object(map))
}

async fn every_auth_type_round_trips(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.hub("rg", "hub").await;
    let cases = cases();
    for (i, (auth_type, credentials, public)) in cases.iter().enumerate() {
        let name = format!("conn-{}", auth_type.to_lowercase());
        let path = connection_path(&app, "rg", "hub", &name);
        let category = if i % 2 == 0 {
            "AzureOpenAI"
        } else {
            "SomethingNewer"
        };
        let mut properties = json!({"authType": auth_type, "category": category, "target": format!("https://t{i}.example.com"),
                                    "metadata": {"ApiType": "Azure"}});
        if !credentials.is_null() {
            properties["credentials"] = credentials.clone();
        }
        let created = put_connection(&app, &path, properties).await;
        let text = created.to_string();
        assert!(
            !text.contains("secret-"),
            "PUT answer of {auth_type}: {text}"
        );
        assert_eq!(created["properties"]["authType"], json!(auth_type));
        assert_eq!(
            created["properties"]["category"],
            json!(category),
            "categories are stored as given"
        );
        assert_eq!(
            created["type"],
            "Microsoft.MachineLearningServices/workspaces/connections"
        );
        assert_eq!(
            created["properties"].get("credentials").cloned(),
            public_part(credentials, public),
            "{auth_type}"
        );
        let got: Value = app.get_ok(&with_api(&path)).await;
        assert_eq!(
            got["properties"], created["properties"],
            "GET of {auth_type}"
        );
        // Secrets must not stay in a cache on the way.
        let res = super::list_secrets_as(&app, &app.token, &path).await;
        assert_eq!(res.headers()["cache-control"], "no-store", "{auth_type}");
        assert_eq!(res.headers()["pragma"], "no-cache");
        let revealed: Value = res.json().await.unwrap();
        assert_eq!(revealed["id"], created["id"]);
        let expected = if credentials.is_null() {
            None
        } else {
            Some(credentials.clone())
        };
        assert_eq!(
            revealed["properties"].get("credentials").cloned(),
            expected,
            "listsecrets of {auth_type}"
        );
    }

    let list_path = with_api(&format!("{}/connections", app.workspace_path("rg", "hub")));
    let list: Value = app.get_ok(&list_path).await;
    assert_eq!(list["value"].as_array().unwrap().len(), cases.len());
    assert!(list.get("nextLink").is_none(), "one page");
    assert!(!list.to_string().contains("secret-"));
    let by_category: Value = app
        .get_ok(&format!("{list_path}&category=azureopenai"))
        .await;
    assert_eq!(
        by_category["value"].as_array().unwrap().len(),
        cases.len().div_ceil(2)
    );
    let by_target: Value = app
        .get_ok(&format!("{list_path}&target=https://t4.example.com"))
        .await;
    assert_eq!(by_target["value"].as_array().unwrap().len(), 1);
    assert_eq!(by_target["value"][0]["name"], "conn-sas");

    // PATCH and a GET → PUT round trip keep the secrets they do not mention, but a key is
    // never sent somewhere new without being given again: a writer who may not read it
    // could otherwise point it at a server of theirs.
    let api_key = connection_path(&app, "rg", "hub", "conn-apikey");
    let mut moved: Value = app.get_ok(&with_api(&api_key)).await;
    moved["properties"]["target"] = json!("https://attacker.example");
    let oauth = connection_path(&app, "rg", "hub", "conn-oauth2");
    for (case, method, path, body) in [
        (
            "PATCH of the target with the authType",
            Method::PATCH,
            &api_key,
            json!({"properties": {"authType": "ApiKey", "target": "https://attacker.example"}}),
        ),
        (
            "PATCH of the target in other casing",
            Method::PATCH,
            &api_key,
            json!({"properties": {"Target": "https://attacker.example"}}),
        ),
        (
            "PUT of the GET with a new target",
            Method::PUT,
            &api_key,
            moved,
        ),
        (
            "PATCH of an OAuth2 authUrl",
            Method::PATCH,
            &oauth,
            json!({"properties": {"credentials": {"authUrl": "https://attacker.example/token"}}}),
        ),
    ] {
        let res = app.send(method, &with_api(path), Some(&body)).await;
        assert_refused(case, res, StatusCode::BAD_REQUEST, "CredentialsRequired").await;
    }
    let res = app
        .patch(
            &with_api(&api_key),
            &json!({"properties": {"target": "https://moved.example.com", "credentials": {"key": "secret-api-key"}}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let got: Value = app.get_ok(&with_api(&api_key)).await;
    assert_eq!(got["properties"]["target"], "https://moved.example.com");
    let res = app.put(&with_api(&api_key), &got).await;
    assert_eq!(res.status(), StatusCode::OK);
    let revealed = list_secrets(&app, &api_key).await;
    assert_eq!(
        revealed["properties"]["credentials"],
        json!({"key": "secret-api-key"})
    );
    // A new key replaces the old one.
    let res = app
        .patch(
            &with_api(&api_key),
            &json!({"properties": {"credentials": {"key": "secret-rotated"}}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let revealed = list_secrets(&app, &api_key).await;
    assert_eq!(
        revealed["properties"]["credentials"],
        json!({"key": "secret-rotated"})
    );
    // Another authType drops the secrets of the old one.
    put_connection(
        &app,
        &api_key,
        json!({"authType": "AAD", "category": "AzureOpenAI"}),
    )
    .await;
    let revealed = list_secrets(&app, &api_key).await;
    assert!(
        revealed["properties"].get("credentials").is_none(),
        "{revealed}"
    );

    // The 2020-08-01 shape: the secret travels in `value`.
    let legacy = connection_path(&app, "rg", "hub", "legacy");
    let res = app
        .put(
            &format!("{legacy}?api-version=2020-08-01"),
            &json!({"properties": {"category": "PythonFeed", "target": "https://pypi.example.com", "authType": "PAT", "value": "secret-legacy", "valueFormat": "JSON"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(!body.contains("secret-legacy"), "{body}");
    assert_eq!(
        list_secrets(&app, &legacy).await["properties"]["value"],
        "secret-legacy"
    );

    for (case, name, body, code) in [
        (
            "no authType",
            "no-auth",
            json!({"properties": {"category": "ApiKey"}}),
            "AuthTypeRequired",
        ),
        (
            "a one-letter name",
            "x",
            json!({"properties": {"authType": "None"}}),
            "InvalidResourceName",
        ),
    ] {
        let path = connection_path(&app, "rg", "hub", name);
        let res = app.put(&with_api(&path), &body).await;
        assert_refused(case, res, StatusCode::BAD_REQUEST, code).await;
    }

    let res = app.delete(&with_api(&api_key)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.delete(&with_api(&api_key)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.get(&with_api(&api_key)).await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "ResourceNotFound"
    );
    let res = super::list_secrets_as(&app, &app.token, &api_key).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let missing_parent = connection_path(&app, "rg", "nohub", "c-1");
    let res = app
        .put(
            &with_api(&missing_parent),
            &json!({"properties": {"authType": "None"}}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "ParentResourceNotFound"
    );
}

both_backends!(every_auth_type_round_trips);
