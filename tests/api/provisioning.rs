//! The real provisioners and the sweeper: what a hub and a project leave behind, what a
//! delete removes, how a failing backend ends, and how the sweeper heals lost work.

use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, KillOnDrop, OPERATION_WAIT, Options, TestApp, error_code, eventually,
};
use kiln::resources::workspaces::{PROJECT_CONTAINERS, dependent_names};
use kiln::store::{now_millis, operation, outbox};

crate::both_backends!(
    a_hub_and_its_project_get_real_things_and_deletes_remove_them,
    a_hub_keeps_the_storage_account_it_names,
    a_failing_backend_ends_in_failed_with_its_error,
    the_sweeper_heals_lost_stuck_and_overdue_work,
);

fn with_version(id: &str, version: &str) -> String {
    format!("{id}?api-version={version}")
}

async fn delete_and_wait(app: &TestApp, url: &str) {
    let res = app.delete(url).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED, "DELETE {url}");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let done = app.poll_location(&location).await.status();
    assert!(
        done == StatusCode::OK || done == StatusCode::NO_CONTENT,
        "{done}"
    );
}

async fn event_subjects(app: &TestApp, event_type: &str) -> Vec<String> {
    outbox::Entity::find()
        .filter(outbox::Column::EventType.eq(event_type))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload["subject"].as_str().unwrap().to_lowercase())
        .collect()
}

async fn a_hub_and_its_project_get_real_things_and_deletes_remove_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let hub = app.hub("rg", "hub1").await;
    assert_eq!(hub["properties"]["provisioningState"], "Succeeded");
    let storage_id = hub["properties"]["storageAccount"]
        .as_str()
        .unwrap()
        .to_owned();
    let vault_id = hub["properties"]["keyVault"].as_str().unwrap().to_owned();
    let (storage_name, vault_name) =
        dependent_names(&app.workspace_path("rg", "hub1").to_lowercase(), "hub1");
    assert_eq!(
        storage_id,
        format!(
            "{}/providers/Microsoft.Storage/storageAccounts/{storage_name}",
            app.group_path("rg")
        )
    );
    assert_eq!(
        vault_id,
        format!(
            "{}/providers/Microsoft.KeyVault/vaults/{vault_name}",
            app.group_path("rg")
        )
    );
    // The dependents are ARM resources of their own, managed by the hub.
    let storage = app.get_ok(&with_version(&storage_id, "2023-05-01")).await;
    assert_eq!(storage["type"], "Microsoft.Storage/storageAccounts");
    assert_eq!(storage["kind"], "StorageV2");
    assert_eq!(storage["location"], "eastus");
    assert_eq!(storage["managedBy"], hub["id"]);
    assert_eq!(storage["properties"]["provisioningState"], "Succeeded");
    let vault = app.get_ok(&with_version(&vault_id, "2023-07-01")).await;
    assert_eq!(vault["managedBy"], hub["id"]);
    assert_eq!(vault["properties"]["tenantId"], app.tenant.as_str());
    let listed = app
        .get_ok(&format!(
            "{}/providers/Microsoft.Storage/storageAccounts?api-version=2023-05-01",
            app.group_path("rg")
        ))
        .await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
    // … and the account's root exists in the object store.
    let account_dir = app.objects().join(&storage_name);
    assert!(
        account_dir.is_dir(),
        "storage root {}",
        account_dir.display()
    );

    let project = app
        .create_workspace(
            "rg",
            "proj1",
            json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": hub["id"]}}),
        )
        .await;
    assert_eq!(project["properties"]["provisioningState"], "Succeeded");
    assert_eq!(project["properties"]["storageAccount"], storage_id.as_str());
    let workspace_id = project["properties"]["workspaceId"]
        .as_str()
        .unwrap()
        .to_owned();
    for suffix in PROJECT_CONTAINERS {
        let container = account_dir.join(format!("{workspace_id}-{suffix}"));
        assert!(container.is_dir(), "container {}", container.display());
    }
    let identity = &project["identity"];
    assert_eq!(identity["type"], "SystemAssigned");
    assert_eq!(identity["tenantId"], app.tenant.as_str());
    let principal = identity["principalId"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&principal).unwrap();
    // A replace that says nothing of the identity keeps it.
    let again = app
        .create_workspace(
            "rg",
            "proj1",
            json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": hub["id"], "description": "v2"}}),
        )
        .await;
    assert_eq!(again["identity"]["principalId"], principal.as_str());

    // The project's delete removes its containers and nothing of the hub's.
    delete_and_wait(&app, &app.workspace_url("rg", "proj1")).await;
    for suffix in PROJECT_CONTAINERS {
        assert!(
            !account_dir
                .join(format!("{workspace_id}-{suffix}"))
                .exists()
        );
    }
    assert!(account_dir.is_dir());

    // The hub's delete removes the resources it created and the account's root.
    delete_and_wait(&app, &app.workspace_url("rg", "hub1")).await;
    for (id, version) in [(&storage_id, "2023-05-01"), (&vault_id, "2023-07-01")] {
        let res = app.get(&with_version(id, version)).await;
        assert_eq!(
            error_code(res, StatusCode::NOT_FOUND).await,
            "ResourceNotFound"
        );
    }
    assert!(!account_dir.exists(), "the storage root is gone");
    let deleted = event_subjects(&app, "Microsoft.Resources.ResourceDeleteSuccess").await;
    for id in [&storage_id, &vault_id] {
        assert!(
            deleted.contains(&id.to_lowercase()),
            "delete event for {id}"
        );
    }
    // The group keeps nothing.
    let left = app
        .get_ok(&format!(
            "{}/resources?api-version=2021-04-01",
            app.group_path("rg")
        ))
        .await;
    assert_eq!(left["value"], json!([]));
}

async fn a_hub_keeps_the_storage_account_it_names(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let own = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/mine",
        app.group_path("rg")
    );
    let hub = app
        .create_workspace(
            "rg",
            "hub1",
            json!({"location": "eastus", "kind": "Hub", "properties": {"storageAccount": own}}),
        )
        .await;
    assert_eq!(hub["properties"]["storageAccount"], own.as_str());
    assert!(
        hub["properties"]["keyVault"]
            .as_str()
            .unwrap()
            .contains("/vaults/kv-hub1-")
    );
    // Only the key vault was created for it.
    let storage = app
        .get_ok(&format!(
            "{}/providers/Microsoft.Storage/storageAccounts?api-version=2023-05-01",
            app.group_path("rg")
        ))
        .await;
    assert_eq!(storage["value"], json!([]));
    assert!(app.objects().join("mine").is_dir());
    // Removing the hub leaves the account it did not create.
    delete_and_wait(&app, &app.workspace_url("rg", "hub1")).await;
    assert!(app.objects().join("mine").is_dir());
}

async fn a_failing_backend_ends_in_failed_with_its_error(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options {
            deadline: Some(Duration::from_secs(2)),
            ..Options::default()
        },
    )
    .await;
    app.create_group("rg").await;
    // A file where the hub's storage root must go: the object store cannot create it.
    let (storage_name, _) =
        dependent_names(&app.workspace_path("rg", "hub1").to_lowercase(), "hub1");
    std::fs::create_dir_all(app.objects()).unwrap();
    let blocker = app.objects().join(&storage_name);
    std::fs::write(&blocker, b"in the way").unwrap();

    let res = app
        .put(
            &app.workspace_url("rg", "hub1"),
            &json!({"location": "eastus", "kind": "Hub"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let monitor = res.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    let status = eventually("the hub's operation to end", OPERATION_WAIT, || async {
        let status = app.get_absolute(&monitor).await;
        if status["status"] != "InProgress" {
            return Ok(status);
        }
        assert!(
            status.get("error").is_none(),
            "no error while running: {status}"
        );
        Err(status)
    })
    .await;
    assert_eq!(status["status"], "Failed", "{status}");
    // The last attempt's own error, once retrying would overrun the deadline.
    assert_eq!(status["error"]["code"], "StorageBackendUnavailable");
    let message = status["error"]["message"].as_str().unwrap();
    assert!(message.contains("object store"), "{message}");
    let hub = app.get_ok(&app.workspace_url("rg", "hub1")).await;
    assert_eq!(hub["properties"]["provisioningState"], "Failed");
    let failures = event_subjects(&app, "Microsoft.Resources.ResourceWriteFailure").await;
    assert_eq!(failures, [app.workspace_path("rg", "hub1").to_lowercase()]);

    // With the backend healthy again, the next write succeeds.
    std::fs::remove_file(&blocker).unwrap();
    let hub = app
        .create_workspace("rg", "hub1", json!({"location": "eastus", "kind": "Hub"}))
        .await;
    assert_eq!(hub["properties"]["provisioningState"], "Succeeded");
    assert!(blocker.is_dir());
}

/// Starts a hub's operation with no worker running and returns its id.
async fn pending_hub(app: &TestApp, name: &str) -> String {
    let res = app
        .put(
            &app.workspace_url("rg", name),
            &json!({"location": "eastus", "kind": "Hub"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let monitor = res.headers()["azure-asyncoperation"].to_str().unwrap();
    let id = monitor
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    id.to_owned()
}

async fn state(app: &TestApp, name: &str) -> Value {
    app.get_ok(&app.workspace_url("rg", name)).await["properties"]["provisioningState"].clone()
}

async fn the_sweeper_heals_lost_stuck_and_overdue_work(backend: Backend) {
    let app = TestApp::spawn_with(backend, Options::without_worker()).await;
    let db = &app.db;
    app.create_group("rg").await;
    assert!(app.sweeper.run_once().await.unwrap().is_empty());

    // Lost: the operation row vanished, the hub stays Creating.
    let lost = pending_hub(&app, "lost").await;
    operation::Entity::delete_by_id(lost)
        .exec(db)
        .await
        .unwrap();
    // Stuck: a worker took the lease and died a while ago.
    let stuck = pending_hub(&app, "stuck").await;
    let long_ago = now_millis() - 60_000;
    operation::Entity::update_many()
        .col_expr(operation::Column::LeaseOwner, Expr::value("worker-dead"))
        .col_expr(operation::Column::LeaseUntil, Expr::value(long_ago))
        .filter(operation::Column::Id.eq(stuck.clone()))
        .exec(db)
        .await
        .unwrap();
    // Overdue: past its deadline, still held by a (hung) worker's live lease.
    let overdue = pending_hub(&app, "overdue").await;
    operation::Entity::update_many()
        .col_expr(operation::Column::LeaseOwner, Expr::value("worker-hung"))
        .col_expr(
            operation::Column::LeaseUntil,
            Expr::value(now_millis() + 600_000),
        )
        .col_expr(operation::Column::DeadlineAt, Expr::value(now_millis() - 1))
        .filter(operation::Column::Id.eq(overdue.clone()))
        .exec(db)
        .await
        .unwrap();
    // A pass finds all three and publishes their requests again; the worker then ends them.
    let requests_before = event_subjects(&app, "Kiln.Resource.ProvisioningRequested")
        .await
        .len();
    let sweep = app.sweeper.run_once().await.unwrap();
    assert_eq!(
        (sweep.restarted, sweep.expired_leases, sweep.past_deadline),
        (1, 1, 1),
        "{sweep:?}"
    );
    let requests_after = event_subjects(&app, "Kiln.Resource.ProvisioningRequested")
        .await
        .len();
    assert_eq!(requests_after, requests_before + 3);
    // A second pass finds nothing more to do: no duplicate operations.
    assert!(app.sweeper.run_once().await.unwrap().is_empty());
    app.worker.run_once().await.unwrap();
    assert_eq!(state(&app, "lost").await, "Succeeded");
    assert_eq!(state(&app, "stuck").await, "Succeeded");
    assert_eq!(state(&app, "overdue").await, "Failed");
    let failed = operation::Entity::find_by_id(overdue)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, "Failed");
    assert_eq!(failed.error.unwrap()["code"], "OperationTimedOut");
    // A pending delete whose operation was lost finishes too.
    let res = app.delete(&app.workspace_url("rg", "lost")).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    operation::Entity::delete_many()
        .filter(operation::Column::Status.eq("InProgress"))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(app.sweeper.run_once().await.unwrap().restarted, 1);
    app.worker.run_once().await.unwrap();
    let res = app.get(&app.workspace_url("rg", "lost")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// A worker process killed (SIGKILL) while it holds operations does not stop them: once its
/// leases run out, the next worker process finishes every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_operation_is_taken_over_after_restart() {
    use kiln::store::resource;

    const HUBS: usize = 200;
    let app = TestApp::spawn_with(Backend::Postgres, Options::without_worker()).await;
    let db = &app.db;
    app.create_group("rg").await;
    accept_hubs(&app, HUBS).await;
    let worker = || worker_process(&app);
    let succeeded = || {
        resource::Entity::find()
            .filter(resource::Column::TypeKey.eq("microsoft.machinelearningservices/workspaces"))
            .filter(resource::Column::ProvisioningState.eq("Succeeded"))
            .all(db)
    };
    let at_least = |hubs: usize| {
        let succeeded = &succeeded;
        move || async move {
            let done = succeeded().await.unwrap().len();
            if done >= hubs {
                Ok(())
            } else {
                Err(format!("{done} of {HUBS} hubs"))
            }
        }
    };
    let mut first = KillOnDrop(worker());
    let progress = "the first worker to finish 20 hubs";
    eventually(progress, Duration::from_secs(20), at_least(20)).await;
    first.0.kill().unwrap(); // SIGKILL: no shutdown, no cleanup
    first.0.wait().unwrap();
    // What it held when it died: operations leased by it, still in progress.
    let now = now_millis();
    let orphaned: Vec<String> = operation::Entity::find()
        .filter(operation::Column::Status.eq("InProgress"))
        .filter(operation::Column::LeaseOwner.is_not_null())
        .filter(operation::Column::LeaseUntil.gt(now))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|op| op.id)
        .collect();
    assert!(!orphaned.is_empty(), "the worker died holding operations");
    let left = HUBS - succeeded().await.unwrap().len();
    assert!(left > 0, "work was left when the worker died");

    let mut second = KillOnDrop(worker());
    let restart = "every hub to finish after the restart";
    eventually(restart, Duration::from_secs(60), at_least(HUBS)).await;
    second.0.kill().unwrap();
    second.0.wait().unwrap();
    for id in orphaned {
        let op = operation::Entity::find_by_id(id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(op.status, "Succeeded");
        assert!(op.attempts >= 2, "taken over: {} attempts", op.attempts);
    }
    // Every hub has its storage root, however many times its attempt ran.
    let roots = std::fs::read_dir(app.objects()).unwrap().count();
    assert_eq!(roots, HUBS);
}

/// A worker process paused (SIGSTOP) while it holds operations, past its lease, while another
/// takes them over and finishes everything; then resumed. The paused worker wakes in the middle
/// of attempts whose leases are gone: none of them may finish a second time or write a
/// resource. Counted: one write-success event per hub, one storage account per hub, and no
/// hub whose etag moves after the stale worker resumes.
///
/// What it found: the paused process also held an open transaction, and its row locks kept
/// the other worker from ever finishing those hubs (195 of 200 after 60 s) until PostgreSQL
/// was told to end transactions idle for 20 s (`store::STALLED_TRANSACTION`); without that
/// setting the test fails the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_worker_that_wakes_after_a_takeover_writes_nothing() {
    use kiln::store::{outbox, resource};
    use std::collections::HashMap;
    use std::process::Command;
    const HUBS: usize = 200;
    let app = TestApp::spawn_with(Backend::Postgres, Options::without_worker()).await;
    let db = &app.db;
    app.create_group("rg").await;
    accept_hubs(&app, HUBS).await;
    let worker = || worker_process(&app);
    let signal = |pid: u32, name: &str| {
        let status = Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    };
    let hubs = || {
        resource::Entity::find()
            .filter(resource::Column::TypeKey.eq("microsoft.machinelearningservices/workspaces"))
            .all(db)
    };
    let succeeded = |at_least: usize| {
        let hubs = &hubs;
        move || async move {
            let rows = hubs().await.unwrap();
            let done = rows
                .iter()
                .filter(|r| r.provisioning_state == "Succeeded")
                .count();
            if done >= at_least {
                Ok(())
            } else {
                Err(format!("{done} of {HUBS} hubs"))
            }
        }
    };
    let paused = KillOnDrop(worker());
    eventually(
        "the first worker to finish 20 hubs",
        Duration::from_secs(20),
        succeeded(20),
    )
    .await;
    signal(paused.0.id(), "STOP");
    let held = operation::Entity::find()
        .filter(operation::Column::Status.eq("InProgress"))
        .filter(operation::Column::LeaseOwner.is_not_null())
        .filter(operation::Column::LeaseUntil.gt(now_millis()))
        .all(db)
        .await
        .unwrap();
    assert!(!held.is_empty(), "the worker was paused holding operations");

    let mut other = KillOnDrop(worker());
    eventually(
        "the other worker to finish every hub",
        Duration::from_secs(60),
        succeeded(HUBS),
    )
    .await;
    other.0.kill().unwrap();
    other.0.wait().unwrap();
    let etags: HashMap<String, String> = hubs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id_key, r.etag))
        .collect();
    // The stale worker wakes up with its attempts half done and nobody else running.
    signal(paused.0.id(), "CONT");
    tokio::time::sleep(Duration::from_secs(4)).await;
    drop(paused);

    for row in hubs().await.unwrap() {
        assert_eq!(row.provisioning_state, "Succeeded", "{}", row.id);
        assert_eq!(
            etags.get(&row.id_key),
            Some(&row.etag),
            "{} written again",
            row.id
        );
    }
    for op in &held {
        let op = operation::Entity::find_by_id(op.id.clone())
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(op.status, "Succeeded", "{}", op.resource_id);
    }
    let mut successes: HashMap<String, usize> = HashMap::new();
    for row in outbox::Entity::find()
        .filter(outbox::Column::EventType.eq("Microsoft.Resources.ResourceWriteSuccess"))
        .all(db)
        .await
        .unwrap()
    {
        let subject = row.payload["subject"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        if subject.contains("/workspaces/hub-") {
            *successes.entry(subject).or_default() += 1;
        }
    }
    assert_eq!(successes.len(), HUBS);
    let twice: Vec<_> = successes.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "finished twice: {twice:?}");
    let roots = std::fs::read_dir(app.objects()).unwrap().count();
    assert_eq!(roots, HUBS);
}

/// `n` hub PUTs in group `rg`, eight at a time, each accepted (202) and left to a worker.
async fn accept_hubs(app: &TestApp, n: usize) {
    futures_util::StreamExt::for_each_concurrent(
        futures_util::stream::iter(0..n),
        8,
        |i| async move {
            let res = app
                .put(
                    &app.workspace_url("rg", &format!("hub-{i}")),
                    &json!({"location": "eastus", "kind": "Hub"}),
                )
                .await;
            assert_eq!(res.status(), StatusCode::ACCEPTED);
        },
    )
    .await;
}

/// A `kiln worker` process on the app's database with a 2 s lease.
fn worker_process(app: &TestApp) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .args(["--database-url", &app.database_url, "worker"])
        .args(["--worker-lease", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}
