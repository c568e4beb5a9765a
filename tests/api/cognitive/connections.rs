//! Connections of accounts and projects: the workspace connections' behaviour (sealed
//! secrets, listsecrets, sharing from the account to its projects).

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::CS_API;
use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(account_connections_keep_secrets_and_share_with_projects);

async fn account_connections_keep_secrets_and_share_with_projects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.foundry_account("rg", "ai1", "kiln-conn").await;
    let account = app.account_path("rg", "ai1");
    let project = format!("{account}/projects/p1");
    app.put_and_wait(
        &format!("{project}?api-version={CS_API}"),
        &json!({"location": "eastus"}),
    )
    .await;
    let shared = format!("{account}/connections/openai?api-version={CS_API}");
    let body = json!({"properties": {"category": "AzureOpenAI", "target": "https://x.openai.azure.com/",
                      "authType": "ApiKey", "isSharedToAll": true, "credentials": {"key": "s3cret-account-key"}}});
    let res = app.put(&shared, &body).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let got = app.get_ok(&shared).await;
    assert!(!got.to_string().contains("s3cret-account-key"), "{got}");
    let secrets = format!("{account}/connections/openai/listsecrets?api-version={CS_API}");
    let (status, revealed) = app.post_json(&secrets, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        revealed["properties"]["credentials"]["key"],
        "s3cret-account-key"
    );

    // The project lists its own connection and the account's shared one, read-only there.
    let own = format!("{project}/connections/search?api-version={CS_API}");
    let res = app
        .put(&own, &json!({"properties": {"category": "CognitiveSearch", "target": "https://s.search.windows.net",
                                          "authType": "ApiKey", "credentials": {"key": "project-key"}}}))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let list = app
        .get_ok(&format!("{project}/connections?api-version={CS_API}"))
        .await;
    let mut names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["openai", "search"], "{list}");
    let through = format!("{project}/connections/openai?api-version={CS_API}");
    assert_eq!(app.get(&through).await.status(), StatusCode::OK);
    let res = app.send(Method::DELETE, &through, None).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(app.get(&shared).await.status(), StatusCode::OK);
}
