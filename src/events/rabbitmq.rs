//! RabbitMQ behind the [`Broker`] trait: a durable topic exchange, publisher confirms and
//! `mandatory`, persistent messages. The connection is made on first use and made again after
//! any failure, with the topology re-declared, so a broker restart heals on the next publish.

use std::time::Duration;

use async_trait::async_trait;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::Value;
use tokio::sync::Mutex;

use super::broker::{Broker, BrokerError};

/// Names of the exchanges and queues, under a prefix so parallel deployments (and tests)
/// never share them.
#[derive(Debug, Clone)]
pub struct Topology {
    pub events: String,
    pub dead_letter: String,
    pub provisioner: String,
    pub provisioner_dead: String,
    /// A second copy of every dead letter, consumed by workers to fail its operation.
    pub provisioner_dead_watch: String,
}

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Self {
            events: format!("{prefix}kiln.events"),
            dead_letter: format!("{prefix}kiln.dead-letter"),
            provisioner: format!("{prefix}kiln.provisioner"),
            provisioner_dead: format!("{prefix}kiln.provisioner.dead"),
            provisioner_dead_watch: format!("{prefix}kiln.provisioner.dead-watch"),
        }
    }
}

/// How many times a provisioning message is delivered before it is dead-lettered.
pub const DELIVERY_LIMIT: i64 = 5;

/// Declares a durable quorum queue with `extra` arguments and binds it: (queue, exchange, key).
async fn quorum_queue(
    channel: &Channel,
    (queue, exchange, key): (&String, &String, &str),
    extra: &[(&str, AMQPValue)],
) -> Result<(), lapin::Error> {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    for (name, value) in extra {
        arguments.insert((*name).into(), value.clone());
    }
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue.as_str().into(), durable, arguments)
        .await?;
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.as_str().into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

pub struct RabbitBroker {
    url: String,
    topology: Topology,
    link: Mutex<Option<(Connection, Channel)>>,
}

fn unavailable(err: impl std::fmt::Display) -> BrokerError {
    BrokerError::Unavailable(err.to_string())
}

impl RabbitBroker {
    pub fn new(url: &str, prefix: &str) -> Self {
        Self {
            url: url.to_owned(),
            topology: Topology::new(prefix),
            link: Mutex::new(None),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Declares the exchanges, the provisioner's quorum queue and its dead-letter queues.
    /// Declarations are idempotent: every (re)connection repeats them.
    pub async fn declare(channel: &Channel, topology: &Topology) -> Result<(), lapin::Error> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        for exchange in [&topology.events, &topology.dead_letter] {
            channel
                .exchange_declare(
                    exchange.as_str().into(),
                    ExchangeKind::Topic,
                    durable,
                    FieldTable::default(),
                )
                .await?;
        }
        let provisioner_arguments = [
            ("x-delivery-limit", AMQPValue::LongLongInt(DELIVERY_LIMIT)),
            (
                "x-dead-letter-exchange",
                AMQPValue::LongString(topology.dead_letter.as_str().into()),
            ),
        ];
        let provisioner = (
            &topology.provisioner,
            &topology.events,
            "#.provisioningrequested",
        );
        quorum_queue(channel, provisioner, &provisioner_arguments).await?;
        for parked in [&topology.provisioner_dead, &topology.provisioner_dead_watch] {
            quorum_queue(channel, (parked, &topology.dead_letter, "#"), &[]).await?;
        }
        Ok(())
    }

    async fn channel(&self) -> Result<Channel, BrokerError> {
        let mut link = self.link.lock().await;
        if let Some((connection, channel)) = link.as_ref()
            && connection.status().connected()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        *link = None;
        let connection = Connection::connect(&self.url, ConnectionProperties::default())
            .await
            .map_err(unavailable)?;
        let channel = connection.create_channel().await.map_err(unavailable)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(unavailable)?;
        Self::declare(&channel, &self.topology)
            .await
            .map_err(unavailable)?;
        *link = Some((connection, channel.clone()));
        Ok(channel)
    }

    async fn forget_link(&self) {
        *self.link.lock().await = None;
    }
}

impl RabbitBroker {
    /// Sends one persistent, mandatory message; the returned future resolves on its confirm.
    async fn send(
        &self,
        channel: &Channel,
        routing_key: &str,
        event: &Value,
    ) -> Result<lapin::PublisherConfirm, BrokerError> {
        let payload =
            serde_json::to_vec(event).map_err(|e| BrokerError::Rejected(e.to_string()))?;
        let mut properties = BasicProperties::default()
            .with_content_type("application/cloudevents+json".into())
            .with_delivery_mode(2);
        if let Some(id) = event.get("id").and_then(Value::as_str) {
            properties = properties.with_message_id(id.into());
        }
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        match channel
            .basic_publish(
                self.topology.events.as_str().into(),
                routing_key.into(),
                options,
                &payload,
                properties,
            )
            .await
        {
            Ok(pending) => Ok(pending),
            Err(err) => {
                self.forget_link().await;
                Err(unavailable(err))
            }
        }
    }

    /// What a confirm says: acked (returned or not) is taken, anything else is not.
    async fn confirmed(
        &self,
        routing_key: &str,
        confirmation: Result<lapin::Confirmation, lapin::Error>,
    ) -> Result<(), BrokerError> {
        match confirmation {
            Ok(confirmation) if confirmation.is_ack() => {
                // Acked but returned: no queue is bound for this key. The broker has decided,
                // so it counts as published; say so for operators.
                if confirmation.take_message().is_some() {
                    tracing::debug!(
                        routing_key,
                        "event published with no queue bound to its routing key"
                    );
                }
                Ok(())
            }
            Ok(_) => Err(BrokerError::Rejected(format!(
                "the broker nacked the event for '{routing_key}'"
            ))),
            Err(err) => {
                self.forget_link().await;
                Err(unavailable(err))
            }
        }
    }
}

#[async_trait]
impl Broker for RabbitBroker {
    async fn publish(&self, routing_key: &str, event: &Value) -> Result<(), BrokerError> {
        match self.publish_all(&[(routing_key, event)]).await {
            (1, _) => Ok(()),
            (_, failure) => Err(failure.unwrap_or_else(|| unavailable("the event was not taken"))),
        }
    }

    /// Sends the whole batch, then reads the confirms in order: one round trip per batch
    /// instead of one per event. Bounded by [`PUBLISH_TIMEOUT`]: a broker that accepts the
    /// connection but never answers (one still recovering its queues after a restart) is
    /// unavailable, not something to wait on with a database transaction open.
    async fn publish_all(&self, events: &[(&str, &Value)]) -> (usize, Option<BrokerError>) {
        match tokio::time::timeout(PUBLISH_TIMEOUT, self.publish_batch(events)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                self.forget_link().await;
                let waited = PUBLISH_TIMEOUT.as_secs();
                (
                    0,
                    Some(unavailable(format!("no confirm within {waited} s"))),
                )
            }
        }
    }
}

/// How long one batch may take from connecting to its last confirm.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

impl RabbitBroker {
    async fn publish_batch(&self, events: &[(&str, &Value)]) -> (usize, Option<BrokerError>) {
        let channel = match self.channel().await {
            Ok(channel) => channel,
            Err(err) => return (0, Some(err)),
        };
        let mut pending = Vec::with_capacity(events.len());
        let mut failure = None;
        for (routing_key, event) in events {
            match self.send(&channel, routing_key, event).await {
                Ok(confirm) => pending.push((*routing_key, confirm)),
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        let mut taken = 0;
        for (routing_key, confirm) in pending {
            if let Err(err) = self.confirmed(routing_key, confirm.await).await {
                return (taken, Some(err));
            }
            taken += 1;
        }
        (taken, failure)
    }
}
