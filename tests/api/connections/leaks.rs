//! Secrets never leak: written with known strings, they must not appear in any response but
//! listsecrets, in any event, activity-log row, log line, or anywhere in the database.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};

use super::{connection_path, hub_and_project, list_secrets, with_api};
use crate::both_backends;
use crate::helpers::{Backend, KillOnDrop, OPERATION_WAIT, TestApp, eventually, kiln_serve, roles};

fn marker() -> String {
    format!("LEAKMARK{}", uuid::Uuid::new_v4().simple())
}

/// The `name` column of a catalogue query.
async fn names(db: &sea_orm::DatabaseConnection, sql: String) -> Vec<String> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

/// Every text, JSON, number… of every column of every table, as text.
async fn database_text(url: &str) -> Vec<(String, String)> {
    let db = Database::connect(url).await.unwrap();
    let backend = db.get_database_backend();
    let sqlite = backend == DbBackend::Sqlite;
    let tables = names(
        &db,
        if sqlite {
            "SELECT name FROM sqlite_master WHERE type = 'table'".into()
        } else {
            "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = 'public'".into()
        },
    )
    .await;
    assert!(tables.iter().any(|t| t == "resource_secrets"));
    let mut out = Vec::new();
    for table in tables {
        let columns = names(
            &db,
            if sqlite {
                format!("PRAGMA table_info(\"{table}\")")
            } else {
                format!("SELECT column_name::text AS name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{table}'")
            },
        )
        .await;
        for column in columns {
            let rows = db
                .query_all_raw(Statement::from_string(
                    backend,
                    format!("SELECT CAST(\"{column}\" AS TEXT) AS v FROM \"{table}\""),
                ))
                .await
                .unwrap();
            for row in rows {
                if let Ok(Some(text)) = row.try_get::<Option<String>>("", "v") {
                    out.push((format!("{table}.{column}"), text));
                }
            }
        }
    }
    db.close().await.ok();
    out
}

fn assert_clean(place: &str, text: &str, markers: &[String]) {
    for m in markers {
        assert!(
            !text.contains(m.as_str()),
            "a secret leaked into {place}: {text}"
        );
    }
}

async fn secrets_never_leak(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut events = app.broker.subscribe();
    hub_and_project(&app, "rg", "hub", "proj").await;
    let m: Vec<String> = (0..17).map(|_| marker()).collect();
    let mut answers: Vec<(String, String)> = Vec::new();
    let hub_conn = connection_path(&app, "rg", "hub", "shared-key");
    let proj_sp = connection_path(&app, "rg", "proj", "sp-1");
    let proj_custom = connection_path(&app, "rg", "proj", "custom");
    let proj_legacy = connection_path(&app, "rg", "proj", "legacy");
    let proj_oauth = connection_path(&app, "rg", "proj", "oauth");
    // Property names are matched ignoring case, as ARM does: other capitals still seal.
    let proj_capitals = connection_path(&app, "rg", "proj", "capitals");
    let proj_legacy_capitals = connection_path(&app, "rg", "proj", "legacy-capitals");
    let writes = [
        (
            with_api(&hub_conn),
            json!({"authType": "ApiKey", "category": "AzureOpenAI", "isSharedToAll": true, "credentials": {"key": m[0]}}),
        ),
        (
            with_api(&proj_sp),
            json!({"authType": "ServicePrincipal", "credentials": {"clientId": "c", "tenantId": "t", "clientSecret": m[1]}}),
        ),
        (
            with_api(&proj_custom),
            json!({"authType": "CustomKeys", "credentials": {"keys": {"a": m[2]}}}),
        ),
        (
            format!("{proj_legacy}?api-version=2020-08-01"),
            json!({"authType": "PAT", "category": "Git", "value": m[3], "valueFormat": "JSON"}),
        ),
        (
            with_api(&proj_oauth),
            json!({"authType": "OAuth2", "credentials": {"clientId": "6f1c4bb1-7c4c-4b7f-9bb8-0a3f2f7bd6a1", "refreshToken": m[4]}}),
        ),
        (
            with_api(&proj_capitals),
            json!({"authType": "ApiKey", "Target": "https://capitals.example.com", "Credentials": {"key": m[12]}}),
        ),
        (
            format!("{proj_legacy_capitals}?api-version=2020-08-01"),
            json!({"authType": "PAT", "category": "Git", "VALUE": m[13], "valueFormat": "JSON"}),
        ),
    ];
    for (url, properties) in &writes {
        let res = app.put(url, &json!({"properties": properties})).await;
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{url}: {text}");
        answers.push((format!("PUT {url}"), text));
    }
    let patches = [
        (&proj_sp, json!({"credentials": {"clientSecret": m[5]}})),
        (&proj_capitals, json!({"CREDENTIALS": {"key": m[14]}})),
    ];
    for (path, properties) in &patches {
        let res = app
            .patch(&with_api(path), &json!({"properties": properties}))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "PATCH {path}");
        answers.push((format!("PATCH {path}"), res.text().await.unwrap()));
    }
    // Refused writes must not echo what they refuse.
    let bad_writes = [
        (
            with_api(&proj_sp),
            json!({"properties": {"authType": "ApiKey", "credentials": m[6]}}),
        ),
        (
            with_api(&proj_sp),
            json!({"properties": {"authType": "ApiKey", "isSharedToAll": m[7]}}),
        ),
        (
            with_api(&proj_sp),
            json!({"properties": {"authType": "ApiKey", "sharedUserList": [1, m[8]]}}),
        ),
        (
            with_api(&proj_sp),
            json!({"properties": {"authType": m[9]}, "unknownTopLevel": 1}),
        ),
        // Two spellings of one member are ambiguous: refused, whichever would have won.
        (
            with_api(&proj_capitals),
            json!({"properties": {"authType": "ApiKey", "credentials": {"key": m[15]}, "Credentials": {"key": m[15]}}}),
        ),
        // A secret-bearing name outside `credentials` is refused, not stored in the clear.
        (
            with_api(&proj_capitals),
            json!({"properties": {"authType": "ApiKey", "credential": {"key": m[16]}}}),
        ),
        (
            with_api(&connection_path(&app, "rg", "proj", "x")),
            json!({"properties": {"authType": "ApiKey", "credentials": {"key": m[10]}}}),
        ),
    ];
    for (url, body) in &bad_writes {
        let res = app.put(url, body).await;
        assert!(res.status().is_client_error(), "{url} {body}");
        answers.push((format!("refused PUT {url}"), res.text().await.unwrap()));
    }
    let res = app
        .client
        .put(app.url(&with_api(&proj_sp)))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"properties\": {{\"authType\": \"ApiKey\", \"credentials\": {{\"key\": \"{}\"",
            m[10]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    answers.push(("malformed PUT".into(), res.text().await.unwrap()));
    let reader = uuid::Uuid::new_v4().to_string();
    app.grant(&reader, roles::READER).await;
    let as_reader = app.token_for(&reader, &app.tenant);
    let res = app
        .send_as(
            &as_reader,
            Method::PUT,
            &with_api(&proj_sp),
            Some(&json!({"properties": {"authType": "ApiKey", "credentials": {"key": m[11]}}})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    answers.push(("reader PUT".into(), res.text().await.unwrap()));
    let res = super::list_secrets_as(&app, &as_reader, &proj_sp).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    answers.push(("reader listsecrets".into(), res.text().await.unwrap()));
    for path in [
        &hub_conn,
        &proj_sp,
        &proj_custom,
        &proj_legacy,
        &proj_oauth,
        &proj_capitals,
        &proj_legacy_capitals,
    ] {
        answers.push((
            format!("GET {path}"),
            app.get(&with_api(path)).await.text().await.unwrap(),
        ));
    }
    for ws in ["hub", "proj"] {
        let list = with_api(&format!("{}/connections", app.workspace_path("rg", ws)));
        answers.push((
            format!("list {ws}"),
            app.get(&list).await.text().await.unwrap(),
        ));
    }
    let activity = format!(
        "/subscriptions/{}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01",
        app.subscription
    );
    let activity_answer = app.get(&activity).await.text().await.unwrap();
    assert!(
        activity_answer.contains("connections/shared-key"),
        "the activity log records connection writes"
    );
    answers.push(("activity log".into(), activity_answer));
    for (place, text) in &answers {
        assert_clean(place, text, &m);
    }

    // listsecrets is the one way out.
    let revealed = list_secrets(&app, &proj_sp).await;
    assert_eq!(
        revealed["properties"]["credentials"]["clientSecret"],
        json!(m[5])
    );
    let revealed = list_secrets(&app, &connection_path(&app, "rg", "proj", "shared-key")).await;
    assert_eq!(revealed["properties"]["credentials"]["key"], json!(m[0]));
    let revealed = list_secrets(&app, &proj_capitals).await;
    assert_eq!(revealed["properties"]["credentials"]["key"], json!(m[14]));
    assert_eq!(
        revealed["properties"]["target"],
        "https://capitals.example.com"
    );
    let revealed = list_secrets(&app, &proj_legacy_capitals).await;
    assert_eq!(revealed["properties"]["value"], json!(m[13]));

    // Events: every write published, none with a secret.
    let mut seen = 0;
    let published = tokio::time::timeout(Duration::from_secs(10), async {
        while seen <= writes.len() {
            if let Ok(published) = events.recv().await {
                assert_clean("an event", &published.event.to_string(), &m);
                seen += usize::from(published.routing_key.contains("connections"));
            }
        }
    });
    assert!(
        published.await.is_ok(),
        "connection events were published ({seen})"
    );

    // The database holds ciphertext only.
    let text = database_text(&app.database_url).await;
    let sealed = text
        .iter()
        .filter(|(col, _)| col == "resource_secrets.ciphertext")
        .count();
    assert_eq!(sealed, writes.len(), "one sealed secret per connection");
    for (column, value) in &text {
        assert_clean(column, value, &m);
    }
}

/// A row's sealed secret copied onto another connection does not decrypt there.
async fn a_copied_secret_does_not_decrypt(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.hub("rg", "hub").await;
    let a = connection_path(&app, "rg", "hub", "conn-a");
    let b = connection_path(&app, "rg", "hub", "conn-b");
    let secret = marker();
    for (path, key) in [(&a, secret.as_str()), (&b, "other")] {
        super::put_connection(
            &app,
            path,
            json!({"authType": "ApiKey", "credentials": {"key": key}}),
        )
        .await;
    }
    let db = Database::connect(&app.database_url).await.unwrap();
    let backend = db.get_database_backend();
    let copy = "UPDATE resource_secrets SET master_key_id = src.master_key_id, wrapped_key = src.wrapped_key, ciphertext = src.ciphertext \
                FROM (SELECT master_key_id, wrapped_key, ciphertext FROM resource_secrets WHERE resource_key LIKE '%/conn-a') AS src \
                WHERE resource_key LIKE '%/conn-b'";
    let done = db
        .execute_raw(Statement::from_string(backend, copy))
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    let res = super::list_secrets_as(&app, &app.token, &b).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_clean(
        "the error",
        &res.text().await.unwrap(),
        std::slice::from_ref(&secret),
    );
    assert_eq!(
        list_secrets(&app, &a).await["properties"]["credentials"]["key"],
        json!(secret)
    );
}

both_backends!(secrets_never_leak, a_copied_secret_does_not_decrypt);

const KILN: &str = env!("CARGO_BIN_EXE_kiln");

fn kiln(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(KILN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("KILN_DATABASE_URL")
        .env_remove("KILN_MASTER_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kiln {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `kiln serve` at debug level: nothing it logs holds a secret, and `kiln keys rotate` run
/// beside it re-wraps the secrets without it noticing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_process_logs_no_secret_and_rotates_its_keyring() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = KillOnDrop(
        kiln_serve(dir.path(), port)
            .env_remove("KILN_MASTER_KEY")
            .env("KILN_LOG", "debug")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually("kiln serve to answer", Duration::from_secs(30), || async {
        client.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;
    let token = kiln(dir.path(), &["token"]).trim().to_owned();
    let send = |method: Method, path: String, body: Option<Value>| {
        let mut req = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send()
    };
    let subs: Value = send(
        Method::GET,
        "/subscriptions?api-version=2022-12-01".into(),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let sub = subs["value"][0]["subscriptionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = format!("/subscriptions/{sub}/resourceGroups/rg");
    send(
        Method::PUT,
        format!("{group}?api-version=2024-03-01"),
        Some(json!({"location": "eastus"})),
    )
    .await
    .unwrap();
    let hub = format!("{group}/providers/Microsoft.MachineLearningServices/workspaces/hub");
    send(
        Method::PUT,
        with_api(&hub),
        Some(json!({"location": "eastus", "kind": "Hub", "properties": {}})),
    )
    .await
    .unwrap();
    eventually("the hub to be provisioned", OPERATION_WAIT, || async {
        let got: Value = send(Method::GET, with_api(&hub), None)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if got["properties"]["provisioningState"] == "Succeeded" {
            Ok(())
        } else {
            Err(got)
        }
    })
    .await;
    let secrets: Vec<String> = (0..3).map(|_| marker()).collect();
    let conn = format!("{hub}/connections/openai");
    let res = send(
        Method::PUT,
        with_api(&conn),
        Some(json!({"properties": {"authType": "ApiKey", "credentials": {"key": secrets[0]}}})),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = send(
        Method::PUT,
        with_api(&conn),
        Some(json!({"properties": {"authType": 7, "credentials": {"key": secrets[1]}}})),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    send(Method::GET, with_api(&conn), None).await.unwrap();
    send(Method::GET, with_api(&format!("{hub}/connections")), None)
        .await
        .unwrap();
    let reveal = || send(Method::POST, with_api(&format!("{conn}/listsecrets")), None);
    let revealed: Value = reveal().await.unwrap().json().await.unwrap();
    assert_eq!(
        revealed["properties"]["credentials"]["key"],
        json!(secrets[0])
    );

    let keyring = dir.path().join("master-keys");
    let before = std::fs::read_to_string(&keyring).unwrap();
    let rotated: Value = serde_json::from_str(&kiln(dir.path(), &["keys", "rotate"])).unwrap();
    // The connection's secret, the token-signing key and the dev key.
    assert_eq!(rotated["rewrapped"], 3);
    assert_eq!(rotated["remaining"], 0);
    let after = std::fs::read_to_string(&keyring).unwrap();
    let key_lines = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(key_lines(&after).len(), 1, "the old key is gone");
    assert!(!key_lines(&before).contains(&key_lines(&after)[0]));
    let revealed: Value = reveal().await.unwrap().json().await.unwrap();
    assert_eq!(
        revealed["properties"]["credentials"]["key"],
        json!(secrets[0]),
        "the server reads the new keyring"
    );
    let res = send(
        Method::PATCH,
        with_api(&conn),
        Some(json!({"properties": {"credentials": {"key": secrets[2]}}})),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let _ = child.0.kill();
    let _ = child.0.wait();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("connections"), "the requests were logged");
    assert_clean("the server's log", &logs, &secrets);
    for file in ["kiln.db", "kiln.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
            let text = String::from_utf8_lossy(&bytes);
            assert_clean(file, &text, &secrets);
        }
    }
}
