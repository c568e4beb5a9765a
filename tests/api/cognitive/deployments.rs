//! Model deployments: the catalog decides what an account can deploy, the quota how much;
//! rate limits follow the capacity; the soft delete keeps deployments (and their quota).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::CS_API;
use crate::both_backends;
use crate::helpers::{Backend, Options, TestApp, assert_refused};
use crate::type_contract::finish;
use kiln::store::outbox;
use sea_orm::EntityTrait;

both_backends!(
    a_deployment_is_made_from_the_catalog_with_its_rate_limits,
    bad_deployments_are_refused_and_change_nothing,
    quota_bounds_deployments_even_under_a_race,
    a_deployment_pauses_and_resumes_where_the_api_version_has_it,
);

const MODEL: &str = "gpt-4o-mini";

pub(super) fn deployment_url(app: &TestApp, account: &str, name: &str) -> String {
    format!(
        "{}/deployments/{name}?api-version={CS_API}",
        app.account_path("rg", account)
    )
}

/// The catalog's entry for MODEL on the account, as its models list shows it.
pub(super) async fn catalog_model(app: &TestApp, account: &str) -> Value {
    let models = app
        .get_ok(&format!(
            "{}/models?api-version={CS_API}",
            app.account_path("rg", account)
        ))
        .await;
    models["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["name"] == MODEL
                && m["skus"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["name"] == "Standard"))
        })
        .cloned()
        .unwrap_or_else(|| panic!("{MODEL} with a Standard sku in {models}"))
}

pub(super) fn deployment_body(version: &Value, capacity: Value) -> Value {
    json!({"sku": {"name": "Standard", "capacity": capacity},
           "properties": {"model": {"format": "OpenAI", "name": MODEL, "version": version}}})
}

async fn deploy(app: &TestApp, account: &str, name: &str, body: &Value) -> reqwest::Response {
    app.put(&deployment_url(app, account, name), body).await
}

/// PUTs a deployment (201 or 200 with Azure-AsyncOperation), waits for it, and GETs it.
pub(super) async fn deploy_and_wait(app: &TestApp, url: &str, body: &Value) -> Value {
    let res = app.put(url, body).await;
    assert!(
        [StatusCode::CREATED, StatusCode::OK].contains(&res.status()),
        "PUT {url}: {}",
        res.status()
    );
    assert_eq!(finish(app, &res).await, "Succeeded");
    app.get_ok(url).await
}

/// The entry of quota `name` in a usages list.
fn usage_of(usages: &Value, name: &str) -> Value {
    usages["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"]["value"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} in {usages}"))
}

async fn set_quota(app: &TestApp, name: &str, limit: i64) {
    let url = format!(
        "/admin/subscriptions/{}/quotas/Microsoft.CognitiveServices/eastus/{name}",
        app.subscription
    );
    let res = app.put(&url, &json!({"limit": limit})).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}

async fn a_deployment_is_made_from_the_catalog_with_its_rate_limits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.foundry_account("rg", "ai1", "kiln-deploy").await;
    let model = catalog_model(&app, "ai1").await;
    let res = deploy(
        &app,
        "ai1",
        "chat",
        &deployment_body(&model["version"], json!(10)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED, "never 202");
    assert!(!res.headers().contains_key("location"));
    assert_eq!(finish(&app, &res).await, "Succeeded");
    let url = deployment_url(&app, "ai1", "chat");
    let got = app.get_ok(&url).await;
    let properties = &got["properties"];
    assert_eq!(properties["provisioningState"], "Succeeded", "{got}");
    assert_eq!(properties["deploymentState"], "Running");
    assert_eq!(properties["raiPolicyName"], "Microsoft.DefaultV2");
    assert_eq!(
        properties["versionUpgradeOption"],
        "OnceNewDefaultVersionAvailable"
    );
    assert_eq!(properties["model"]["version"], model["version"]);
    assert_eq!(got["sku"]["capacity"], 10);
    let per_unit = |key: &str| {
        model["skus"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "Standard")
            .unwrap()["rateLimits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["key"] == key)
            .map(|l| l["count"].as_f64().unwrap())
    };
    let limit_of = |body: &Value, key: &str| {
        body["properties"]["rateLimits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["key"] == key)
            .map(|l| l["count"].as_i64().unwrap())
    };
    if let Some(tokens) = per_unit("token") {
        assert_eq!(
            limit_of(&got, "token"),
            Some((tokens * 10.0).round() as i64),
            "{got}"
        );
    }
    if per_unit("request").is_some() {
        assert_eq!(
            properties["callRateLimit"]["count"].as_i64(),
            limit_of(&got, "request")
        );
    }
    let list = app
        .get_ok(&format!(
            "{}/deployments?api-version={CS_API}",
            app.account_path("rg", "ai1")
        ))
        .await;
    assert_eq!(list["value"].as_array().unwrap().len(), 1);

    // PATCH the capacity, sent as a string as az does: the limits follow.
    let res = app
        .patch(
            &url,
            &json!({"sku": {"name": "Standard", "capacity": "20"}, "tags": {"env": "test"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(finish(&app, &res).await, "Succeeded");
    let patched = app.get_ok(&url).await;
    assert_eq!(patched["sku"]["capacity"], 20);
    assert_eq!(
        patched["tags"],
        json!({"env": "test"}),
        "a deployment keeps its tags"
    );
    assert_eq!(
        limit_of(&patched, "token").map(|t| t / 2),
        limit_of(&got, "token")
    );

    // Location models list the same catalog, with kind and sku name.
    let location_models = app
        .get_ok(&format!(
            "/subscriptions/{}/providers/Microsoft.CognitiveServices/locations/eastus/models?api-version={CS_API}",
            app.subscription
        ))
        .await;
    assert!(
        location_models["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["model"]["name"] == MODEL)
    );

    let res = app.delete(&url).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(finish(&app, &res).await, "Succeeded");
    assert_eq!(app.get(&url).await.status(), StatusCode::NOT_FOUND);
}

async fn bad_deployments_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.foundry_account("rg", "ai1", "kiln-bad-deploy").await;
    let model = catalog_model(&app, "ai1").await;
    let version = &model["version"];
    let url = deployment_url(&app, "ai1", "bad");
    let cases = [
        (
            "an unknown model",
            json!({"sku": {"name": "Standard", "capacity": 1}, "properties": {"model": {"format": "OpenAI", "name": "gpt-nope", "version": "1"}}}),
            "DeploymentModelNotSupported",
        ),
        (
            "an unknown version",
            json!({"sku": {"name": "Standard", "capacity": 1}, "properties": {"model": {"format": "OpenAI", "name": MODEL, "version": "1999-01-01"}}}),
            "DeploymentModelNotSupported",
        ),
        (
            "no model",
            json!({"sku": {"name": "Standard", "capacity": 1}, "properties": {}}),
            "InvalidResourceProperties",
        ),
        (
            "a sku the model lacks",
            json!({"sku": {"name": "NoSuchSku", "capacity": 1}, "properties": {"model": {"format": "OpenAI", "name": MODEL, "version": version}}}),
            "InvalidResourceProperties",
        ),
        (
            "capacity 0",
            deployment_body(version, json!(0)),
            "InvalidCapacity",
        ),
        (
            "capacity not a number",
            deployment_body(version, json!("lots")),
            "InvalidCapacity",
        ),
        (
            "capacity past the maximum",
            deployment_body(version, json!(100_000_000)),
            "InvalidCapacity",
        ),
        (
            "an unknown content filter",
            json!({"sku": {"name": "Standard", "capacity": 1}, "properties": {"model": {"format": "OpenAI", "name": MODEL, "version": version}, "raiPolicyName": "Mine"}}),
            "InvalidResourceProperties",
        ),
    ];
    for (case, body, code) in cases {
        assert_refused(
            case,
            app.put(&url, &body).await,
            StatusCode::BAD_REQUEST,
            code,
        )
        .await;
    }
    assert_eq!(app.get(&url).await.status(), StatusCode::NOT_FOUND);

    // The quota override is the platform administrator's, with a whole number or null.
    let quota_url = |subscription: &str| {
        format!(
            "/admin/subscriptions/{subscription}/quotas/Microsoft.CognitiveServices/eastus/OpenAI.Standard.gpt-4o-mini"
        )
    };
    let mine = quota_url(&app.subscription);
    let other_user = app.token_for(&uuid::Uuid::new_v4().to_string(), &app.tenant);
    let res = app
        .send_as(&other_user, Method::PUT, &mine, Some(&json!({"limit": 5})))
        .await;
    assert_refused(
        "a quota set by a user",
        res,
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
    )
    .await;
    for body in [json!({"limit": "lots"}), json!({"limit": -1}), json!({})] {
        let res = app.put(&mine, &body).await;
        assert_refused(
            "a bad limit",
            res,
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
        )
        .await;
    }
    let absent = quota_url(&uuid::Uuid::new_v4().to_string());
    let res = app.put(&absent, &json!({"limit": 5})).await;
    assert_refused(
        "an unknown subscription",
        res,
        StatusCode::NOT_FOUND,
        "SubscriptionNotFound",
    )
    .await;
}

async fn quota_bounds_deployments_even_under_a_race(backend: Backend) {
    let app = TestApp::spawn_with(backend, Options::default()).await;
    app.create_group("rg").await;
    app.foundry_account("rg", "ai1", "kiln-quota1").await;
    app.foundry_account("rg", "ai2", "kiln-quota2").await;
    let model = catalog_model(&app, "ai1").await;
    let sku = model["skus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Standard")
        .unwrap()
        .clone();
    let usage = sku["usageName"].as_str().unwrap().to_owned();
    set_quota(&app, &usage, 15).await;
    let version = &model["version"];
    let res = deploy(&app, "ai1", "first", &deployment_body(version, json!(10))).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    finish(&app, &res).await;
    let res = deploy(&app, "ai2", "second", &deployment_body(version, json!(10))).await;
    let (status, body) = crate::helpers::json_of(res).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InsufficientQuota")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("require 10 new capacity") && message.contains("available capacity 5"),
        "{message}"
    );
    assert!(
        message.contains("usage is 10 and the quota limit is 15"),
        "{message}"
    );

    let usages_url = format!(
        "/subscriptions/{}/providers/Microsoft.CognitiveServices/locations/eastus/usages?api-version={CS_API}",
        app.subscription
    );
    let row = usage_of(&app.get_ok(&usages_url).await, &usage);
    assert_eq!(
        (row["currentValue"].as_i64(), row["limit"].as_i64()),
        (Some(10), Some(15)),
        "{row}"
    );
    // The spec's one filter: by quota name; anything else is refused.
    let only = app
        .get_ok(&format!("{usages_url}&$filter=name.value eq '{usage}'"))
        .await;
    assert_eq!(only["value"].as_array().unwrap().len(), 1, "{only}");
    assert_eq!(only["value"][0]["name"]["value"], usage.as_str());
    assert_refused(
        "an unsupported usages filter",
        app.get(&format!("{usages_url}&$filter=limit gt 5")).await,
        StatusCode::BAD_REQUEST,
        "InvalidFilter",
    )
    .await;
    let account_usages = app
        .get_ok(&format!(
            "{}/usages?api-version={CS_API}",
            app.account_path("rg", "ai2")
        ))
        .await;
    let mine = usage_of(&account_usages, &usage);
    assert_eq!(mine["currentValue"], 0);

    // A soft-deleted account's deployments still count; its purge frees them.
    app.delete_and_wait(&app.account_url("rg", "ai1")).await;
    let res = deploy(&app, "ai2", "second", &deployment_body(version, json!(10))).await;
    assert_refused(
        "quota held by a soft-deleted account",
        res,
        StatusCode::BAD_REQUEST,
        "InsufficientQuota",
    )
    .await;
    let purge = format!(
        "/subscriptions/{}/providers/Microsoft.CognitiveServices/locations/eastus/resourceGroups/rg/deletedAccounts/ai1?api-version={CS_API}",
        app.subscription
    );
    assert_eq!(app.delete(&purge).await.status(), StatusCode::OK);

    // Racing for the last capacity: exactly one wins.
    set_quota(&app, &usage, 10).await;
    let racers = (0..4).map(|i| {
        let app = &app;
        let body = deployment_body(version, json!(10));
        async move {
            app.send(
                Method::PUT,
                &deployment_url(app, "ai2", &format!("racer{i}")),
                Some(&body),
            )
            .await
            .status()
        }
    });
    let statuses = futures_util::future::join_all(racers).await;
    let won = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!((won, refused), (1, 3), "{statuses:?}");

    // Deleting the winner gives its capacity back.
    let winner = (0..4)
        .map(|i| deployment_url(&app, "ai2", &format!("racer{i}")))
        .zip(&statuses)
        .find(|(_, s)| **s == StatusCode::CREATED)
        .map(|(url, _)| url)
        .unwrap();
    let res = app.get(&winner).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.delete(&winner).await;
    assert_eq!(finish(&app, &res).await, "Succeeded");
    let row = usage_of(&app.get_ok(&usages_url).await, &usage);
    assert_eq!(row["currentValue"], 0, "{row}");
}

/// The first api-version with `pause` and `resume`.
const PAUSE_API: &str = "2025-10-01-preview";

async fn a_deployment_pauses_and_resumes_where_the_api_version_has_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.foundry_account("rg", "ai1", "kiln-pause").await;
    let model = catalog_model(&app, "ai1").await;
    let url = deployment_url(&app, "ai1", "chat");
    let created = deploy_and_wait(&app, &url, &deployment_body(&model["version"], json!(5))).await;
    let action = |name: &str, api: &str| {
        format!(
            "{}/deployments/chat/{name}?api-version={api}",
            app.account_path("rg", "ai1")
        )
    };

    // An api-version from before pause existed refuses it and names those that have it.
    let (status, body) = app.post_json(&action("pause", CS_API), &json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("NoRegisteredProviderFound")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(PAUSE_API),
        "{body}"
    );
    assert_eq!(app.get_ok(&url).await["etag"], created["etag"]);

    let (status, paused) = app.post_json(&action("pause", PAUSE_API), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(
        paused["properties"]["deploymentState"], "Paused",
        "{paused}"
    );
    assert_ne!(paused["etag"], created["etag"]);
    assert_eq!(
        app.get_ok(&url).await["properties"]["deploymentState"],
        "Paused"
    );
    // Idempotent: a second pause changes nothing.
    let (_, again) = app.post_json(&action("pause", PAUSE_API), &json!({})).await;
    assert_eq!(again["etag"], paused["etag"]);
    // A replace keeps the deployment paused.
    let replaced = deploy_and_wait(&app, &url, &deployment_body(&model["version"], json!(6))).await;
    assert_eq!(
        replaced["properties"]["deploymentState"], "Paused",
        "{replaced}"
    );

    let (status, resumed) = app
        .post_json(&action("resume", PAUSE_API), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["properties"]["deploymentState"], "Running");
    assert_eq!(
        app.get_ok(&url).await["properties"]["deploymentState"],
        "Running"
    );

    // Each change is a write event of the deployment, named by its action.
    let events = outbox::Entity::find().all(&app.db).await.unwrap();
    let actions: Vec<String> = events
        .iter()
        .filter(|e| {
            e.routing_key == "microsoft.cognitiveservices.accounts.deployments.resourcewritesuccess"
        })
        .filter_map(|e| {
            e.payload["data"]["operationName"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    for verb in ["pause", "resume"] {
        let name = format!("Microsoft.CognitiveServices/accounts/deployments/{verb}/action");
        assert_eq!(
            actions.iter().filter(|a| **a == name).count(),
            1,
            "{actions:?}"
        );
    }

    // Absent deployments are 404.
    let missing = action("pause", PAUSE_API).replace("/chat/", "/absent/");
    let (status, _) = app.post_json(&missing, &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
