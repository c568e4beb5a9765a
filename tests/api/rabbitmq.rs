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
use crate::helpers::{Backend, Options, TestApp};

both_backends!(
    events_reach_rabbitmq_with_their_routing_keys,
    a_broker_restart_loses_no_event
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
    while received.len() < 3 {
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
            "microsoft.machinelearningservices.workspaces.resourcewritesuccess",
        ]
    );
    assert_eq!(received[2].1["subject"], app.workspace_path("rg", "hub1"));

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

async fn a_broker_restart_loses_no_event(backend: Backend) {
    use kiln::store::outbox;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

    let url = std::env::var("KILN_TEST_AMQP_URL")
        .expect("KILN_TEST_AMQP_URL must point at RabbitMQ (scripts/test.sh starts one)");
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let topology = Topology::new(&prefix);
    let watch = format!("{prefix}watch");
    let declare_watch = |channel: lapin::Channel| {
        let (topology, watch) = (topology.clone(), watch.clone());
        async move {
            RabbitBroker::declare(&channel, &topology).await.unwrap();
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
                .queue_declare(watch.as_str().into(), durable, arguments)
                .await
                .unwrap();
            channel
                .queue_bind(
                    watch.as_str().into(),
                    topology.events.as_str().into(),
                    "#".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
        }
    };
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .expect("RabbitMQ reachable");
    declare_watch(connection.create_channel().await.unwrap()).await;
    drop(connection);

    let app = TestApp::spawn_with(
        backend,
        Options {
            amqp: Some((url.clone(), prefix.clone())),
            ..Options::default()
        },
    )
    .await;
    let group = |i: usize| {
        format!(
            "{}?api-version=2024-03-01",
            app.group_path(&format!("rg-{i}"))
        )
    };
    for i in 0..20 {
        app.put(&group(i), &serde_json::json!({"location": "eastus"}))
            .await;
    }
    rabbitmqctl("stop_app");
    // Writes go on while the broker is down: the database is the truth, the outbox keeps them.
    for i in 20..40 {
        let res = app
            .put(&group(i), &serde_json::json!({"location": "eastus"}))
            .await;
        assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    }
    rabbitmqctl("start_app");

    // The relay reconnects and publishes the rest.
    let unsent = || {
        outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .count(&app.engine.db)
    };
    let mut waited = 0;
    while unsent().await.unwrap() > 0 {
        assert!(
            waited < 600,
            "events left unsent after the broker came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    // Every event reached the queue at least once, counted by its id.
    let expected: std::collections::HashSet<String> = outbox::Entity::find()
        .all(&app.engine.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event_id)
        .collect();
    assert_eq!(expected.len(), 40);
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let mut seen = std::collections::HashSet::new();
    while let Some(message) = channel
        .basic_get(watch.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let event: Value = serde_json::from_slice(&message.delivery.data).unwrap();
        seen.insert(event["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        seen, expected,
        "every event delivered at least once across the restart"
    );
}
