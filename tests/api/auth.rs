//! Authentication: every request carries a valid bearer token, or gets 401 with an ARM body.

use jsonwebtoken::{EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, SUB_API, TestApp, error_code};

both_backends!(
    bad_tokens_are_401_with_arm_bodies,
    tokens_of_another_tenant_are_refused
);

async fn bad_tokens_are_401_with_arm_bodies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = app.url(&format!("/subscriptions?api-version={SUB_API}"));

    let res = app.client.get(&url).send().await.unwrap();
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer ") && !challenge.contains("claims="),
        "{challenge}"
    );
    assert_eq!(
        error_code(res, StatusCode::UNAUTHORIZED).await,
        "AuthenticationFailed"
    );

    let now = chrono::Utc::now().timestamp();
    let claims = |iss: String, aud: &str, exp: i64| json!({"iss": iss, "aud": aud, "sub": "p", "oid": "p", "tid": app.tenant, "iat": now, "nbf": now - 5, "exp": exp});
    let good_iss = format!("{}/{}/v2.0", app.base, app.tenant);
    let wrong_key = EncodingKey::from_secret(b"not the dev key");
    let cases = [
        ("garbage".to_owned(), "InvalidAuthenticationToken"),
        (
            jsonwebtoken::encode(
                &Header::default(),
                &claims(good_iss.clone(), "https://management.azure.com/", now + 600),
                &wrong_key,
            )
            .unwrap(),
            "InvalidAuthenticationToken",
        ),
        (
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0.".to_owned(),
            "InvalidAuthenticationToken",
        ),
    ];
    for (token, code) in cases {
        let res = app
            .client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(res, StatusCode::UNAUTHORIZED).await,
            code,
            "token {token}"
        );
    }
    let expired = app.tokens.mint(&app.base, &app.tenant, "p", "p", -3600);
    let res = app
        .client
        .get(&url)
        .bearer_auth(&expired)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::UNAUTHORIZED).await,
        "ExpiredAuthenticationToken"
    );
    let wrong_issuer = app
        .tokens
        .mint("https://evil.example", &app.tenant, "p", "p", 600);
    let res = app
        .client
        .get(&url)
        .bearer_auth(&wrong_issuer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::UNAUTHORIZED).await,
        "InvalidAuthenticationTokenIssuer"
    );
    let wrong_audience = kiln::authz::TokenIssuer::new(
        &dev_key(&app).await,
        "https://other.example/",
    )
    .mint(&app.base, &app.tenant, "p", "p", 600);
    let res = app
        .client
        .get(&url)
        .bearer_auth(&wrong_audience)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::UNAUTHORIZED).await,
        "InvalidAuthenticationTokenAudience"
    );
    let res = app
        .client
        .get(&url)
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::UNAUTHORIZED).await,
        "InvalidAuthenticationToken"
    );
}

async fn dev_key(app: &TestApp) -> Vec<u8> {
    let bootstrap = kiln::store::meta::ensure_bootstrap(
        &app.engine.db,
        &kiln::config::BootstrapSettings {
            tenant: None,
            subscription: None,
        },
    )
    .await
    .unwrap();
    bootstrap.dev_key
}

async fn tokens_of_another_tenant_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.token_for(
        &uuid::Uuid::new_v4().to_string(),
        &uuid::Uuid::new_v4().to_string(),
    );
    let group = format!("{}?api-version=2024-03-01", app.group_path("rg1"));
    let res = app
        .send_as(
            &other,
            reqwest::Method::PUT,
            &group,
            Some(&json!({"location": "eastus"})),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    // The other tenant sees none of this tenant's subscriptions.
    let res = app
        .send_as(
            &other,
            reqwest::Method::GET,
            &format!("/subscriptions?api-version={SUB_API}"),
            None,
        )
        .await;
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["value"].as_array().unwrap().len(), 0);
}
