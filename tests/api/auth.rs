//! Authentication: every request carries a valid bearer token, or gets 401 with an ARM body.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Options, RG_API, SUB_API, TestApp, error_code, roles};
use crate::idp::{self, ISSUER_TEMPLATE, JwksServer, SigningKey};

both_backends!(
    bad_tokens_are_401_with_arm_bodies,
    tokens_of_another_tenant_are_refused,
    rs256_and_es256_tokens_from_a_jwks_file_are_accepted,
    bad_external_tokens_are_401_with_arm_bodies,
    a_jwks_url_is_read_again_for_an_unknown_key_at_most_once_per_interval,
);

const AUDIENCE: &str = "https://management.azure.com/";

/// A Kiln that also trusts the keys in a JWKS file, and the keys.
async fn app_with_jwks_file(backend: Backend) -> (TestApp, SigningKey, SigningKey) {
    let (rsa, ec) = (SigningKey::rsa("rsa-1"), SigningKey::ec("ec-1"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.keep().join("jwks.json");
    std::fs::write(&path, idp::jwks(&[&rsa, &ec]).to_string()).unwrap();
    let options = Options {
        jwks: Some((path.display().to_string(), vec![ISSUER_TEMPLATE.to_owned()])),
        ..Options::default()
    };
    (TestApp::spawn_with(backend, options).await, rsa, ec)
}

async fn get_subscriptions(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/subscriptions?api-version={SUB_API}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Asserts a 401 with an ARM body and a Bearer challenge; returns the error code.
async fn refused(res: reqwest::Response) -> String {
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(challenge.starts_with("Bearer "), "challenge: {challenge:?}");
    error_code(res, StatusCode::UNAUTHORIZED).await
}

async fn rs256_and_es256_tokens_from_a_jwks_file_are_accepted(backend: Backend) {
    let (app, rsa, ec) = app_with_jwks_file(backend).await;

    // A user through the RSA key: once a Contributor, sees its tenant's subscription.
    let user = rsa.sign(&idp::claims(&app.tenant, AUDIENCE));
    let res = get_subscriptions(&app, &user).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["value"], json!([]), "no role, no subscription");
    app.grant(
        idp::claims(&app.tenant, AUDIENCE)["oid"].as_str().unwrap(),
        roles::CONTRIBUTOR,
    )
    .await;
    let res = get_subscriptions(&app, &user).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["value"][0]["subscriptionId"],
        app.subscription.as_str()
    );
    let group = format!("{}?api-version={RG_API}", app.group_path("by-user"));
    let res = app
        .send_as(
            &user,
            reqwest::Method::PUT,
            &group,
            Some(&json!({"location": "eastus"})),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["systemData"]["createdByType"], "User");
    assert_eq!(body["systemData"]["createdBy"], "someone@idp.test");

    // An application through the EC key: no `scp`, an `azp`; the audience as an array.
    let mut claims = idp::claims(&app.tenant, AUDIENCE);
    let obj = claims.as_object_mut().unwrap();
    obj.remove("scp");
    obj.remove("upn");
    obj.insert("azp".into(), json!("client-app"));
    obj.insert(
        "aud".into(),
        json!(["https://other.example", AUDIENCE.trim_end_matches('/')]),
    );
    let app_token = ec.sign(&claims);
    let group = format!("{}?api-version={RG_API}", app.group_path("by-app"));
    let res = app
        .send_as(
            &app_token,
            reqwest::Method::PUT,
            &group,
            Some(&json!({"location": "eastus"})),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["systemData"]["createdByType"], "Application");

    // A single-key provider may leave `kid` out.
    let no_kid = ec.sign_as(None, &idp::claims(&app.tenant, AUDIENCE));
    assert_eq!(
        get_subscriptions(&app, &no_kid).await.status(),
        StatusCode::OK
    );
}

async fn bad_external_tokens_are_401_with_arm_bodies(backend: Backend) {
    let (app, rsa, ec) = app_with_jwks_file(backend).await;
    let now = chrono::Utc::now().timestamp();
    let good = || idp::claims(&app.tenant, AUDIENCE);
    let with = |changes: Value| {
        let mut claims = good();
        claims
            .as_object_mut()
            .unwrap()
            .extend(changes.as_object().unwrap().clone());
        claims
    };
    let stranger = SigningKey::ec("ec-1"); // claims a known kid, holds another key
    let hs256 = |secret: &[u8], claims: &Value| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    let encode_part = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown kid",
            rsa.sign_as(Some("rotated-away"), &good()),
            "InvalidAuthenticationToken",
        ),
        (
            "wrong issuer",
            rsa.sign(&with(json!({"iss": "https://evil.example/x/v2.0"}))),
            "InvalidAuthenticationTokenIssuer",
        ),
        (
            "Kiln's issuer, external key",
            rsa.sign(&with(
                json!({"iss": format!("{}/{}/v2.0", app.base, app.tenant)}),
            )),
            "InvalidAuthenticationTokenIssuer",
        ),
        (
            "wrong audience",
            ec.sign(&with(json!({"aud": "https://graph.microsoft.com"}))),
            "InvalidAuthenticationTokenAudience",
        ),
        (
            "expired",
            rsa.sign(&with(json!({"exp": now - 3600}))),
            "ExpiredAuthenticationToken",
        ),
        (
            "not yet valid",
            ec.sign(&with(json!({"nbf": now + 3600}))),
            "InvalidAuthenticationToken",
        ),
        (
            "no tenant",
            rsa.sign(&{
                let mut c = good();
                c.as_object_mut().unwrap().remove("tid");
                c
            }),
            "InvalidAuthenticationToken",
        ),
        (
            "bad signature",
            stranger.sign(&good()),
            "InvalidAuthenticationToken",
        ),
        (
            "ES256 header, RSA key id",
            ec.sign_as(Some("rsa-1"), &good()),
            "InvalidAuthenticationToken",
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                encode_part(&json!({"alg": "none", "typ": "JWT"})),
                encode_part(&good())
            ),
            "InvalidAuthenticationToken",
        ),
        (
            "HS256, not the dev key",
            hs256(b"some other secret", &good()),
            "InvalidAuthenticationToken",
        ),
        (
            "HS256 keyed with the provider's public key",
            hs256(rsa.jwk["n"].as_str().unwrap().as_bytes(), &good()),
            "InvalidAuthenticationToken",
        ),
        (
            "malformed",
            "a.b.c".to_owned(),
            "InvalidAuthenticationToken",
        ),
        (
            "truncated",
            rsa.sign(&good()).rsplit_once('.').unwrap().0.to_owned(),
            "InvalidAuthenticationToken",
        ),
    ];
    for (what, token, code) in cases {
        let res = get_subscriptions(&app, &token).await;
        assert_eq!(refused(res).await, code, "{what}");
    }
    // The same keys and claims, correctly signed, pass: each case failed for its own reason.
    assert_eq!(
        get_subscriptions(&app, &rsa.sign(&good())).await.status(),
        StatusCode::OK
    );
}

async fn a_jwks_url_is_read_again_for_an_unknown_key_at_most_once_per_interval(backend: Backend) {
    let (old, new) = (SigningKey::rsa("old"), SigningKey::ec("new"));
    let server = JwksServer::start(idp::jwks(&[&old])).await;
    let interval = Duration::from_secs(2);
    let options = Options {
        jwks: Some((server.url.clone(), vec![ISSUER_TEMPLATE.to_owned()])),
        jwks_min_refresh: interval,
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    assert_eq!(server.reads(), 1, "read at start");
    let claims = idp::claims(&app.tenant, AUDIENCE);
    assert_eq!(
        get_subscriptions(&app, &old.sign(&claims)).await.status(),
        StatusCode::OK
    );

    // The provider rotates; once the interval has passed, the new key id triggers a read.
    server.replace(idp::jwks(&[&new]));
    tokio::time::sleep(interval + Duration::from_millis(200)).await;
    assert_eq!(
        get_subscriptions(&app, &new.sign(&claims)).await.status(),
        StatusCode::OK
    );
    assert_eq!(server.reads(), 2, "read again for the new key");
    // The old key is gone with the document.
    assert_eq!(
        refused(get_subscriptions(&app, &old.sign(&claims)).await).await,
        "InvalidAuthenticationToken"
    );

    // Made-up key ids right after a read do not make Kiln fetch again.
    for i in 0..5 {
        let token = new.sign_as(Some(&format!("made-up-{i}")), &claims);
        assert_eq!(
            refused(get_subscriptions(&app, &token).await).await,
            "InvalidAuthenticationToken"
        );
    }
    assert!(
        server.reads() <= 3,
        "rate-limited: {} reads",
        server.reads()
    );
    server.stop().await;
}

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
    let wrong_audience = kiln::identity::TokenIssuer::new(
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
    let bootstrap = kiln::startup::bootstrap::ensure_bootstrap(
        &app.db,
        &kiln::config::BootstrapSettings {
            tenant: None,
            subscription: None,
        },
        &app.keys,
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
