//! Issue 11, findings 5–10: key material at rest, dev tokens, the identity endpoints' trust in
//! what a request says, and loose parsing.

use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, Options, RG_API, TestApp, error_code};
use crate::identity::{ARM_SCOPE, request_token, service_principal};
use kiln::store::identity::signing_key;

both_backends!(
    signing_keys_and_the_dev_key_are_sealed_at_rest,
    dev_tokens_can_be_turned_off,
);

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
    let db = &app.engine.db;
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
    let (first, keys) = (rows[0].clone(), &app.engine.keys);
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
    let before = kiln::store::meta::ensure_bootstrap(db, &bootstrap_settings(), keys)
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
    let after = kiln::store::meta::ensure_bootstrap(db, &bootstrap_settings(), keys)
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
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", sp.app_id.as_str()),
        ("client_secret", sp.password.as_str()),
        ("scope", ARM_SCOPE),
    ];
    let res = request_token(&app, &app.tenant, &form).await;
    assert_eq!(res.status(), StatusCode::OK);
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
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", sp.app_id.as_str()),
        ("client_secret", sp.password.as_str()),
        ("scope", ARM_SCOPE),
    ];
    let body: Value = request_token(&app, &app.tenant, &form)
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
