//! RabbitMQ deliveries for the worker. A provisioning request on `kiln.provisioner` drives the
//! operation it names and is acked once the attempt's outcome is committed; the lease lives in
//! the database, so no delivery is held during long work. The message is a hint: a duplicate
//! finds the operation settled, and a lost one is found by polling and the sweeper.
//!
//! A request the worker cannot process (malformed, or its provisioner panics) is requeued
//! until the queue's delivery limit dead-letters it. The dead-letter exchange feeds the
//! parking queue `kiln.provisioner.dead` (for operators) and `kiln.provisioner.dead-watch`,
//! from which the worker fails the request's operation with a clear error.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties, Consumer};
use serde_json::Value;
use tokio::sync::watch;

use super::Worker;
use super::worker::Drive;
use crate::events::rabbitmq::{DELIVERY_LIMIT, RabbitBroker, Topology};

#[derive(Debug, thiserror::Error)]
pub enum WakeupError {
    #[error("AMQP: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker closed the consumer")]
    ConsumerClosed,
}

/// Deliveries held at once: the lease lives in the database, so few are needed.
const PREFETCH: u16 = 16;

/// What a provisioning request must say for the worker to act on it.
#[derive(Debug, PartialEq, Eq)]
pub struct ProvisioningRequest {
    pub operation_id: String,
    pub resource_id: String,
    pub generation: i64,
}

impl ProvisioningRequest {
    /// Parses a CloudEvent strictly; `None` is a request no worker can process.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let event: Value = serde_json::from_slice(body).ok()?;
        if event.get("specversion")?.as_str()? != "1.0"
            || event.get("type")?.as_str()? != crate::events::PROVISIONING_REQUESTED
        {
            return None;
        }
        let data = event.get("data")?;
        let operation_id = data.get("operationId")?.as_str()?;
        uuid::Uuid::parse_str(operation_id).ok()?;
        Some(Self {
            operation_id: operation_id.to_owned(),
            resource_id: event.get("subject")?.as_str()?.to_owned(),
            generation: data.get("generation")?.as_i64()?,
        })
    }
}

/// Why the broker dead-lettered a message (`x-first-death-reason`: `delivery_limit`,
/// `rejected`, `expired`…).
fn death_reason(delivery: &Delivery) -> Option<String> {
    let headers = delivery.properties.headers().as_ref()?;
    match headers.inner().get("x-first-death-reason")? {
        AMQPValue::LongString(reason) => Some(reason.to_string()),
        AMQPValue::ShortString(reason) => Some(reason.to_string()),
        _ => None,
    }
}

pub struct QueueWakeups {
    url: String,
    topology: Topology,
}

impl QueueWakeups {
    pub fn new(url: &str, prefix: &str) -> Self {
        Self {
            url: url.to_owned(),
            topology: Topology::new(prefix),
        }
    }

    /// Consumes until `shutdown` turns true, connecting again (with backoff) after any failure.
    pub async fn run_until_stopped(self, worker: Worker, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        while !*shutdown.borrow() {
            match self.consume(&worker, &mut shutdown).await {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(error = %err, retry_in_ms = backoff.as_millis(), "provisioner queue unavailable")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    async fn consumer(channel: &Channel, queue: &str) -> Result<Consumer, lapin::Error> {
        let tag = format!("kiln-worker-{}", uuid::Uuid::new_v4().simple());
        channel
            .basic_consume(
                queue.into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
    }

    async fn consume(
        &self,
        worker: &Worker,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), WakeupError> {
        let connection = Connection::connect(&self.url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        RabbitBroker::declare(&channel, &self.topology).await?;
        channel
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await?;
        let mut requests = Self::consumer(&channel, &self.topology.provisioner).await?;
        let mut dead = Self::consumer(&channel, &self.topology.provisioner_dead_watch).await?;
        loop {
            let (delivery, dead_letter) = tokio::select! {
                delivery = requests.next() => (delivery, false),
                delivery = dead.next() => (delivery, true),
                _ = shutdown.changed() => return Ok(()),
            };
            let delivery = match delivery {
                Some(Ok(delivery)) => delivery,
                Some(Err(err)) => return Err(err.into()),
                None => return Err(WakeupError::ConsumerClosed),
            };
            // Each delivery on its own task: prefetch bounds how many run at once.
            let worker = worker.clone();
            let queue = self.topology.provisioner_dead.clone();
            tokio::spawn(async move {
                let settled = if dead_letter {
                    on_dead_letter(&worker, &delivery, &queue).await
                } else {
                    on_request(&worker, &delivery).await
                };
                if let Err(err) = settled {
                    tracing::warn!(error = %err, "could not settle a delivery; the broker will redeliver it");
                }
            });
        }
    }
}

async fn requeue(delivery: &Delivery) -> Result<bool, lapin::Error> {
    delivery
        .nack(BasicNackOptions {
            requeue: true,
            ..BasicNackOptions::default()
        })
        .await
}

async fn on_request(worker: &Worker, delivery: &Delivery) -> Result<bool, lapin::Error> {
    let Some(request) = ProvisioningRequest::parse(&delivery.data) else {
        tracing::warn!(
            redelivered = delivery.redelivered,
            "malformed provisioning request; requeueing it until the delivery limit dead-letters it"
        );
        return requeue(delivery).await;
    };
    match worker.handle(&request.operation_id).await {
        Ok(Drive::Panicked(_)) => requeue(delivery).await,
        Ok(_) => delivery.ack(BasicAckOptions::default()).await,
        Err(err) => {
            // The database is the truth and keeps the operation: once it is back, polling and
            // the sweeper drive it. Requeueing would only burn the delivery limit.
            tracing::warn!(error = %err, operation = %request.operation_id, "could not drive a requested operation; leaving it to polling");
            delivery.ack(BasicAckOptions::default()).await
        }
    }
}

async fn on_dead_letter(
    worker: &Worker,
    delivery: &Delivery,
    queue: &str,
) -> Result<bool, lapin::Error> {
    let event: Value = serde_json::from_slice(&delivery.data).unwrap_or(Value::Null);
    let subject = event.get("subject").and_then(Value::as_str);
    let operation_id = event
        .pointer("/data/operationId")
        .and_then(Value::as_str)
        .filter(|id| uuid::Uuid::parse_str(id).is_ok());
    let how = match death_reason(delivery).as_deref() {
        Some("delivery_limit") | None => {
            format!("it was delivered {DELIVERY_LIMIT} times without being processed")
        }
        Some(other) => format!("the broker dead-lettered it ({other})"),
    };
    let why = format!("{how}, and was moved to the dead-letter queue '{queue}'");
    match worker.fail_dead_lettered(operation_id, subject, &why).await {
        Ok(failed) => {
            tracing::error!(
                ?subject,
                ?operation_id,
                failed,
                "provisioning request dead-lettered"
            );
            delivery.ack(BasicAckOptions::default()).await
        }
        Err(err) => {
            tracing::warn!(error = %err, "could not record a dead-lettered request; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            requeue(delivery).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_strictly() {
        let good = serde_json::json!({
            "specversion": "1.0",
            "type": crate::events::PROVISIONING_REQUESTED,
            "subject": "/subscriptions/s/resourceGroups/g",
            "data": {"operationId": "0b6f8a3e-8c1d-4e57-9d53-3a1f3c1b2a90", "generation": 2}
        });
        let parsed = ProvisioningRequest::parse(good.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.generation, 2);
        let mut bad = good.clone();
        bad["data"]["generation"] = serde_json::json!("two");
        assert!(ProvisioningRequest::parse(bad.to_string().as_bytes()).is_none());
        let mut bad = good.clone();
        bad["data"]["operationId"] = serde_json::json!("not-a-uuid");
        assert!(ProvisioningRequest::parse(bad.to_string().as_bytes()).is_none());
        assert!(ProvisioningRequest::parse(b"{").is_none());
    }
}
