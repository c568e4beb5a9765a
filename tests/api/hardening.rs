//! Issue 11, findings 5–10: key material at rest, dev tokens, the identity endpoints' trust in
//! what a request says, and loose parsing.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Options, RG_API, TestApp, assert_refused, error_code};
use crate::identity::{ARM_SCOPE, request_token, service_principal};
use kiln::store::identity::signing_key;

both_backends!(
    signing_keys_and_the_dev_key_are_sealed_at_rest,
    dev_tokens_can_be_turned_off,
    the_administrator_is_one_principal_of_one_tenant,
    failed_sign_ins_are_throttled,
    discovery_does_not_reflect_the_host,
    loose_input_is_refused,
    oversized_requests_are_refused_before_they_are_read,
);

/// The limits on one request (README "Limits"): a URI past 8 KiB (a runaway `$filter`) is
/// `414 RequestUriTooLong`, headers past 32 KiB are `431 RequestHeadersTooLarge`, each with
/// an ARM body; a request just under both is served.
async fn oversized_requests_are_refused_before_they_are_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let list = "/subscriptions?api-version=2022-12-01";
    let send = |query: String, header: String| {
        let url = app.url(&format!("{list}{query}"));
        let req = app.client.get(url).bearer_auth(&app.token);
        async move { req.header("x-padding", header).send().await.unwrap() }
    };
    let filter = format!("&$filter={}", "x".repeat(9000));
    let res = send(filter, String::new()).await;
    assert_eq!(
        error_code(res, StatusCode::URI_TOO_LONG).await,
        "RequestUriTooLong"
    );
    let res = send(String::new(), "p".repeat(33 * 1024)).await;
    assert_eq!(
        error_code(res, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).await,
        "RequestHeadersTooLarge"
    );
    let res = send(String::new(), "p".repeat(16 * 1024)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// Finding 6: `KILN_JWKS` took `http://` anywhere and followed redirects to other origins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_urls_need_https_and_stay_on_their_origin() {
    use kiln::identity::jwks::{ExternalKeys, JwksError, JwksSource};
    assert!(matches!(
        JwksSource::parse("http://idp.example/keys"),
        Err(JwksError::Insecure(_))
    ));
    assert!(JwksSource::parse("https://idp.example/keys").is_ok());
    assert!(
        JwksSource::parse("http://127.0.0.1:9/keys").is_ok(),
        "loopback, for tests"
    );
    assert!(JwksSource::parse("http://localhost:9/keys").is_ok());
    let key = crate::idp::SigningKey::ec("k1");
    let keys = crate::idp::JwksServer::start(crate::idp::jwks(&[&key])).await;
    let other = crate::idp::JwksServer::start(json!({"keys": []})).await;
    let load = |url: String| async move {
        let source = JwksSource::parse(&url).unwrap();
        let external =
            ExternalKeys::new(source, Duration::from_secs(1), Duration::from_secs(3600)).unwrap();
        external.load().await
    };
    // Within the origin a redirect is followed.
    let same = keys.url.replace("/keys", "/redirect?to=/keys");
    assert!(load(same).await.is_ok());
    assert_eq!(keys.reads(), 1);
    // To another origin (another port) it is not.
    let cross = other
        .url
        .replace("/keys", &format!("/redirect?to={}", keys.url));
    assert!(load(cross).await.is_err());
    assert_eq!(keys.reads(), 1, "the other origin was never asked");
    keys.stop().await;
    other.stop().await;
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Finding 5: kiln.db, its -wal/-shm and tls/key.pem were 0644 in a 0755 directory, and held
/// the signing keys in plain text.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_its_key_files_are_private() {
    let options = Options {
        https: true,
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await;
    app.create_group("rg").await;
    let dir = app.data_dir.path();
    assert_eq!(mode(dir), 0o700, "the data directory");
    for file in ["kiln.db", "kiln.db-wal", "kiln.db-shm", "tls/key.pem"] {
        let path = dir.join(file);
        assert!(path.exists(), "{file} exists");
        assert_eq!(mode(&path), 0o600, "{file}");
    }
    assert_eq!(mode(&dir.join("tls")), 0o700);
    // Files an older version left readable are tightened at the next start.
    use std::os::unix::fs::PermissionsExt as _;
    let loose = tempfile::tempdir().unwrap();
    std::fs::set_permissions(loose.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(loose.path().join("tls")).unwrap();
    for file in ["kiln.db", "kiln.db-wal", "tls/key.pem"] {
        std::fs::write(loose.path().join(file), b"").unwrap();
        std::fs::set_permissions(
            loose.path().join(file),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    kiln::store::private_files::prepare_data_dir(loose.path()).unwrap();
    kiln::store::private_files::private_sqlite(&loose.path().join("kiln.db")).unwrap();
    assert_eq!(mode(loose.path()), 0o700);
    for file in ["kiln.db", "kiln.db-wal", "tls/key.pem"] {
        assert_eq!(mode(&loose.path().join(file)), 0o600, "{file} tightened");
    }
}

async fn signing_keys_and_the_dev_key_are_sealed_at_rest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = &app.db;
    let rows = signing_key::Entity::find().all(db).await.unwrap();
    assert!(!rows.is_empty());
    for row in &rows {
        assert!(
            row.private_key.starts_with("kiln-sealed-v1:"),
            "{}",
            row.kid
        );
    }
    let dev = kiln::store::meta::get(db, "dev_signing_key")
        .await
        .unwrap()
        .unwrap();
    assert!(dev.starts_with("kiln-sealed-v1:"));
    // A sealed key moved onto another key id does not open.
    let (first, keys) = (rows[0].clone(), &app.keys);
    let mut moved = first.clone().into_active_model();
    moved.kid = Set("another-kid".into());
    moved.insert(db).await.unwrap();
    let opened =
        kiln::secrets::sealed::open_text(keys, "kiln-signing-key:another-kid", &first.private_key);
    assert!(opened.is_err(), "bound to its key id");
    signing_key::Entity::delete_by_id("another-kid".to_owned())
        .exec(db)
        .await
        .unwrap();

    // Keys stored in plain text by an older version are sealed at the next start, unchanged.
    let before = kiln::startup::bootstrap::ensure_bootstrap(db, &bootstrap_settings(), keys)
        .await
        .unwrap();
    let plain_der = match kiln::secrets::sealed::open_text(
        keys,
        &format!("kiln-signing-key:{}", first.kid),
        &first.private_key,
    )
    .unwrap()
    {
        kiln::secrets::sealed::StoredText::Sealed(der) => der,
        kiln::secrets::sealed::StoredText::Plain => panic!("sealed"),
    };
    use base64::Engine as _;
    let mut legacy = first.clone().into_active_model();
    legacy.private_key = Set(base64::engine::general_purpose::STANDARD.encode(&*plain_der));
    legacy.update(db).await.unwrap();
    let hex: String = before.dev_key.iter().map(|b| format!("{b:02x}")).collect();
    kiln::store::meta::put(db, "dev_signing_key", &hex)
        .await
        .unwrap();
    let after = kiln::startup::bootstrap::ensure_bootstrap(db, &bootstrap_settings(), keys)
        .await
        .unwrap();
    assert_eq!(after.dev_key, before.dev_key);
    let signing = kiln::identity::signing_keys::SigningKeys::ensure(db, keys)
        .await
        .unwrap();
    assert_eq!(signing.kid(), first.kid);
    let row = signing_key::Entity::find_by_id(first.kid.clone())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.private_key.starts_with("kiln-sealed-v1:"));
    let dev = kiln::store::meta::get(db, "dev_signing_key")
        .await
        .unwrap()
        .unwrap();
    assert!(dev.starts_with("kiln-sealed-v1:"));
    // The app still signs with that key: a service principal's token is accepted.
    let sp = service_principal(&app).await;
    let res = sign_in(&app, &sp.app_id, &sp.password).await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// A client-credentials sign-in for ARM.
async fn sign_in(app: &TestApp, client_id: &str, secret: &str) -> reqwest::Response {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", ARM_SCOPE),
    ];
    request_token(app, &app.tenant, &form).await
}

fn bootstrap_settings() -> kiln::config::BootstrapSettings {
    kiln::config::BootstrapSettings {
        tenant: None,
        subscription: None,
    }
}

/// Finding 5: `KILN_DEV_TOKENS=false` refuses HS256 dev tokens; Kiln's ES256 tokens still work.
async fn dev_tokens_can_be_turned_off(backend: Backend) {
    let options = Options {
        dev_tokens: false,
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let group = format!("{}?api-version={RG_API}", app.group_path("rg"));
    let res = app.get(&group).await;
    assert_eq!(
        error_code(res, StatusCode::UNAUTHORIZED).await,
        "InvalidAuthenticationToken"
    );
    let sp = service_principal(&app).await;
    let body: Value = sign_in(&app, &sp.app_id, &sp.password)
        .await
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap();
    let res = app
        .send_as(
            token,
            Method::GET,
            &format!(
                "/subscriptions/{}/resourcegroups?api-version={RG_API}",
                app.subscription
            ),
            None,
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "authenticated, not yet authorized"
    );
}

/// Finding 7: the administrator's object id under another tenant created subscriptions.
async fn the_administrator_is_one_principal_of_one_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"displayName": "other"});
    let impostor = app.token_for(&app.admin, &uuid::Uuid::new_v4().to_string());
    let res = app
        .send_as(&impostor, Method::POST, "/admin/subscriptions", Some(&body))
        .await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    let res = app
        .send(Method::POST, "/admin/subscriptions", Some(&body))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

/// Finding 8: 2,000 wrong secrets in two seconds were all answered.
async fn failed_sign_ins_are_throttled(backend: Backend) {
    use kiln::identity::throttle::CLIENT_FAILURES;
    let app = TestApp::spawn(backend).await;
    let sp = service_principal(&app).await;
    let attempt = |secret: &'static str| sign_in(&app, &sp.app_id, secret);
    for _ in 0..CLIENT_FAILURES {
        assert_eq!(attempt("wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    let mut throttled = 0;
    for _ in 0..50 {
        let res = attempt("wrong").await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
            let retry: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry));
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error_codes"][0], 50053);
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .starts_with("AADSTS50053: ")
            );
        }
    }
    assert_eq!(throttled, 50, "every attempt past the limit is refused");
    // Locked out: the right secret waits too, without being checked.
    assert_eq!(
        sign_in(&app, &sp.app_id, &sp.password).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client from the same source is still under the per-source limit.
    let other = service_principal(&app).await;
    assert_eq!(
        sign_in(&app, &other.app_id, &other.password).await.status(),
        StatusCode::OK
    );
}

/// Finding 9: with no public URL, `Host: evil.example` came back in the discovery documents
/// (and in ARM's absolute URLs).
async fn discovery_does_not_reflect_the_host(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paths = [
        format!("/{}/v2.0/.well-known/openid-configuration", app.tenant),
        "/metadata/endpoints?api-version=2022-09-01".to_owned(),
    ];
    for path in paths {
        let body = text_with_host(&app, &path, "evil.example").await;
        assert!(!body.contains("evil.example"), "{path}: {body}");
        assert!(body.contains("127.0.0.1"), "the default origin: {body}");
        // A host Kiln is bound to is answered as itself.
        let port = app.base.rsplit(':').next().unwrap();
        let body = text_with_host(&app, &path, &format!("localhost:{port}")).await;
        assert!(
            body.contains(&format!("localhost:{port}")),
            "{path}: {body}"
        );
    }
    // Nor do ARM's monitor URLs and list links.
    app.create_group("rg").await;
    let res = app
        .client
        .put(app.url(&app.workspace_url("rg", "hub1")))
        .bearer_auth(&app.token)
        .header("host", "evil.example")
        .json(&json!({"location": "eastus", "kind": "Hub"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    for header in ["location", "azure-asyncoperation"] {
        let url = res.headers()[header].to_str().unwrap();
        assert!(url.starts_with(&app.base), "{header}: {url}");
    }
}

/// The body of a GET sent with `Host: host`.
async fn text_with_host(app: &TestApp, path: &str, host: &str) -> String {
    let res = app
        .client
        .get(app.url(path))
        .header("host", host)
        .send()
        .await;
    res.unwrap().text().await.unwrap()
}

/// Finding 10: duplicate JSON keys, the JWT `crit` header, far-future `exp`, and control or
/// direction characters in tag names were all accepted.
async fn loose_input_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let group = format!("{}?api-version={RG_API}", app.group_path("rg"));
    let tagged = |name: &str| format!(r#"{{"location": "eastus", "tags": {{"{name}": "v"}}}}"#);
    for (case, body, code) in [
        (
            "a duplicate key",
            r#"{"location": "eastus", "tags": {"a": "1"}, "location": "westus"}"#.to_owned(),
            "InvalidRequestContent",
        ),
        (
            "a right-to-left override in a tag name",
            tagged("rlo\\u202etxt"),
            "InvalidTagNameCharacters",
        ),
        (
            "a tab in a tag name",
            tagged("tab\\u0009"),
            "InvalidTagNameCharacters",
        ),
        (
            "a bell in a tag name",
            tagged("bell\\u0007"),
            "InvalidTagNameCharacters",
        ),
    ] {
        let res = app
            .client
            .put(app.url(&group))
            .bearer_auth(&app.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_refused(case, res, StatusCode::BAD_REQUEST, code).await;
        assert_eq!(
            app.get(&group).await.status(),
            StatusCode::NOT_FOUND,
            "{case}: nothing written"
        );
    }
    // Tokens: a dev token for a day is fine, one for longer is not; `crit` is refused.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |exp: u64| json!({"iss": format!("{}/{}/v2.0", app.base, app.tenant), "aud": "https://management.azure.com/", "tid": app.tenant, "oid": app.admin, "sub": app.admin, "exp": exp, "iat": now});
    let key = jsonwebtoken::EncodingKey::from_secret(&dev_key(&app).await);
    let sign = |header: &jsonwebtoken::Header, exp: u64| {
        jsonwebtoken::encode(header, &claims(exp), &key).unwrap()
    };
    let hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let subs = format!("/subscriptions?api-version={}", crate::helpers::SUB_API);
    let ok = sign(&hs, now + 23 * 3600);
    assert_eq!(
        app.send_as(&ok, Method::GET, &subs, None).await.status(),
        StatusCode::OK
    );
    let long = sign(&hs, now + 30 * 24 * 3600);
    // jsonwebtoken's Header has no `crit`: build the header by hand.
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = json!({"alg": "HS256", "typ": "JWT", "crit": ["exp-ext"], "exp-ext": 1});
    let signing_input = format!("{}.{}", b64(&header), b64(&claims(now + 3600)));
    let signature = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &dev_key(&app).await),
        signing_input.as_bytes(),
    );
    let crit = format!(
        "{signing_input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature.as_ref())
    );
    for (case, token) in [("valid for 30 days", long), ("a crit header", crit)] {
        let res = app.send_as(&token, Method::GET, &subs, None).await;
        assert_refused(
            case,
            res,
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
        )
        .await;
    }
}

async fn dev_key(app: &TestApp) -> Vec<u8> {
    kiln::startup::bootstrap::ensure_bootstrap(&app.db, &bootstrap_settings(), &app.keys)
        .await
        .unwrap()
        .dev_key
}
