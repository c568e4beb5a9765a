//! The common ARM contract: ids, envelope, api-version, error bodies, ETags, headers.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Options, RG_API, TestApp, WS_API, error_code};

both_backends!(
    ids_match_case_insensitively_and_echo_the_latest_casing,
    the_envelope_is_complete,
    api_version_is_required_and_checked,
    bad_requests_get_arm_errors,
    etags_and_preconditions,
    request_and_correlation_ids,
    concurrent_operations_conflict_and_identical_retries_join,
    absolute_urls_use_the_public_base_url,
);

async fn ids_match_case_insensitively_and_echo_the_latest_casing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("Team-RG").await;
    // az sends /resourcegroups/; fixed segments and names are both case-insensitive.
    let lower = format!(
        "/SUBSCRIPTIONS/{}/resourcegroups/team-rg?api-version={RG_API}",
        app.subscription.to_uppercase()
    );
    let body: Value = app.get_ok(&lower).await;
    assert_eq!(
        body["id"],
        format!("/subscriptions/{}/resourceGroups/Team-RG", app.subscription)
    );
    // A PUT in another casing becomes the displayed casing.
    let res = app
        .put(
            &format!(
                "/subscriptions/{}/resourcegroups/TEAM-rg?api-version={RG_API}",
                app.subscription
            ),
            &json!({"location": "eastus"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = app.get_ok(&lower).await;
    assert_eq!(body["name"], "TEAM-rg");
    let hub = app.hub("team-rg", "MyHub").await;
    assert_eq!(hub["name"], "MyHub");
    let path = format!(
        "/subscriptions/{}/RESOURCEGROUPS/TEAM-RG/PROVIDERS/microsoft.machinelearningservices/WORKSPACES/myhub?api-version={WS_API}",
        app.subscription
    );
    let body: Value = app.get_ok(&path).await;
    assert_eq!(body["type"], "Microsoft.MachineLearningServices/workspaces");
    assert_eq!(body["name"], "MyHub");
    assert!(
        body["id"]
            .as_str()
            .unwrap()
            .contains("/providers/Microsoft.MachineLearningServices/workspaces/MyHub")
    );
}

async fn the_envelope_is_complete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let body = app
        .create_workspace(
            "rg",
            "hub1",
            json!({"location": "West Europe", "kind": "Hub", "tags": {"env": "dev"}, "sku": {"name": "Basic", "tier": "Basic"},
                   "identity": {"type": "SystemAssigned"}, "properties": {"friendlyName": "Hub one"}}),
        )
        .await;
    for member in [
        "id",
        "name",
        "type",
        "location",
        "tags",
        "kind",
        "etag",
        "identity",
        "sku",
        "systemData",
        "properties",
    ] {
        assert!(!body[member].is_null(), "{member} missing from {body}");
    }
    assert_eq!(body["location"], "westeurope");
    assert_eq!(body["identity"]["tenantId"], app.tenant);
    assert!(uuid::Uuid::parse_str(body["identity"]["principalId"].as_str().unwrap()).is_ok());
    assert_eq!(body["systemData"]["createdByType"], "User");
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");
}

async fn api_version_is_required_and_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app.get(&app.group_path("rg")).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "MissingApiVersionParameter"
    );
    let res = app
        .get(&format!("{}?api-version=2099-01-01", app.group_path("rg")))
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidApiVersionParameter"
    );
    let res = app
        .get(&format!(
            "{}?api-version=2023-01-01",
            app.workspace_path("rg", "ws1")
        ))
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "NoRegisteredProviderFound"
    );
    let res = app.get("/subscriptions?api-version=1999-01-01").await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidApiVersionParameter"
    );
    // Every version Azure publishes is accepted: the Azure CLI sends Microsoft.Resources
    // 2024-11-01, azure-ai-ml reads workspaces at 2024-10-01-preview.
    app.create_group("rg").await;
    for version in [
        "2015-11-01",
        "2019-10-01",
        "2021-04-01",
        "2024-11-01",
        "2025-04-01",
    ] {
        assert_eq!(
            app.get(&format!("{}?api-version={version}", app.group_path("rg")))
                .await
                .status(),
            StatusCode::OK,
            "{version}"
        );
    }
    for version in ["2016-06-01", "2020-01-01", "2021-01-01", "2022-12-01"] {
        assert_eq!(
            app.get(&format!("/subscriptions?api-version={version}"))
                .await
                .status(),
            StatusCode::OK,
            "{version}"
        );
    }
    for version in [
        "2018-03-01-preview",
        "2020-08-01",
        "2024-04-01",
        "2024-10-01-preview",
        "2025-12-01",
        "2026-05-15-preview",
    ] {
        let res = app
            .get(&format!(
                "{}?api-version={version}",
                app.workspace_path("rg", "absent")
            ))
            .await;
        assert_eq!(
            error_code(res, StatusCode::NOT_FOUND).await,
            "ResourceNotFound",
            "{version}"
        );
    }
}

async fn bad_requests_get_arm_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let group_url = format!("{}?api-version={RG_API}", app.group_path("rg"));
    app.create_group("rg").await;
    let ws_url = app.workspace_url("rg", "ws1");

    // Unknown routes, namespaces and methods.
    let res = app.get("/nothing/here").await;
    assert_eq!(error_code(res, StatusCode::NOT_FOUND).await, "NotFound");
    let res = app
        .get(&format!(
            "{}/providers/Contoso.Nope/things/x?api-version=1",
            app.group_path("rg")
        ))
        .await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "InvalidResourceNamespace"
    );
    let res = app
        .get(&format!(
            "{}/providers/Microsoft.MachineLearningServices/gadgets/x?api-version={WS_API}",
            app.group_path("rg")
        ))
        .await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "InvalidResourceType"
    );
    let res = app.send(Method::POST, &ws_url, None).await;
    assert_eq!(
        error_code(res, StatusCode::METHOD_NOT_ALLOWED).await,
        "MethodNotAllowed"
    );

    // Bodies: malformed, wrong media type, too large, not an object, unknown member.
    let send_raw = |ct: &'static str, body: Vec<u8>| {
        app.client
            .put(app.url(&ws_url))
            .bearer_auth(&app.token)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let res = send_raw("application/json", b"{\"location\": ".to_vec())
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidRequestContent"
    );
    let res = send_raw("text/plain", b"{}".to_vec()).await.unwrap();
    assert_eq!(
        error_code(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "UnsupportedMediaType"
    );
    let mut big = b"{\"location\":\"eastus\",\"properties\":{\"description\":\"".to_vec();
    big.extend(std::iter::repeat_n(b'x', 4 * 1024 * 1024 + 1));
    big.extend(b"\"}}");
    let res = send_raw("application/json", big).await.unwrap();
    assert_eq!(
        error_code(res, StatusCode::PAYLOAD_TOO_LARGE).await,
        "RequestBodyTooLarge"
    );
    let res = app.put(&ws_url, &json!([1, 2])).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidRequestContent"
    );
    let res = app
        .put(&ws_url, &json!({"location": "eastus", "bogus": true}))
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidRequestContent"
    );
    let res = app.send(Method::PUT, &ws_url, None).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidRequestContent"
    );

    // Names, location, tags.
    let res = app
        .put(
            &app.workspace_url("rg", "x"),
            &json!({"location": "eastus"}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidResourceName"
    );
    let res = app
        .put(
            &app.workspace_url("rg", "bad.name"),
            &json!({"location": "eastus"}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidResourceName"
    );
    let res = app
        .put(
            &format!("{}?api-version={RG_API}", app.group_path("ends-with-dot.")),
            &json!({"location": "eastus"}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidResourceName"
    );
    let res = app.put(&ws_url, &json!({"kind": "Hub"})).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "LocationRequired"
    );
    let res = app
        .put(
            &format!("{}?api-version={RG_API}", app.group_path("rg2")),
            &json!({}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "LocationRequired"
    );
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("t{i}"), json!("v"))).collect();
    let res = app
        .put(&group_url, &json!({"location": "eastus", "tags": many}))
        .await;
    assert_eq!(error_code(res, StatusCode::BAD_REQUEST).await, "InvalidTag");
    let res = app
        .put(
            &group_url,
            &json!({"location": "eastus", "tags": {"a<b": "v"}}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidTagNameCharacters"
    );
    let res = app
        .put(
            &group_url,
            &json!({"location": "eastus", "tags": {"k": "v".repeat(257)}}),
        )
        .await;
    assert_eq!(error_code(res, StatusCode::BAD_REQUEST).await, "InvalidTag");
    let res = app.put(&group_url, &json!({"location": "westus"})).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidResourceLocation"
    );

    // Absent things.
    let res = app.get(&app.workspace_url("nope", "ws1")).await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "ResourceGroupNotFound"
    );
    let res = app
        .put(
            &app.workspace_url("nope", "ws1"),
            &json!({"location": "eastus"}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "ResourceGroupNotFound"
    );
    let res = app
        .get(&format!(
            "/subscriptions/{}/resourceGroups/rg?api-version={RG_API}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "SubscriptionNotFound"
    );
    let res = app.patch(&ws_url, &json!({"tags": {}})).await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "ResourceNotFound"
    );
    let res = app.get(&format!("{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}&$skipToken=%%%", app.group_path("rg"))).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidSkipToken"
    );
    let res = app.get(&format!("{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}&$top=zero", app.group_path("rg"))).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidParameter"
    );

    // Encoded '/', '\\' and control characters never reach a lookup; NUL never reaches storage.
    for path in [
        format!("/subscriptions/%00/resourceGroups?api-version={RG_API}"),
        format!("{}%00?api-version={RG_API}", app.group_path("rg")),
        format!(
            "/subscriptions/{}/resourceGroups/rg%2Fproviders%2FMicrosoft.MachineLearningServices%2Fworkspaces%2Fws1?api-version={RG_API}",
            app.subscription
        ),
        format!(
            "{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}&kind=%00",
            app.group_path("rg")
        ),
    ] {
        assert_eq!(
            error_code(app.get(&path).await, StatusCode::BAD_REQUEST).await,
            "InvalidParameter",
            "{path}"
        );
        // Item paths (not lists, which have no DELETE) refuse deletes the same way.
        if !path.contains("workspaces?") && !path.contains("resourceGroups?") {
            let res = app.delete(&path).await;
            assert_eq!(
                error_code(res, StatusCode::BAD_REQUEST).await,
                "InvalidParameter",
                "{path}"
            );
        }
    }
    let res = app
        .put(
            &group_url,
            &json!({"location": "eastus", "tags": {"a": "\u{0}"}}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidRequestContent"
    );
    let res = app
        .put(
            &ws_url,
            &json!({"location": "eastus", "properties": {"description": "a\u{0}b"}}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidRequestContent"
    );
    let token = base64_url("/subscriptions/x\u{0}");
    let res = app.get(&format!("{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}&$skipToken={token}", app.group_path("rg"))).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidSkipToken"
    );

    // None of this created anything.
    let list: Value = app
        .get_ok(&format!(
            "/subscriptions/{}/resources?api-version={RG_API}",
            app.subscription
        ))
        .await;
    assert_eq!(list["value"].as_array().unwrap().len(), 0);
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

async fn etags_and_preconditions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = format!("{}?api-version={RG_API}", app.group_path("rg"));
    let created = app.put(&url, &json!({"location": "eastus"})).await;
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["etag"], etag);

    let with = |name: &'static str, value: String| {
        app.client
            .put(app.url(&url))
            .bearer_auth(&app.token)
            .header(name, value)
            .json(&json!({"location": "eastus"}))
            .send()
    };
    let res = with("if-match", "\"stale\"".into()).await.unwrap();
    assert_eq!(
        error_code(res, StatusCode::PRECONDITION_FAILED).await,
        "PreconditionFailed"
    );
    let res = with("if-none-match", "*".into()).await.unwrap();
    assert_eq!(
        error_code(res, StatusCode::PRECONDITION_FAILED).await,
        "PreconditionFailed"
    );
    let res = with("if-match", etag.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let new_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag, "ETags change on every write");
    // If-Match on an absent resource fails; If-None-Match: * on an absent one creates.
    let other = format!("{}?api-version={RG_API}", app.group_path("rg2"));
    let res = app
        .client
        .put(app.url(&other))
        .bearer_auth(&app.token)
        .header("if-match", "*")
        .json(&json!({"location": "eastus"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::PRECONDITION_FAILED).await,
        "PreconditionFailed"
    );
    let res = app
        .client
        .put(app.url(&other))
        .bearer_auth(&app.token)
        .header("if-none-match", "*")
        .json(&json!({"location": "eastus"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    // PATCH and DELETE check If-Match too.
    let res = app
        .client
        .patch(app.url(&url))
        .bearer_auth(&app.token)
        .header("if-match", etag.clone())
        .json(&json!({"tags": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::PRECONDITION_FAILED).await,
        "PreconditionFailed"
    );
    let res = app
        .client
        .delete(app.url(&url))
        .bearer_auth(&app.token)
        .header("if-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::PRECONDITION_FAILED).await,
        "PreconditionFailed"
    );
    let res = app
        .client
        .delete(app.url(&url))
        .bearer_auth(&app.token)
        .header("if-match", new_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

async fn request_and_correlation_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app
        .client
        .get(app.url(&format!(
            "/subscriptions?api-version={}",
            crate::helpers::SUB_API
        )))
        .bearer_auth(&app.token)
        .header("x-ms-correlation-request-id", "corr-123")
        .header("x-ms-client-request-id", "client-456")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-ms-correlation-request-id"], "corr-123");
    assert_eq!(res.headers()["x-ms-client-request-id"], "client-456");
    let first = res.headers()["x-ms-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // Every response has one, errors and unknown routes included, and they differ.
    for res in [
        app.client.get(app.url("/x")).send().await.unwrap(),
        app.get("/subscriptions").await,
    ] {
        let id = res.headers()["x-ms-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_ne!(id, first);
        assert!(uuid::Uuid::parse_str(&id).is_ok());
    }
}

async fn concurrent_operations_conflict_and_identical_retries_join(backend: Backend) {
    let app = TestApp::spawn_with(backend, Options::without_worker()).await;
    app.create_group("rg").await;
    let url = app.workspace_url("rg", "hub1");
    let body = json!({"location": "eastus", "kind": "Hub", "properties": {"friendlyName": "a"}});
    let first = app.put(&url, &body).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let op = first.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    // The same PUT again joins the running operation.
    let again = app.put(&url, &body).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(
        again.headers()["azure-asyncoperation"].to_str().unwrap(),
        op
    );
    // A different PUT, a PATCH or a DELETE conflicts.
    let res = app
        .put(
            &url,
            &json!({"location": "eastus", "kind": "Hub", "properties": {"friendlyName": "b"}}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "AnotherOperationInProgress"
    );
    let res = app.patch(&url, &json!({"tags": {"a": "b"}})).await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "AnotherOperationInProgress"
    );
    let res = app.delete(&url).await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "AnotherOperationInProgress"
    );
    // While it runs, GET shows Creating; the monitor says InProgress.
    let body: Value = app.get_ok(&url).await;
    assert_eq!(body["properties"]["provisioningState"], "Creating");
    let status: Value = app.get_absolute(&op).await;
    assert_eq!(status["status"], "InProgress");
    assert_eq!(app.worker.run_once().await.unwrap(), 1);
    let status: Value = app.get_absolute(&op).await;
    assert_eq!(status["status"], "Succeeded");
    assert_eq!(status["percentComplete"], 100.0);
    let res = app.patch(&url, &json!({"tags": {"a": "b"}})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

async fn absolute_urls_use_the_public_base_url(backend: Backend) {
    let options = Options {
        public_url: Some("https://kiln.example.com/"),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.create_group("rg").await;
    app.create_group("rg2").await;
    let res = app
        .put(
            &app.workspace_url("rg", "hub1"),
            &json!({"location": "eastus", "kind": "Hub"}),
        )
        .await;
    for header in ["location", "azure-asyncoperation"] {
        let url = res.headers()[header].to_str().unwrap();
        assert!(
            url.starts_with("https://kiln.example.com/subscriptions/"),
            "{header}: {url}"
        );
    }
    let page: Value = app
        .get_ok(&format!(
            "/subscriptions/{}/resourcegroups?api-version={RG_API}&$top=1",
            app.subscription
        ))
        .await;
    assert!(
        page["nextLink"]
            .as_str()
            .unwrap()
            .starts_with("https://kiln.example.com/subscriptions/")
    );
}
