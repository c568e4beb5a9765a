//! The outbox relay: publishes committed events in commit order and marks each one sent only
//! after the broker took it. A row is claimed for the publishing transaction
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so two relays never publish the same row at once;
//! a crash between publish and mark re-publishes it (at least once, same event id).

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use thiserror::Error;
use tokio::sync::{Notify, watch};

use super::broker::{Broker, BrokerError};
use crate::config::RelaySettings;
use crate::store::{self, outbox};

#[derive(Debug, Error)]
pub enum RelayError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
}

#[derive(Clone)]
pub struct Relay {
    db: DatabaseConnection,
    broker: Arc<dyn Broker>,
    settings: RelaySettings,
    wake: Arc<Notify>,
}

impl Relay {
    pub fn new(
        db: DatabaseConnection,
        broker: Arc<dyn Broker>,
        settings: RelaySettings,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            db,
            broker,
            settings,
            wake,
        }
    }

    /// Publishes until `shutdown` turns true: woken by commits, polling as the fallback, and
    /// backing off (doubling up to the poll interval) while the broker fails.
    pub async fn run_until_stopped(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(50);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let pause = match self.run_once().await {
                Ok(published) if published > 0 => {
                    backoff = Duration::from_millis(50);
                    continue;
                }
                Ok(_) => self.settings.poll_interval,
                Err(err) => {
                    tracing::warn!(error = %err, retry_in_ms = store::time::millis(backoff), "relay pass failed");
                    let pause = backoff;
                    backoff = (backoff * 2).min(self.settings.poll_interval);
                    pause
                }
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One pass: claims a batch of unsent rows, publishes them in order, marks what the broker
    /// took. Returns how many were published.
    pub async fn run_once(&self) -> Result<usize, RelayError> {
        let tx = self.db.begin().await?;
        let rows = outbox::claim_batch(&tx, self.settings.batch).await?;
        // Published in one pipeline: the broker confirms them together, in order.
        let batch: Vec<(&str, &serde_json::Value)> = rows
            .iter()
            .map(|row| (row.routing_key.as_str(), &row.payload))
            .collect();
        let (taken, failure) = self.broker.publish_all(&batch).await;
        let sent: Vec<i64> = rows.iter().take(taken).map(|row| row.seq).collect();
        outbox::mark_published(&tx, &sent).await?;
        tx.commit().await?;
        match failure {
            Some(err) => Err(err.into()),
            None => Ok(sent.len()),
        }
    }
}
