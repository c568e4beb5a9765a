//! The outbox relay: events leave in commit order, are marked sent only once the broker took
//! them, and two relays publish each row once, in that order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kiln::config::RelaySettings;
use kiln::events::broker::{Broker, BrokerError};
use kiln::events::relay::Relay;
use kiln::store::outbox;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Options, TestApp, eventually};

both_backends!(
    events_are_published_in_commit_order,
    only_what_the_broker_took_is_marked_sent,
    two_relays_publish_each_row_once_in_commit_order,
    trace_context_travels_from_the_request_into_every_event,
    a_silent_broker_does_not_stall_the_api
);

/// Records what it is given; can be told to refuse the n-th publish, and to take its time.
#[derive(Default)]
struct RecordingBroker {
    seen: Mutex<Vec<String>>,
    refuse_at: Mutex<Option<usize>>,
    delay: Duration,
}

#[async_trait]
impl Broker for RecordingBroker {
    async fn publish(&self, _routing_key: &str, event: &Value) -> Result<(), BrokerError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let mut seen = self.seen.lock().unwrap();
        if self
            .refuse_at
            .lock()
            .unwrap()
            .take_if(|n| *n == seen.len())
            .is_some()
        {
            return Err(BrokerError::Unavailable("refused on purpose".into()));
        }
        seen.push(event["id"].as_str().unwrap().to_owned());
        Ok(())
    }
}

async fn unsent(app: &TestApp) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::SentAt.is_null())
        .order_by_asc(outbox::Column::Seq)
        .all(&app.db)
        .await
        .unwrap()
}

async fn all_events(app: &TestApp) -> Vec<String> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Seq)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event_id)
        .collect()
}

async fn events_are_published_in_commit_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut events = app.broker.subscribe();
    app.create_group("rg").await;
    app.hub("rg", "hub1").await;
    let mut received = Vec::new();
    while received.len() < 5 {
        let published = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("event published")
            .unwrap();
        received.push(published);
    }
    let kinds: Vec<(&str, &str)> = received
        .iter()
        .map(|p| (p.routing_key.as_str(), p.event["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "microsoft.resources.resourcegroups.resourcewritesuccess",
                "Microsoft.Resources.ResourceWriteSuccess"
            ),
            (
                "microsoft.machinelearningservices.workspaces.provisioningrequested",
                "Kiln.Resource.ProvisioningRequested"
            ),
            // The hub's provisioner created its storage account and key vault.
            (
                "microsoft.storage.storageaccounts.resourcewritesuccess",
                "Microsoft.Resources.ResourceWriteSuccess"
            ),
            (
                "microsoft.keyvault.vaults.resourcewritesuccess",
                "Microsoft.Resources.ResourceWriteSuccess"
            ),
            (
                "microsoft.machinelearningservices.workspaces.resourcewritesuccess",
                "Microsoft.Resources.ResourceWriteSuccess"
            ),
        ]
    );
    let hub = &received[4].event;
    assert_eq!(hub["specversion"], "1.0");
    assert_eq!(hub["subject"], app.workspace_path("rg", "hub1"));
    assert_eq!(hub["source"], app.group_path("rg"));
    assert_eq!(hub["data"]["caller"], app.admin);
    // The event id is the outbox row's, and every row ends up marked sent.
    let ids: Vec<String> = received
        .iter()
        .map(|p| p.event["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, all_events(&app).await);
    eventually(
        "every event marked sent",
        Duration::from_secs(5),
        || async { unsent(&app).await.is_empty() },
    )
    .await;
}

async fn only_what_the_broker_took_is_marked_sent(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options {
            relay: false,
            ..Options::default()
        },
    )
    .await;
    for i in 0..5 {
        app.create_group(&format!("rg-{i}")).await;
    }
    assert_eq!(unsent(&app).await.len(), 5);
    let broker = Arc::new(RecordingBroker {
        refuse_at: Mutex::new(Some(2)),
        ..Default::default()
    });
    let relay = Relay::new(
        app.db.clone(),
        broker.clone(),
        RelaySettings::default(),
        Arc::default(),
    );
    assert!(relay.run_once().await.is_err(), "the refusal surfaces");
    assert_eq!(
        unsent(&app).await.len(),
        3,
        "the two the broker took are marked, the rest are not"
    );
    assert_eq!(relay.run_once().await.unwrap(), 3);
    assert_eq!(relay.run_once().await.unwrap(), 0);
    // Each event once, in commit order.
    let expected = all_events(&app).await;
    assert_eq!(*broker.seen.lock().unwrap(), expected);
}

async fn two_relays_publish_each_row_once_in_commit_order(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options {
            relay: false,
            ..Options::default()
        },
    )
    .await;
    for i in 0..40 {
        app.put(
            &format!(
                "{}?api-version=2024-03-01",
                app.group_path(&format!("rg-{i}"))
            ),
            &json!({"location": "eastus"}),
        )
        .await;
    }
    let broker = Arc::new(RecordingBroker {
        delay: Duration::from_millis(2),
        ..Default::default()
    });
    let settings = RelaySettings {
        batch: 8,
        ..RelaySettings::default()
    };
    let relays: Vec<Relay> = (0..2)
        .map(|_| {
            Relay::new(
                app.db.clone(),
                broker.clone(),
                settings.clone(),
                Arc::default(),
            )
        })
        .collect();
    let drain = |relay: Relay| async move { while relay.run_once().await.unwrap() > 0 {} };
    tokio::join!(drain(relays[0].clone()), drain(relays[1].clone()));
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in broker.seen.lock().unwrap().iter() {
        *counts.entry(id.clone()).or_default() += 1;
    }
    assert_eq!(counts.len(), 40);
    assert!(
        counts.values().all(|n| *n == 1),
        "a row was published twice: {counts:?}"
    );
    // One relay publishes at a time: with each taking its own batch (SKIP LOCKED, as before
    // this turn existed), the two interleave and a later event reaches the broker first.
    let committed = all_events(&app).await;
    assert_eq!(*broker.seen.lock().unwrap(), committed);
    assert!(unsent(&app).await.is_empty());
}

async fn trace_context_travels_from_the_request_into_every_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let res = app
        .client
        .put(app.url(&app.workspace_url("rg", "hub1")))
        .bearer_auth(&app.token)
        .header("traceparent", traceparent)
        .json(&json!({"location": "eastus", "kind": "Hub"}))
        .send()
        .await
        .unwrap();
    app.poll_location(res.headers()["location"].to_str().unwrap())
        .await;
    // A malformed one is ignored rather than copied.
    let res = app
        .client
        .put(app.url(&app.workspace_url("rg", "hub2")))
        .bearer_auth(&app.token)
        .header("traceparent", "not-a-trace")
        .json(&json!({"location": "eastus", "kind": "Hub"}))
        .send()
        .await
        .unwrap();
    app.poll_location(res.headers()["location"].to_str().unwrap())
        .await;

    let rows = outbox::Entity::find()
        .order_by_asc(outbox::Column::Seq)
        .all(&app.db)
        .await
        .unwrap();
    let of = |name: &str| -> Vec<(String, Option<String>)> {
        rows.iter()
            .filter(|r| r.payload["subject"].as_str().unwrap().ends_with(name))
            .map(|r| {
                (
                    r.event_type.clone(),
                    r.payload["traceparent"].as_str().map(str::to_owned),
                )
            })
            .collect()
    };
    let traced = Some(traceparent.to_owned());
    assert_eq!(
        of("/hub1"),
        [
            (
                "Kiln.Resource.ProvisioningRequested".to_owned(),
                traced.clone()
            ),
            (
                "Microsoft.Resources.ResourceWriteSuccess".to_owned(),
                traced
            ),
        ],
        "the request's trace context reaches the worker's event too"
    );
    assert!(of("/hub2").iter().all(|(_, t)| t.is_none()));
}

/// Takes every event and never confirms it: a broker gone quiet.
struct SilentBroker;

#[async_trait]
impl Broker for SilentBroker {
    async fn publish(&self, _routing_key: &str, _event: &Value) -> Result<(), BrokerError> {
        std::future::pending().await
    }
}

/// A relay waiting on its broker holds no connection the API needs: on SQLite, where the
/// pool has one, a relay that held it across the publish (as it once did) made every request
/// wait out the pool's acquire timeout and answer 503.
async fn a_silent_broker_does_not_stall_the_api(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options {
            relay: false,
            ..Options::default()
        },
    )
    .await;
    app.create_group("rg-0").await;
    let relay = Relay::new(
        app.db.clone(),
        Arc::new(SilentBroker),
        RelaySettings::default(),
        Arc::default(),
    );
    let stuck = tokio::spawn(async move { relay.run_once().await.map(|_| ()) });
    // The relay has read its batch and waits on the broker.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!stuck.is_finished());
    for i in 1..4 {
        let group = format!("rg-{i}");
        let res = app
            .put(
                &format!("{}?api-version=2024-03-01", app.group_path(&group)),
                &json!({"location": "eastus"}),
            )
            .await;
        assert_eq!(res.status(), reqwest::StatusCode::CREATED, "{group}");
    }
    stuck.abort();
    assert_eq!(unsent(&app).await.len(), 4, "nothing was marked sent");
}

/// A peer that accepts the connection and never speaks AMQP (a broker still recovering its
/// queues looks like that from outside): the publish gives up as unavailable, and drops the
/// half-made link, instead of waiting on it for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_to_a_mute_peer_gives_up() {
    use kiln::events::rabbitmq::{PUBLISH_TIMEOUT, RabbitBroker};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut accepted = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            accepted.push(socket);
        }
    });
    let broker = RabbitBroker::new(&format!("amqp://guest:guest@127.0.0.1:{port}/%2f"), "mute.");
    let event = json!({"id": "e1"});
    let outcome = tokio::time::timeout(PUBLISH_TIMEOUT * 2, broker.publish("k", &event))
        .await
        .expect("the publish ends by itself");
    assert!(
        matches!(outcome, Err(BrokerError::Unavailable(_))),
        "{outcome:?}"
    );
    held.abort();
}
