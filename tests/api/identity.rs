//! Service principals and Kiln's Entra-ID-shaped endpoints: the client-credentials token
//! endpoint, OIDC discovery, and the cloud metadata endpoint.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kiln::identity::service_principals::{CreatedServicePrincipal, create_service_principal};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Options, RG_API, SUB_API, TestApp, error_code, roles};

both_backends!(
    a_service_principal_signs_in_with_its_secret_and_calls_arm,
    bad_client_credentials_get_entra_errors,
    discovery_documents_point_at_kiln,
    the_cloud_metadata_endpoint_describes_kiln,
);

/// Replicas share the database (and, behind their load balancer, the public URL the issuer
/// names), so a token one of them issued is good at any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_signing_key() {
    let public_url = Some("https://kiln.example.com");
    let first = TestApp::spawn_with(
        Backend::Postgres,
        Options {
            public_url,
            ..Options::default()
        },
    )
    .await;
    let second = TestApp::spawn_with(
        Backend::Postgres,
        Options {
            public_url,
            database: Some(first.database_url.clone()),
            ..Options::default()
        },
    )
    .await;
    let keys = |app: &TestApp| {
        let (client, url) = (
            app.client.clone(),
            app.url(&format!("/{}/discovery/v2.0/keys", app.tenant)),
        );
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(keys(&first).await, keys(&second).await);
    let sp = service_principal(&first).await;
    let res = request_token(
        &first,
        &first.tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &sp.app_id),
            ("client_secret", &sp.password),
            ("scope", ARM_SCOPE),
        ],
    )
    .await;
    let token = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = second
        .send_as(
            &token,
            reqwest::Method::GET,
            &format!("/subscriptions?api-version={SUB_API}"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

pub async fn service_principal(app: &TestApp) -> CreatedServicePrincipal {
    create_service_principal(&app.db, "ci pipeline", app.tenant.parse().unwrap())
        .await
        .unwrap()
}

pub async fn request_token(
    app: &TestApp,
    tenant: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/{tenant}/oauth2/v2.0/token")))
        .form(form)
        .send()
        .await
        .unwrap()
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn a_service_principal_signs_in_with_its_secret_and_calls_arm(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sp = service_principal(&app).await;
    assert_eq!(sp.tenant, app.tenant);
    assert_eq!(sp.display_name, "ci pipeline");
    assert_ne!(sp.app_id, sp.object_id);

    let res = request_token(
        &app,
        &app.tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &sp.app_id),
            ("client_secret", &sp.password),
            ("scope", ARM_SCOPE),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    let token = body["access_token"].as_str().unwrap().to_owned();

    // The token verifies against the published keys and says who the caller is.
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    let jwks: Value = app
        .client
        .get(app.url(&format!("/{}/discovery/v2.0/keys", app.tenant)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .expect("the token's kid is published");
    let key =
        DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["https://management.azure.com/"]);
    validation.set_issuer(&[format!("{}/{}/v2.0", app.base, app.tenant)]);
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation)
        .expect("valid signature, issuer and audience")
        .claims;
    assert_eq!(claims["oid"], sp.object_id.as_str());
    assert_eq!(claims["sub"], sp.object_id.as_str());
    assert_eq!(claims["tid"], app.tenant.as_str());
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["appid"], sp.app_id.as_str());
    assert_eq!(claims["azp"], sp.app_id.as_str());
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(exp - iat >= 3599 && claims["nbf"].as_i64().unwrap() <= iat);

    // Kiln takes it for ARM calls, as an application (with a role to act under).
    app.grant(&sp.object_id, roles::CONTRIBUTOR).await;
    let res = app
        .send_as(
            &token,
            reqwest::Method::GET,
            &format!("/subscriptions?api-version={SUB_API}"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let subs: Value = res.json().await.unwrap();
    assert_eq!(
        subs["value"][0]["subscriptionId"],
        app.subscription.as_str()
    );
    let group = format!("{}?api-version={RG_API}", app.group_path("from-sp"));
    let res = app
        .send_as(
            &token,
            reqwest::Method::PUT,
            &group,
            Some(&json!({"location": "eastus"})),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["systemData"]["createdByType"], "Application");
    assert_eq!(body["systemData"]["createdBy"], "ci pipeline");

    // Terraform's scope (a double slash) and client_secret_basic work too.
    let basic = STANDARD.encode(format!("{}:{}", sp.app_id, sp.password));
    let res = app
        .client
        .post(app.url(&format!("/{}/oauth2/v2.0/token", app.tenant)))
        .header("authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://management.azure.com//.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["oid"],
        sp.object_id.as_str()
    );
}

/// Asserts Entra ID's error shape; returns (`error`, first of `error_codes`).
pub async fn entra_error(res: reqwest::Response, status: StatusCode) -> (String, u64) {
    assert_eq!(res.status(), status);
    let body: Value = res.json().await.unwrap();
    let description = body["error_description"].as_str().unwrap_or_default();
    let code = body["error_codes"][0]
        .as_u64()
        .unwrap_or_else(|| panic!("error_codes in {body}"));
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{body}"
    );
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
    (body["error"].as_str().unwrap().to_owned(), code)
}

/// What is wrong, the tenant in the path, the form, and the expected status, error and code.
type Case<'a> = (
    &'a str,
    &'a str,
    Vec<(&'a str, &'a str)>,
    StatusCode,
    &'a str,
    u64,
);

async fn bad_client_credentials_get_entra_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sp = service_principal(&app).await;
    let (id, secret) = (sp.app_id.as_str(), sp.password.as_str());
    let other_tenant = uuid::Uuid::new_v4().to_string();
    let unknown_client = uuid::Uuid::new_v4().to_string();
    let cc = ("grant_type", "client_credentials");
    let cases: Vec<Case<'_>> = vec![
        (
            "bad secret",
            &app.tenant,
            vec![
                cc,
                ("client_id", id),
                ("client_secret", "not-it"),
                ("scope", ARM_SCOPE),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
        ),
        (
            "unknown client",
            &app.tenant,
            vec![
                cc,
                ("client_id", &unknown_client),
                ("client_secret", secret),
                ("scope", ARM_SCOPE),
            ],
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
        ),
        (
            "another tenant",
            &other_tenant,
            vec![
                cc,
                ("client_id", id),
                ("client_secret", secret),
                ("scope", ARM_SCOPE),
            ],
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
        ),
        (
            "password grant",
            &app.tenant,
            vec![
                ("grant_type", "password"),
                ("client_id", id),
                ("client_secret", secret),
                ("scope", ARM_SCOPE),
            ],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
        ),
        (
            "no grant type",
            &app.tenant,
            vec![
                ("client_id", id),
                ("client_secret", secret),
                ("scope", ARM_SCOPE),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
        ),
        (
            "no client id",
            &app.tenant,
            vec![cc, ("client_secret", secret), ("scope", ARM_SCOPE)],
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
        ),
        (
            "no secret",
            &app.tenant,
            vec![cc, ("client_id", id), ("scope", ARM_SCOPE)],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
        ),
        (
            "delegated scope",
            &app.tenant,
            vec![
                cc,
                ("client_id", id),
                ("client_secret", secret),
                ("scope", "https://management.azure.com/user_impersonation"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
        ),
        (
            "another resource",
            &app.tenant,
            vec![
                cc,
                ("client_id", id),
                ("client_secret", secret),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
        ),
    ];
    for (what, tenant, form, status, error, code) in cases {
        let res = request_token(&app, tenant, &form).await;
        assert_eq!(
            entra_error(res, status).await,
            (error.to_owned(), code),
            "{what}"
        );
    }
    // A client secret is not a bearer token.
    let res = app
        .client
        .get(app.url(&format!("/subscriptions?api-version={SUB_API}")))
        .bearer_auth(&sp.password)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::UNAUTHORIZED).await,
        "InvalidAuthenticationToken"
    );
}

async fn discovery_documents_point_at_kiln(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tid = &app.tenant;
    let get = |path: String| {
        let client = app.client.clone();
        let url = app.url(&path);
        async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "no token needed");
            res.json::<Value>().await.unwrap()
        }
    };
    for path in [
        format!("/{tid}/v2.0/.well-known/openid-configuration"),
        format!("/{tid}/.well-known/openid-configuration"),
    ] {
        let doc = get(path).await;
        assert_eq!(doc["issuer"], format!("{}/{tid}/v2.0", app.base));
        assert_eq!(
            doc["token_endpoint"],
            format!("{}/{tid}/oauth2/v2.0/token", app.base)
        );
        assert_eq!(
            doc["jwks_uri"],
            format!("{}/{tid}/discovery/v2.0/keys", app.base)
        );
        assert_eq!(
            doc["authorization_endpoint"],
            format!("{}/{tid}/oauth2/v2.0/authorize", app.base)
        );
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["ES256"])
        );
    }
    let common = get("/common/v2.0/.well-known/openid-configuration".into()).await;
    assert_eq!(common["issuer"], format!("{}/{{tenantid}}/v2.0", app.base));

    let jwks = get(format!("/{tid}/discovery/v2.0/keys")).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-256");
    assert_eq!(keys[0]["use"], "sig");
    assert!(
        keys[0]["kid"].is_string() && keys[0].get("d").is_none(),
        "public only"
    );

    let authorize = format!("{}/{tid}/oauth2/v2.0/authorize", app.base);
    let instance = get(format!(
        "/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
        url::form_urlencoded::byte_serialize(authorize.as_bytes()).collect::<String>()
    ))
    .await;
    assert_eq!(
        instance["tenant_discovery_endpoint"],
        format!("{}/{tid}/v2.0/.well-known/openid-configuration", app.base)
    );
    let host = app.base.trim_start_matches("http://");
    assert_eq!(instance["metadata"][0]["preferred_network"], host);
    assert_eq!(instance["metadata"][0]["aliases"], json!([host]));
}

async fn the_cloud_metadata_endpoint_describes_kiln(backend: Backend) {
    let options = Options {
        public_url: Some("https://kiln.example.com"),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let get = |version: &str| {
        app.client
            .get(app.url(&format!("/metadata/endpoints?api-version={version}")))
            .send()
    };
    let cloud: Value = get("2022-09-01").await.unwrap().json().await.unwrap();
    assert_eq!(cloud["name"], "Kiln");
    assert_eq!(cloud["resourceManager"], "https://kiln.example.com/");
    assert_eq!(
        cloud["authentication"],
        json!({
            "loginEndpoint": "https://kiln.example.com",
            "audiences": ["https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD",
        })
    );
    for suffix in ["storage", "keyVaultDns", "acrLoginServer"] {
        assert!(cloud["suffixes"][suffix].is_string(), "{suffix}");
    }
    let clouds: Value = get("2019-05-01").await.unwrap().json().await.unwrap();
    assert_eq!(clouds, json!([cloud]));
    let legacy: Value = get("2015-01-01").await.unwrap().json().await.unwrap();
    assert_eq!(
        legacy["authentication"]["loginEndpoint"],
        "https://kiln.example.com/"
    );

    let res = app
        .client
        .get(app.url("/metadata/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "MissingApiVersionParameter"
    );
}
