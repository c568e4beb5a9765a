//! Operations: health, readiness, metrics, docs, HTTPS, the activity log.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Options, SUB_API, TestApp, error_code};

both_backends!(
    health_metrics_and_docs,
    https_with_the_self_signed_certificate,
    https_with_a_configured_certificate,
    every_write_lands_in_the_activity_log
);

async fn health_metrics_and_docs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    app.get(&format!("/subscriptions?api-version={SUB_API}"))
        .await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "kiln_http_requests_total{method=\"GET\",route=\"/subscriptions\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("kiln_http_request_duration_seconds_bucket"));
    let pool_line = metrics
        .lines()
        .find(|l| l.starts_with("kiln_db_pool_connections "))
        .expect("pool gauge");
    let open: i64 = pool_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        open >= 1,
        "the gauge counts the open connections of every pool: {pool_line}"
    );
    let spec: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"].as_object().unwrap().len() > 10);
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    let html = docs.text().await.unwrap();
    assert!(
        html.contains("swagger-ui") && !html.contains("cdn."),
        "offline docs page"
    );
}

async fn https_with_the_self_signed_certificate(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options {
            https: true,
            ..Options::default()
        },
    )
    .await;
    let base = app.https_base.clone().unwrap();
    let pem = std::fs::read(app.data_dir.path().join("tls/cert.pem"))
        .expect("self-signed certificate written");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let token = app
        .tokens
        .mint(&base, &app.tenant, &app.admin, "admin", 600);
    let res = client
        .get(format!("{base}/subscriptions?api-version={SUB_API}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Absolute URLs use the scheme and host the client used.
    let res = client
        .put(format!(
            "{base}/subscriptions/{}/resourceGroups/rg?api-version=2024-03-01",
            app.subscription
        ))
        .bearer_auth(&token)
        .json(&json!({"location": "eastus"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = client
        .delete(format!(
            "{base}/subscriptions/{}/resourceGroups/rg?api-version=2024-03-01",
            app.subscription
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&format!("{base}/subscriptions/"))
    );
    // Untrusted clients are refused by TLS, not served.
    assert!(
        reqwest::Client::new()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err()
    );
}

async fn every_write_lands_in_the_activity_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let group = format!(
        "/subscriptions/{}/resourceGroups/rg?api-version=2024-03-01",
        app.subscription
    );
    let res = app
        .client
        .put(app.url(&group))
        .bearer_auth(&app.token)
        .header("x-ms-correlation-request-id", "corr-1")
        .json(&json!({"location": "eastus"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    app.hub("rg", "hub1").await;
    let res = app
        .put(
            &app.workspace_url("rg", "x"),
            &json!({"location": "eastus"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let log = format!(
        "/subscriptions/{}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01",
        app.subscription
    );
    let body: Value = app.get_ok(&log).await;
    let events = body["value"].as_array().unwrap();
    let group_event = events
        .iter()
        .find(|e| e["correlationId"] == "corr-1")
        .expect("group write logged");
    assert_eq!(
        group_event["operationName"]["value"],
        "Microsoft.Resources/subscriptions/resourceGroups/write"
    );
    assert_eq!(group_event["caller"], app.admin);
    assert_eq!(group_event["status"]["value"], "Succeeded");
    assert_eq!(
        group_event["resourceId"],
        format!("/subscriptions/{}/resourceGroups/rg", app.subscription)
    );
    let statuses: Vec<&str> = events
        .iter()
        .filter(|e| {
            e["operationName"]["value"] == "Microsoft.MachineLearningServices/workspaces/write"
        })
        .map(|e| e["status"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["Accepted", "Succeeded", "Failed"],
        "accepted, completed, refused"
    );

    let filtered: Value = app
        .get_ok(&format!("{log}&$filter=correlationId eq 'corr-1'"))
        .await;
    assert_eq!(filtered["value"].as_array().unwrap().len(), 1);
    let paged: Value = app.get_ok(&format!("{log}&$top=1")).await;
    assert!(paged["nextLink"].is_string());
    let res = app.get(&format!("{log}&$filter=level eq 'x'")).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidFilterInQueryString"
    );
}

async fn https_with_a_configured_certificate(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("mine.pem"), dir.path().join("mine.key"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    let options = Options {
        https: true,
        tls_files: Some((cert, key)),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    assert!(
        !app.data_dir.path().join("tls/cert.pem").exists(),
        "no self-signed certificate when one is configured"
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(generated.cert.pem().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let base = app.https_base.clone().unwrap();
    let res = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_migrating_at_once_take_turns_on_postgres() {
    let url = crate::helpers::postgres_database().await;
    let connect = || async { sea_orm::Database::connect(&url).await.unwrap() };
    let (a, b, c) = (connect().await, connect().await, connect().await);
    let (ra, rb, rc) = tokio::join!(
        kiln::store::migrate(&a),
        kiln::store::migrate(&b),
        kiln::store::migrate(&c)
    );
    for result in [ra, rb, rc] {
        result.expect("every replica's migration succeeds");
    }
}
