//! Lifecycle events through a real RabbitMQ on loopback (the test command starts one; without
//! it these tests fail, never skip).

use std::time::Duration;

use futures_util::StreamExt;
use kiln::events::rabbitmq::{RabbitBroker, Topology};
use lapin::options::{BasicConsumeOptions, BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, KillOnDrop, OPERATION_WAIT, Options, TestApp, eventually};

both_backends!(
    events_reach_rabbitmq_with_their_routing_keys,
    a_broker_restart_loses_no_event,
    provisioning_requests_wake_the_worker,
    duplicate_deliveries_change_nothing,
    a_poisoned_request_is_dead_lettered_and_fails_its_resource,
);

async fn events_reach_rabbitmq_with_their_routing_keys(backend: Backend) {
    let url = std::env::var("KILN_TEST_AMQP_URL")
        .expect("KILN_TEST_AMQP_URL must point at RabbitMQ (scripts/test.sh starts one)");
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let topology = Topology::new(&prefix);

    // An outside subscriber: its own queue bound to every event, as the README describes.
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .expect("RabbitMQ reachable");
    let channel = connection.create_channel().await.unwrap();
    RabbitBroker::declare(&channel, &topology).await.unwrap();
    let options = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare("".into(), options, FieldTable::default())
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.name().as_str().into(),
            topology.events.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..BasicConsumeOptions::default()
    };
    let mut consumer = channel
        .basic_consume(
            queue.name().as_str().into(),
            "test".into(),
            no_ack,
            FieldTable::default(),
        )
        .await
        .unwrap();

    let app = TestApp::spawn_with(
        backend,
        Options {
            amqp: Some((url, prefix)),
            ..Options::default()
        },
    )
    .await;
    app.create_group("rg").await;
    app.hub("rg", "hub1").await;

    let mut received = Vec::new();
    while received.len() < 5 {
        let delivery = tokio::time::timeout(Duration::from_secs(20), consumer.next())
            .await
            .expect("event delivered")
            .expect("consumer open")
            .expect("delivery");
        let event: Value = serde_json::from_slice(&delivery.data).unwrap();
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string());
        assert_eq!(
            message_id.as_deref(),
            event["id"].as_str(),
            "message id is the event (outbox) id"
        );
        assert_eq!(
            delivery
                .properties
                .content_type()
                .as_ref()
                .map(|c| c.to_string())
                .as_deref(),
            Some("application/cloudevents+json")
        );
        received.push((delivery.routing_key.to_string(), event));
    }
    let keys: Vec<&str> = received.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "microsoft.resources.resourcegroups.resourcewritesuccess",
            "microsoft.machinelearningservices.workspaces.provisioningrequested",
            "microsoft.storage.storageaccounts.resourcewritesuccess",
            "microsoft.keyvault.vaults.resourcewritesuccess",
            "microsoft.machinelearningservices.workspaces.resourcewritesuccess",
        ]
    );
    assert_eq!(received[4].1["subject"], app.workspace_path("rg", "hub1"));

    // The provisioner's quorum queue got the provisioning request (and only that).
    let request = channel
        .basic_get(
            topology.provisioner.as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
        .expect("a provisioning request queued");
    assert_eq!(
        request.delivery.routing_key.as_str(),
        "microsoft.machinelearningservices.workspaces.provisioningrequested"
    );
    let next = channel
        .basic_get(
            topology.provisioner.as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap();
    assert!(next.is_none());
}

/// A durable queue of our own bound to every event under `topology`, as an outside watcher
/// would declare it; it survives broker restarts.
async fn watch_everything(channel: &lapin::Channel, topology: &Topology, name: &str) {
    RabbitBroker::declare(channel, topology).await.unwrap();
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        lapin::types::AMQPValue::LongString("quorum".into()),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name.into(), durable, arguments)
        .await
        .unwrap();
    channel
        .queue_bind(
            name.into(),
            topology.events.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
}

/// Runs rabbitmqctl against the test node (scripts/rabbitmq-up.sh records its environment).
fn rabbitmqctl(command: &str) {
    let dir =
        std::env::var("KILN_TEST_RMQ_DIR").expect("KILN_TEST_RMQ_DIR (scripts/rabbitmq-up.sh)");
    let node =
        std::env::var("KILN_TEST_RMQ_NODE").expect("KILN_TEST_RMQ_NODE (scripts/rabbitmq-up.sh)");
    let env = std::fs::read_to_string(format!("{dir}/env")).expect("the node's environment file");
    let vars = env.lines().filter_map(|line| line.split_once('='));
    let status = std::process::Command::new("/usr/lib/rabbitmq/bin/rabbitmqctl")
        .env_clear()
        .envs(vars)
        .args(["-q", "-n", &node, command])
        .status()
        .expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl {command}");
}

/// 500 writes (10 groups, 490 hubs) while the broker is stopped and started under them. Every
/// event reaches RabbitMQ at least once (counted by outbox id) and every resource ends
/// terminal; the worker also consumes provisioning requests across the restart.
async fn a_broker_restart_loses_no_event(backend: Backend) {
    use kiln::store::{outbox, resource};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const GROUPS: usize = 10;
    const WRITES: usize = 500;
    let url = amqp_url();
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let topology = Topology::new(&prefix);
    let watch = format!("{prefix}watch");
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .expect("RabbitMQ reachable");
    watch_everything(
        &connection.create_channel().await.unwrap(),
        &topology,
        &watch,
    )
    .await;
    drop(connection);

    let app = Arc::new(
        TestApp::spawn_with(
            backend,
            Options {
                amqp: Some((url.clone(), prefix.clone())),
                ..Options::default()
            },
        )
        .await,
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let consumer = tokio::spawn(
        kiln::provisioners::wakeups::QueueWakeups::new(&url, &prefix)
            .run_until_stopped(app.worker.clone(), stopped),
    );
    for g in 0..GROUPS {
        app.create_group(&format!("rg-{g}")).await;
    }
    // Hub writes, eight at a time; the broker goes down at 150 and comes back at 350.
    let written = Arc::new(AtomicUsize::new(GROUPS));
    let restart = {
        let written = written.clone();
        let written_at_least = move |n: usize| {
            let written = written.clone();
            async move {
                let what = format!("{n} writes");
                eventually(what, Duration::from_secs(120), || async {
                    written.load(Ordering::SeqCst) >= n
                })
                .await;
            }
        };
        tokio::spawn(async move {
            written_at_least(150).await;
            tokio::task::spawn_blocking(|| rabbitmqctl("stop_app"))
                .await
                .unwrap();
            written_at_least(350).await;
            tokio::task::spawn_blocking(|| rabbitmqctl("start_app"))
                .await
                .unwrap();
        })
    };
    futures_util::stream::iter(0..WRITES - GROUPS)
        .for_each_concurrent(8, |i| {
            let (app, written) = (app.clone(), written.clone());
            async move {
                let url = app.workspace_url(&format!("rg-{}", i % GROUPS), &format!("hub-{i}"));
                // A 503 (the one SQLite connection busy past its acquire timeout under this
                // load) is retried, as ARM clients do; the write must then be accepted.
                let body = serde_json::json!({"location": "eastus", "kind": "Hub"});
                let mut res = app.put(&url, &body).await;
                // Up to 5 s: with the whole suite running beside it, the connection can stay
                // busy for more than a second.
                for _ in 0..20 {
                    if res.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    res = app.put(&url, &body).await;
                }
                assert_eq!(res.status(), reqwest::StatusCode::ACCEPTED, "{url}");
                written.fetch_add(1, Ordering::SeqCst);
            }
        })
        .await;
    restart.await.unwrap();
    assert_eq!(written.load(Ordering::SeqCst), WRITES);

    // Nothing is left non-terminal …
    let db = &app.db;
    let none_left = |count: u64| if count == 0 { Ok(()) } else { Err(count) };
    eventually(
        "every resource to end terminal",
        Duration::from_secs(60),
        || async {
            let pending = resource::Entity::find()
                .filter(resource::Column::ProvisioningState.ne("Succeeded"))
                .count(db);
            none_left(pending.await.unwrap())
        },
    )
    .await;
    // … the relay reconnected and published the rest …
    eventually(
        "every event sent after the broker came back",
        Duration::from_secs(60),
        || async {
            let unsent = outbox::Entity::find()
                .filter(outbox::Column::SentAt.is_null())
                .count(db);
            none_left(unsent.await.unwrap())
        },
    )
    .await;
    // … and every event reached the watcher at least once, counted by its id.
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let (committed, missing) = undelivered(db, &channel, &watch).await;
    // Per hub: requested, storage account, key vault, hub succeeded; plus one per group.
    assert_eq!(committed, GROUPS + 4 * (WRITES - GROUPS));
    assert_eq!(
        missing, 0,
        "every event delivered at least once across the restart"
    );
    let _ = stop.send(true);
    consumer.await.unwrap();
}

/// A provisioning request no worker can process is requeued until the delivery limit
/// dead-letters it; it stays parked in `kiln.provisioner.dead`, and its resource ends Failed
/// with an error that says what happened.
async fn a_poisoned_request_is_dead_lettered_and_fails_its_resource(backend: Backend) {
    use kiln::events::broker::Broker;
    use kiln::store::{now_millis, operation, outbox};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let topology = Topology::new(&prefix);
    // No worker and no relay: nothing drives the hub but the queue consumer below.
    let options = Options {
        worker: false,
        relay: false,
        amqp: Some((amqp_url(), prefix.clone())),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.create_group("rg").await;
    let res = app
        .put(
            &app.workspace_url("rg", "hub1"),
            &serde_json::json!({"location": "eastus", "kind": "Hub"}),
        )
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::ACCEPTED);
    let monitor = res.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    // The poisoned copy of the hub's request: its generation is not a number.
    let db = &app.db;
    let request = outbox::Entity::find()
        .filter(outbox::Column::EventType.eq("Kiln.Resource.ProvisioningRequested"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut poisoned = request.payload.clone();
    poisoned["data"]["generation"] = serde_json::json!("one");
    // Its operation waits for a retry (as after a failed attempt), so the poll path leaves it.
    operation::Entity::update_many()
        .col_expr(
            operation::Column::LeaseUntil,
            Expr::value(now_millis() + 600_000),
        )
        .exec(db)
        .await
        .unwrap();
    let broker = RabbitBroker::new(&amqp_url(), &prefix);
    broker
        .publish(&request.routing_key, &poisoned)
        .await
        .unwrap();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let consumer = tokio::spawn(
        kiln::provisioners::wakeups::QueueWakeups::new(&amqp_url(), &prefix)
            .run_until_stopped(app.worker.clone(), stopped),
    );
    let status = eventually(
        "the poisoned hub's operation to end",
        OPERATION_WAIT,
        || async {
            let status = app.get_absolute(&monitor).await;
            (status["status"] != "InProgress").then_some(status)
        },
    )
    .await;
    assert_eq!(status["status"], "Failed", "{status}");
    assert_eq!(status["error"]["code"], "ProvisioningRequestDeadLettered");
    let message = status["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&topology.provisioner_dead) && message.contains("5 times"),
        "{message}"
    );
    let hub: Value = app.get_ok(&app.workspace_url("rg", "hub1")).await;
    assert_eq!(hub["properties"]["provisioningState"], "Failed");
    // The message itself is parked for operators, as it was published.
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let parked = channel
        .basic_get(
            topology.provisioner_dead.as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
        .expect("the poisoned request is in the dead-letter queue");
    let body: Value = serde_json::from_slice(&parked.delivery.data).unwrap();
    assert_eq!(body, poisoned);
    let _ = stop.send(true);
    consumer.await.unwrap();
}

fn amqp_url() -> String {
    std::env::var("KILN_TEST_AMQP_URL")
        .expect("KILN_TEST_AMQP_URL must point at RabbitMQ (scripts/test.sh starts one)")
}

/// Polls a Location URL without driving the worker: whatever finishes the operation must be
/// something else.
async fn wait_for_location(app: &TestApp, location: &str) -> reqwest::StatusCode {
    let what = format!("the operation at {location} to finish");
    eventually(what, OPERATION_WAIT, || async {
        let res = app.client.get(location).bearer_auth(&app.token).send();
        let status = res.await.unwrap().status();
        (status != reqwest::StatusCode::ACCEPTED).then_some(status)
    })
    .await
}

async fn provisioning_requests_wake_the_worker(backend: Backend) {
    use kiln::provisioners::wakeups::QueueWakeups;
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    // No in-process worker: only the queue consumer below drives operations.
    let options = Options {
        worker: false,
        amqp: Some((amqp_url(), prefix.clone())),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let consumer = tokio::spawn(
        QueueWakeups::new(&amqp_url(), &prefix).run_until_stopped(app.worker.clone(), stopped),
    );
    app.create_group("rg").await;
    let res = app
        .put(
            &app.workspace_url("rg", "hub1"),
            &serde_json::json!({"location": "eastus", "kind": "Hub"}),
        )
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        wait_for_location(&app, &location).await,
        reqwest::StatusCode::OK
    );
    let _ = stop.send(true);
    consumer.await.unwrap();
}

/// `kiln serve --no-worker` publishes to RabbitMQ; a separate `kiln worker` provisions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_a_separate_worker_process_share_the_work() {
    use std::process::{Command, Stdio};
    const KILN: &str = env!("CARGO_BIN_EXE_kiln");
    let database = crate::helpers::postgres_database().await;
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    // Watch every event under the prefix, to see that they really go through RabbitMQ.
    let topology = Topology::new(&prefix);
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let watch = format!("{prefix}watch");
    watch_everything(&channel, &topology, &watch).await;

    let kiln = |args: &[&str]| {
        let mut command = Command::new(KILN);
        command
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--database-url", &database])
            .args(args)
            .env("KILN_AMQP_URL", amqp_url())
            .env("KILN_AMQP_PREFIX", &prefix)
            // The test calls with a dev token, off by default on PostgreSQL.
            .env("KILN_DEV_TOKENS", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    let _serve = KillOnDrop(
        kiln(&[
            "serve",
            "--no-worker",
            "--https",
            "off",
            "--http",
            &format!("127.0.0.1:{port}"),
        ])
        .spawn()
        .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually("kiln serve to answer", Duration::from_secs(30), || async {
        client.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;
    let _worker = KillOnDrop(kiln(&["worker"]).spawn().unwrap());
    let token = String::from_utf8(
        kiln(&["token"])
            .stdout(Stdio::piped())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let res = client
        .get(format!("{base}/subscriptions?api-version=2022-12-01"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let subs: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "subscriptions: {subs} (token {token:?})"
    );
    let sub = subs["value"][0]["subscriptionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = format!("{base}/subscriptions/{sub}/resourceGroups/rg");
    client
        .put(format!("{group}?api-version=2024-03-01"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"location": "eastus"}))
        .send()
        .await
        .unwrap();
    let hub = format!(
        "{group}/providers/Microsoft.MachineLearningServices/workspaces/hub1?api-version=2025-12-01"
    );
    let res = client
        .put(&hub)
        .bearer_auth(&token)
        .json(&serde_json::json!({"location": "eastus", "kind": "Hub"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::ACCEPTED);
    eventually(
        "the worker process to finish the hub",
        OPERATION_WAIT,
        || async {
            let res = client.get(&hub).bearer_auth(&token).send();
            let body: Value = res.await.unwrap().json().await.unwrap();
            let state = &body["properties"]["provisioningState"];
            if state == "Succeeded" {
                Ok(())
            } else {
                Err(state.clone())
            }
        },
    )
    .await;
    // serve published the request and the worker the outcome, both through RabbitMQ.
    let types = std::cell::RefCell::new(Vec::new());
    eventually(
        "five events on the watch queue",
        Duration::from_secs(5),
        || async {
            while let Some(message) = channel
                .basic_get(watch.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
            {
                let event: Value = serde_json::from_slice(&message.delivery.data).unwrap();
                types
                    .borrow_mut()
                    .push(event["type"].as_str().unwrap().to_owned());
            }
            types.borrow().len() >= 5
        },
    )
    .await;
    assert_eq!(
        types.into_inner(),
        [
            "Microsoft.Resources.ResourceWriteSuccess",
            "Kiln.Resource.ProvisioningRequested",
            // the hub's storage account, key vault, and the hub
            "Microsoft.Resources.ResourceWriteSuccess",
            "Microsoft.Resources.ResourceWriteSuccess",
            "Microsoft.Resources.ResourceWriteSuccess"
        ]
    );
}

async fn duplicate_deliveries_change_nothing(backend: Backend) {
    use kiln::events::broker::Broker;
    use kiln::store::{operation, outbox, resource};
    use sea_orm::{EntityTrait, PaginatorTrait};
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let options = Options {
        worker: false,
        amqp: Some((amqp_url(), prefix.clone())),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let consumer = tokio::spawn(
        kiln::provisioners::wakeups::QueueWakeups::new(&amqp_url(), &prefix)
            .run_until_stopped(app.worker.clone(), stopped),
    );
    app.create_group("rg").await;
    let res = app
        .put(
            &app.workspace_url("rg", "hub1"),
            &serde_json::json!({"location": "eastus", "kind": "Hub"}),
        )
        .await;
    assert_eq!(
        wait_for_location(&app, res.headers()["location"].to_str().unwrap()).await,
        reqwest::StatusCode::OK
    );

    let db = &app.db;
    let key = app.workspace_path("rg", "hub1").to_lowercase();
    let before = resource::Entity::find_by_id(key.clone())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let (events_before, operations_before) = (
        outbox::Entity::find().count(db).await.unwrap(),
        operation::Entity::find().count(db).await.unwrap(),
    );
    // Deliver the provisioning request again, twice, as a broker redelivery would.
    let request = outbox::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.event_type == "Kiln.Resource.ProvisioningRequested")
        .unwrap();
    let broker = RabbitBroker::new(&amqp_url(), &prefix);
    for _ in 0..2 {
        broker
            .publish(&request.routing_key, &request.payload)
            .await
            .unwrap();
    }
    // Wait until the consumer has taken them off the queue, then a little for its passes.
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    eventually(
        "the consumer to take the redeliveries",
        Duration::from_secs(5),
        || async {
            let queue = channel
                .queue_declare(
                    Topology::new(&prefix).provisioner.as_str().into(),
                    passive,
                    FieldTable::default(),
                )
                .await
                .unwrap();
            queue.message_count() == 0
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = resource::Entity::find_by_id(key)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, before, "the resource row is untouched");
    assert_eq!(
        outbox::Entity::find().count(db).await.unwrap(),
        events_before,
        "no new events"
    );
    assert_eq!(
        operation::Entity::find().count(db).await.unwrap(),
        operations_before,
        "no new operations"
    );
    let _ = stop.send(true);
    consumer.await.unwrap();
}

/// `kiln serve` SIGKILLed while 32 clients PUT 1,000 hubs on PostgreSQL, then started again:
/// every hub a client was told was accepted is there and finishes; no operation is left in
/// flight; every committed event reaches RabbitMQ (counted by id), and each hub's provisioning
/// had its effect once (one storage account and one key vault per hub, not two).
///
/// Checked by taking mechanisms out: with the restarted process run without its relay
/// (`KILN_NO_RELAY`), the events committed before the kill stayed unsent and the test failed.
/// Removing the sweeper's release of expired leases did not make it fail: the worker's own
/// claim takes over an operation whose lease ran out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_api_process_loses_no_acknowledged_write() {
    use std::process::{Command, Stdio};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use kiln::store::{operation, outbox, resource};
    use sea_orm::{ColumnTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};

    const KILN: &str = env!("CARGO_BIN_EXE_kiln");
    const HUBS: usize = 1000;
    let database = crate::helpers::postgres_database().await;
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let watch = format!("{prefix}watch");
    watch_everything(&channel, &Topology::new(&prefix), &watch).await;
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let serve = |port: u16| {
        Command::new(KILN)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--database-url", &database, "serve", "--https", "off"])
            .args(["--http", &format!("127.0.0.1:{port}")])
            .env("KILN_AMQP_URL", amqp_url())
            .env("KILN_AMQP_PREFIX", &prefix)
            .env("KILN_DEV_TOKENS", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let client = reqwest::Client::new();
    let healthy = |base: String| {
        let client = client.clone();
        async move {
            eventually("kiln serve to answer", Duration::from_secs(30), || async {
                client.get(format!("{base}/healthz")).send().await.is_ok()
            })
            .await;
        }
    };
    let port = free_port();
    let mut first = KillOnDrop(serve(port));
    let base = format!("http://127.0.0.1:{port}");
    healthy(base.clone()).await;
    let token = Command::new(KILN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--database-url", &database, "token"])
        .output()
        .unwrap()
        .stdout;
    let token = String::from_utf8(token).unwrap().trim().to_owned();
    let subs: Value = client
        .get(format!("{base}/subscriptions?api-version=2022-12-01"))
        .bearer_auth(&token)
        .send()
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
    let res = client
        .put(format!("{base}{group}?api-version=2024-03-01"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"location": "eastus"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let hub_path = |i: usize| {
        format!("{group}/providers/Microsoft.MachineLearningServices/workspaces/hub-{i}")
    };

    // The writes; the process is killed once 300 of them were accepted.
    let accepted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let writes = futures_util::stream::iter(0..HUBS).for_each_concurrent(32, |i| {
        let (client, token, base) = (client.clone(), token.clone(), base.clone());
        let (accepted, count, path) = (accepted.clone(), count.clone(), hub_path(i));
        async move {
            let res = client
                .put(format!("{base}{path}?api-version=2025-12-01"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"location": "eastus", "kind": "Hub"}))
                .send()
                .await;
            // Only a complete 2xx answer is an acknowledgement; a cut connection is not.
            if let Ok(res) = res
                && res.status().is_success()
            {
                accepted.lock().unwrap().push(i);
                count.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let kill = async {
        eventually("300 accepted writes", Duration::from_secs(60), || async {
            count.load(Ordering::SeqCst) >= 300
        })
        .await;
        first.0.kill().unwrap();
        first.0.wait().unwrap();
    };
    tokio::join!(writes, kill);
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        (300..HUBS).contains(&accepted.len()),
        "the kill came too late to cut anything: {} accepted",
        accepted.len()
    );

    // Started again on the same database and address (the tokens name it as their issuer).
    let _second = KillOnDrop(serve(port));
    healthy(base.clone()).await;
    for i in &accepted {
        let url = format!("{base}{}?api-version=2025-12-01", hub_path(*i));
        eventually(
            format!("hub-{i} to be Succeeded"),
            Duration::from_secs(120),
            || async {
                let res = client.get(&url).bearer_auth(&token).send().await.unwrap();
                let status = res.status();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                let state = &body["properties"]["provisioningState"];
                if status == reqwest::StatusCode::OK && state == "Succeeded" {
                    Ok(())
                } else {
                    Err(format!("{status} {state}"))
                }
            },
        )
        .await;
    }
    let db = Database::connect(&database).await.unwrap();
    let left = |count: u64| if count == 0 { Ok(()) } else { Err(count) };
    eventually(
        "every operation terminal",
        Duration::from_secs(120),
        || async {
            let running = operation::Entity::find()
                .filter(operation::Column::Status.eq("InProgress"))
                .count(&db);
            left(running.await.unwrap())
        },
    )
    .await;
    eventually("every event published", Duration::from_secs(60), || async {
        let unsent = outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .count(&db);
        left(unsent.await.unwrap())
    })
    .await;
    // Effect once: one storage account and one key vault per hub that exists.
    let of_type = |type_key: &'static str| {
        let db = db.clone();
        async move {
            resource::Entity::find()
                .filter(resource::Column::TypeKey.eq(type_key))
                .count(&db)
                .await
                .unwrap()
        }
    };
    let hubs = of_type("microsoft.machinelearningservices/workspaces").await;
    assert!(hubs >= accepted.len() as u64);
    assert_eq!(of_type("microsoft.storage/storageaccounts").await, hubs);
    assert_eq!(of_type("microsoft.keyvault/vaults").await, hubs);
    // Every committed event reached the broker, at least once.
    let (_, missing) = undelivered(&db, &channel, &watch).await;
    assert_eq!(missing, 0, "{missing} events never reached RabbitMQ");
}

/// RabbitMQ down for a full minute while four clients keep writing hubs on PostgreSQL: every
/// write is still accepted, the outbox grows while the broker is away and drains once it is
/// back, and every committed event reaches the watcher (counted by id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_without_the_broker_loses_no_event() {
    use kiln::store::outbox;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let url = amqp_url();
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let watch = format!("{prefix}watch");
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    watch_everything(
        &connection.create_channel().await.unwrap(),
        &Topology::new(&prefix),
        &watch,
    )
    .await;
    drop(connection);
    let app = Arc::new(
        TestApp::spawn_with(
            Backend::Postgres,
            Options {
                amqp: Some((url.clone(), prefix.clone())),
                ..Options::default()
            },
        )
        .await,
    );
    app.create_group("rg").await;
    let (done, next) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let refused = Arc::new(std::sync::Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (app, done, next, refused) =
                (app.clone(), done.clone(), next.clone(), refused.clone());
            tokio::spawn(async move {
                while !done.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let body = serde_json::json!({"location": "eastus", "kind": "Hub"});
                    let res = app
                        .put(&app.workspace_url("rg", &format!("hub-{i}")), &body)
                        .await;
                    if res.status() != reqwest::StatusCode::ACCEPTED {
                        refused.lock().unwrap().push((i, res.status()));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        })
        .collect();
    let unsent = || {
        outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .count(&app.db)
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::spawn_blocking(|| rabbitmqctl("stop_app"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let early = unsent().await.unwrap();
    tokio::time::sleep(Duration::from_secs(50)).await;
    let late = unsent().await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    tokio::task::spawn_blocking(|| rabbitmqctl("start_app"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    done.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(
        refused.lock().unwrap().is_empty(),
        "writes refused: {:?}",
        refused.lock().unwrap()
    );
    assert!(
        0 < early && early < late,
        "the outbox grows while the broker is away: {early} then {late} unsent"
    );
    let left = |count: u64| if count == 0 { Ok(()) } else { Err(count) };
    eventually("the outbox to drain", Duration::from_secs(60), || async {
        left(unsent().await.unwrap())
    })
    .await;
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let (committed, missing) = undelivered(&app.db, &channel, &watch).await;
    assert_eq!(missing, 0, "{missing} of {committed} events never arrived");
}

/// Drains the `watch` queue and compares it with the outbox: how many events were committed,
/// and how many of those ids never arrived.
async fn undelivered(
    db: &sea_orm::DatabaseConnection,
    channel: &lapin::Channel,
    watch: &str,
) -> (usize, usize) {
    use sea_orm::EntityTrait;
    let committed: std::collections::HashSet<String> = kiln::store::outbox::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.event_id)
        .collect();
    let mut seen = std::collections::HashSet::new();
    while let Some(message) = channel
        .basic_get(watch.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let event: Value = serde_json::from_slice(&message.delivery.data).unwrap();
        seen.insert(event["id"].as_str().unwrap().to_owned());
    }
    (committed.len(), committed.difference(&seen).count())
}
