//! Master-key rotation under live traffic: reads and writes of secrets go on while every
//! data key is re-wrapped; afterwards the old key is gone and nothing needs it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{connection_path, list_secrets_as, put_connection, with_api};
use crate::both_backends;
use crate::helpers::{Backend, TestApp};
use kiln::rotation;
use kiln::secrets::{KeySource, MasterKeys};

const CONNECTIONS: usize = 12;

/// A hub with `count` connections `conn-{i}` holding `key-{i}`; their paths and the keyring.
async fn hub_with_keys(backend: Backend, count: usize) -> (TestApp, Vec<String>, PathBuf) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.hub("rg", "hub").await;
    let paths: Vec<String> = (0..count)
        .map(|i| connection_path(&app, "rg", "hub", &format!("conn-{i}")))
        .collect();
    for (i, path) in paths.iter().enumerate() {
        put_connection(
            &app,
            path,
            json!({"authType": "ApiKey", "credentials": {"key": format!("key-{i}")}}),
        )
        .await;
    }
    let keyring = app.keyring.clone();
    (app, paths, keyring)
}

async fn rotation_under_traffic(backend: Backend) {
    let (app, paths, keyring) = hub_with_keys(backend, CONNECTIONS).await;
    let app = Arc::new(app);
    let old_keys = kiln::secrets::keyring::file_keys(&keyring).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let traffic = {
        let (app, stop, calls, paths) = (app.clone(), stop.clone(), calls.clone(), paths.clone());
        tokio::spawn(async move {
            let mut round = 0usize;
            while !stop.load(Ordering::SeqCst) || round < 3 {
                for (i, path) in paths.iter().enumerate() {
                    let res = app.get(&with_api(path)).await;
                    assert_eq!(res.status(), StatusCode::OK);
                    let res = list_secrets_as(&app, &app.token, path).await;
                    assert_eq!(res.status(), StatusCode::OK, "listsecrets during rotation");
                    let body: Value = res.json().await.unwrap();
                    assert_eq!(
                        body["properties"]["credentials"]["key"],
                        json!(format!("key-{i}"))
                    );
                    calls.fetch_add(2, Ordering::SeqCst);
                }
                // Writes meanwhile: a new connection each round.
                let extra = connection_path(&app, "rg", "hub", &format!("extra-{round}"));
                put_connection(
                    &app,
                    &extra,
                    json!({"authType": "ApiKey", "credentials": {"key": format!("extra-{round}")}}),
                )
                .await;
                round += 1;
            }
            round
        })
    };
    let report = rotation::rotate(&app.db, &KeySource::File(keyring.clone()), 5)
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let rounds = traffic.await.unwrap();
    assert!(calls.load(Ordering::SeqCst) > 0);
    assert!(report.rewrapped >= CONNECTIONS as u64, "{report:?}");
    assert_eq!(report.remaining, 0);

    // Only the new key is left, and every secret (old, new, written meanwhile) opens with it.
    let new_keys = kiln::secrets::keyring::file_keys(&keyring).unwrap();
    assert_eq!(new_keys.len(), 1);
    assert!(!old_keys.contains(&new_keys[0]));
    let only_new = MasterKeys::load(KeySource::Configured {
        current: new_keys[0].clone(),
        previous: vec![],
    })
    .unwrap();
    let again = rotation::rewrap_all(&app.db, &only_new, 5).await.unwrap();
    assert_eq!((again.rewrapped, again.remaining), (0, 0), "idempotent");
    let expected = paths
        .iter()
        .enumerate()
        .map(|(i, path)| (path.clone(), format!("key-{i}")))
        .chain((0..rounds).map(|round| {
            let path = connection_path(&app, "rg", "hub", &format!("extra-{round}"));
            (path, format!("extra-{round}"))
        }));
    for (path, key) in expected {
        let body: Value = list_secrets_as(&app, &app.token, &path)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            body["properties"]["credentials"]["key"],
            json!(key),
            "{path}"
        );
    }
}

/// With `KILN_MASTER_KEY`: the new key current, the old one previous, rotate, then the old
/// one is not needed.
async fn configured_keys_rotate(backend: Backend) {
    let (app, paths, keyring) = hub_with_keys(backend, 1).await;
    let path = &paths[0];
    let old = kiln::secrets::keyring::file_keys(&keyring)
        .unwrap()
        .remove(0);
    let new = kiln::secrets::keyring::generate_base64();
    let source =
        KeySource::from_settings(Some(&new), Some(&format!(" ,{old}")), app.data_dir.path());
    let report = rotation::rotate(&app.db, &source, 1).await.unwrap();
    // The connection's secret, the token-signing key and the dev key.
    assert_eq!((report.rewrapped, report.remaining), (3, 0));
    let only_new = MasterKeys::load(KeySource::from_settings(
        Some(&new),
        None,
        app.data_dir.path(),
    ))
    .unwrap();
    let key = path.to_lowercase();
    let plain = kiln::secrets::store::get(&app.db, &only_new, &key)
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&plain).contains("key-0"));
}

/// Two `kiln keys rotate` at once take turns: neither prunes the key the other wraps with,
/// and every secret still opens with the keyring that is left.
async fn concurrent_rotations_take_turns(backend: Backend) {
    let (app, paths, keyring) = hub_with_keys(backend, 4).await;
    let source = KeySource::File(keyring.clone());
    let (a, b) = tokio::join!(
        rotation::rotate(&app.db, &source, 1),
        rotation::rotate(&app.db, &source, 1)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.active_key_id, b.active_key_id);
    assert_eq!((a.remaining, b.remaining), (0, 0));
    let left = kiln::secrets::keyring::file_keys(&keyring).unwrap();
    assert_eq!(left.len(), 1, "the key no secret needs is gone");
    let only_left = MasterKeys::load(KeySource::Configured {
        current: left[0].clone(),
        previous: vec![],
    })
    .unwrap();
    for (i, path) in paths.iter().enumerate() {
        let plain = kiln::secrets::store::get(&app.db, &only_left, &path.to_lowercase())
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&plain).contains(&format!("key-{i}")));
        let res = list_secrets_as(&app, &app.token, path).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "the server follows the keyring"
        );
    }
}

/// Pruning keeps every key a row still names (a server that had not yet seen the new
/// keyring may have sealed under the old one), and only drops the others.
async fn pruning_keeps_keys_still_in_use(backend: Backend) {
    let (app, paths, keyring) = hub_with_keys(backend, 1).await;
    let in_use = kiln::secrets::keyring::file_keys(&keyring).unwrap();
    let (new, unused) = (
        kiln::secrets::keyring::generate_base64(),
        kiln::secrets::keyring::generate_base64(),
    );
    kiln::secrets::keyring::write_file(&keyring, &[new.clone(), unused, in_use[0].clone()])
        .unwrap();
    let kept = rotation::prune(&app.db, &keyring).await.unwrap();
    assert_eq!(kept, 2);
    assert_eq!(
        kiln::secrets::keyring::file_keys(&keyring).unwrap(),
        vec![new, in_use[0].clone()]
    );
    let res = list_secrets_as(&app, &app.token, &paths[0]).await;
    assert_eq!(res.status(), StatusCode::OK);
}

both_backends!(
    rotation_under_traffic,
    configured_keys_rotate,
    concurrent_rotations_take_turns,
    pruning_keeps_keys_still_in_use
);
