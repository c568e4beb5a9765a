//! Faults from outside: the database taken away under a running Kiln. Each test runs on a
//! PostgreSQL cluster of its own (the shared one serves every other test) and asserts exact
//! outcomes: which answers a client got, and that every write it was told succeeded is there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, OPERATION_WAIT, Options, TestApp, eventually, json_of};

/// A PostgreSQL cluster made for one test by `scripts/pg-up.sh`, removed when dropped.
struct PrivateCluster {
    url: String,
    dir: PathBuf,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

impl PrivateCluster {
    fn start() -> Self {
        let out = Command::new("bash")
            .arg(script("pg-up.sh"))
            .env_remove("KILN_TEST_PG_DIR")
            .env_remove("KILN_TEST_DATABASE_URL")
            .output()
            .expect("run pg-up.sh");
        assert!(
            out.status.success(),
            "pg-up.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let exports = String::from_utf8(out.stdout).unwrap();
        let value = |name: &str| {
            exports
                .lines()
                .find_map(|line| line.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("pg-up.sh printed no {name}: {exports}"))
                .to_owned()
        };
        Self {
            url: value("KILN_TEST_DATABASE_URL"),
            dir: PathBuf::from(value("KILN_TEST_PG_DIR")),
        }
    }

    fn ctl(&self, action: &str) {
        let status = Command::new("bash")
            .arg(script("pg-ctl.sh"))
            .arg(&self.dir)
            .arg(action)
            .status()
            .expect("run pg-ctl.sh");
        assert!(status.success(), "pg-ctl.sh {action}");
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script("pg-down.sh"))
            .arg(&self.dir)
            .status();
    }
}

/// What one write was answered.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    code: Option<String>,
    retry_after: bool,
    /// Answered after the database was started again and Kiln had answered a write with success.
    after_recovery: bool,
}

/// PostgreSQL stopped for 10 s and started again while eight clients write hubs: no answer is
/// a 500, every refusal is a 503 `DatabaseUnavailable` with `Retry-After`, no write that was
/// acknowledged is lost, the worker finishes every accepted hub without a restart, and once
/// the database is back no request fails on a connection the pool kept from before.
///
/// Checked by taking the mechanisms out: with `store::transient` mapping only connection
/// errors (as before), the writes in flight when the server stopped answered 500; with the
/// idle ping removed from `store::connect`, the first writes after the quiet outage failed on
/// dead pooled connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_blinks_is_a_503_and_loses_nothing() {
    let cluster = PrivateCluster::start();
    let app = Arc::new(
        TestApp::spawn_with(
            Backend::Postgres,
            Options {
                database: Some(cluster.url.clone()),
                ..Options::default()
            },
        )
        .await,
    );
    app.create_group("rg").await;
    let answers: Arc<tokio::sync::Mutex<BTreeMap<usize, Answer>>> = Arc::default();
    let (next, done, recovered) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let succeeded = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (app, answers, next, done) =
                (app.clone(), answers.clone(), next.clone(), done.clone());
            let (recovered, succeeded) = (recovered.clone(), succeeded.clone());
            tokio::spawn(async move {
                while !done.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let after_recovery = recovered.load(Ordering::SeqCst);
                    let body = json!({"location": "eastus", "kind": "Hub"});
                    let res = app
                        .put(&app.workspace_url("rg", &format!("hub-{i}")), &body)
                        .await;
                    let retry_after = res.headers().contains_key("retry-after");
                    let (status, body) = json_of(res).await;
                    if status.is_success() {
                        succeeded.fetch_add(1, Ordering::SeqCst);
                    }
                    let code = body["error"]["code"].as_str().map(str::to_owned);
                    let answer = Answer {
                        status,
                        code,
                        retry_after,
                        after_recovery,
                    };
                    answers.lock().await.insert(i, answer);
                }
            })
        })
        .collect();
    let at_least = |n: usize| {
        let succeeded = succeeded.clone();
        async move {
            eventually(format!("{n} accepted writes"), OPERATION_WAIT, || async {
                succeeded.load(Ordering::SeqCst) >= n
            })
            .await;
        }
    };
    at_least(40).await;
    tokio::task::block_in_place(|| cluster.ctl("stop"));
    tokio::time::sleep(Duration::from_secs(10)).await;
    tokio::task::block_in_place(|| cluster.ctl("start"));
    let before = succeeded.load(Ordering::SeqCst);
    at_least(before + 1).await;
    recovered.store(true, Ordering::SeqCst);
    at_least(before + 80).await;
    done.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }

    let answers = answers.lock().await;
    let refused: Vec<(&usize, &Answer)> = answers
        .iter()
        .filter(|(_, a)| !a.status.is_success())
        .collect();
    assert!(
        !refused.is_empty(),
        "no write met the stopped database: the test proves nothing"
    );
    for (i, answer) in &refused {
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "hub-{i}: {answer:?}"
        );
        assert_eq!(
            answer.code.as_deref(),
            Some("DatabaseUnavailable"),
            "hub-{i}"
        );
        assert!(answer.retry_after, "hub-{i}: a 503 without Retry-After");
        assert!(
            !answer.after_recovery,
            "hub-{i} failed after the database was back: {answer:?}"
        );
    }
    // Every acknowledged write is there and its hub is finished by the worker that lived
    // through the outage.
    let accepted: Vec<usize> = answers
        .iter()
        .filter(|(_, a)| a.status.is_success())
        .map(|(i, _)| *i)
        .collect();
    for i in &accepted {
        let url = app.workspace_url("rg", &format!("hub-{i}"));
        eventually(
            format!("hub-{i} to be Succeeded"),
            Duration::from_secs(90),
            || async {
                let (status, body) = json_of(app.get(&url).await).await;
                let state = body["properties"]["provisioningState"].clone();
                if status == StatusCode::OK && state == "Succeeded" {
                    Ok(())
                } else {
                    Err(format!("{status} {state}"))
                }
            },
        )
        .await;
    }
    let listed = list_hub_names(&app).await;
    for i in &accepted {
        assert!(listed.contains(&format!("hub-{i}")), "hub-{i} was lost");
    }

    // A quiet outage: nobody asks while the database is away, so the pool still holds the
    // connections the server dropped. The first requests after it must not get them.
    tokio::task::block_in_place(|| cluster.ctl("stop"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| cluster.ctl("start"));
    let burst = (0..16).map(|j| {
        let app = app.clone();
        async move {
            let url = app.workspace_url("rg", &format!("quiet-{j}"));
            let body = json!({"location": "eastus", "kind": "Hub"});
            json_of(app.put(&url, &body).await).await
        }
    });
    for (j, (status, body)) in futures_util::future::join_all(burst)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(status, StatusCode::ACCEPTED, "quiet-{j}: {body}");
    }
}

/// Every workspace name in the group, following nextLink.
async fn list_hub_names(app: &TestApp) -> Vec<String> {
    let mut names = Vec::new();
    let mut url = app.url(&format!(
        "{}/providers/Microsoft.MachineLearningServices/workspaces?api-version=2025-12-01",
        app.group_path("rg")
    ));
    loop {
        let page: Value = app.get_absolute(&url).await;
        for item in page["value"].as_array().unwrap() {
            names.push(item["name"].as_str().unwrap().to_owned());
        }
        match page["nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => return names,
        }
    }
}

/// The embedded default's form of the same fault: another process holds SQLite's write lock
/// past the busy timeout (a `kiln keys rotate`, a backup, a `sqlite3` shell). The write is a
/// 503 `DatabaseUnavailable` with `Retry-After`, not a 500, and works once the lock is gone.
/// Without SQLite's busy codes in `store::transient` it answered 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_file_is_a_503() {
    use sea_orm::{ConnectOptions, ConnectionTrait, Database};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut options = ConnectOptions::new(app.database_url.clone());
    options.max_connections(1).sqlx_logging(false);
    let other = Database::connect(options).await.unwrap();
    other.execute_unprepared("BEGIN IMMEDIATE").await.unwrap();
    let url = format!("{}?api-version=2024-03-01", app.group_path("rg"));
    let body = json!({"location": "eastus"});
    let res = app.put(&url, &body).await;
    let retry_after = res.headers().contains_key("retry-after");
    let (status, answer) = json_of(res).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "DatabaseUnavailable");
    assert!(retry_after);
    other.execute_unprepared("ROLLBACK").await.unwrap();
    let (status, answer) = json_of(app.put(&url, &body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// The server drops every connection of the database (a failover, `pg_terminate_backend`)
/// just after a read used one: the next read would run on that dead connection — too fresh
/// for the idle ping — and is run again on another one, so the client gets its 200 and not
/// a 503. Without `read_on_a_live_connection` in the engine's GET route each round answered
/// 503; with a single retry, one run in three still did (the pools held two dead connections).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_on_a_dropped_connection_is_run_again() {
    use sea_orm::{ConnectionTrait, Database};
    let app = TestApp::spawn(Backend::Postgres).await;
    app.create_group("rg").await;
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();
    let admin = Database::connect(&app.database_url).await.unwrap();
    let url = format!("{}?api-version=2024-03-01", app.group_path("rg"));
    for round in 0..5 {
        // Same client, same keep-alive connection: the same HTTP worker and its own pool.
        assert_eq!(app.get(&url).await.status(), StatusCode::OK, "warm {round}");
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            ))
            .await
            .unwrap();
        let (status, body) = json_of(app.get(&url).await).await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
    }
    admin.close().await.ok();
}
