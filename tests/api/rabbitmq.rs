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

both_backends!(events_reach_rabbitmq_with_their_routing_keys);

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
