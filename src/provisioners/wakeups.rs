//! RabbitMQ wake-ups for the worker: every provisioning request on `kiln.provisioner` triggers a
//! pass, and the delivery is acked only after that pass has committed. The message is a hint; the
//! pass reads the database, so a duplicate does nothing and a lost one is found by polling.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use tokio::sync::watch;

use super::Worker;
use crate::events::rabbitmq::{RabbitBroker, Topology};

#[derive(Debug, thiserror::Error)]
pub enum WakeupError {
    #[error("AMQP: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker closed the consumer")]
    ConsumerClosed,
}

/// Deliveries held at once: the lease lives in the database, so few are needed.
const PREFETCH: u16 = 16;

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
        let tag = format!("kiln-worker-{}", uuid::Uuid::new_v4().simple());
        let mut deliveries = channel
            .basic_consume(
                self.topology.provisioner.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        loop {
            let delivery = tokio::select! {
                delivery = deliveries.next() => delivery,
                _ = shutdown.changed() => return Ok(()),
            };
            let delivery = match delivery {
                Some(Ok(delivery)) => delivery,
                Some(Err(err)) => return Err(err.into()),
                None => return Err(WakeupError::ConsumerClosed),
            };
            match worker.run_once().await {
                Ok(_) => {
                    delivery.ack(BasicAckOptions::default()).await?;
                }
                Err(err) => {
                    // The database is unwell: give it a moment, then let the broker redeliver
                    // (the delivery limit dead-letters a message that never succeeds).
                    tracing::warn!(error = %err, "provisioning pass failed; requeueing the request");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    delivery
                        .nack(BasicNackOptions {
                            requeue: true,
                            ..BasicNackOptions::default()
                        })
                        .await?;
                }
            }
        }
    }
}
