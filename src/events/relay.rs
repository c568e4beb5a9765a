//! The outbox relay: publishes committed events in commit order and marks each one sent only
//! after the broker took it. On PostgreSQL one relay publishes at a time (an advisory lock
//! held by its pass), so relays in several processes never race each other out of order; a
//! crash between publish and mark re-publishes a row (at least once, same event id).

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, TransactionTrait};
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

/// The relay's turn on SQLite, where no transaction may hold it (see [`Relay::run_once`]).
static SQLITE_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

    /// One pass: publishes a batch of unsent rows in order and marks what the broker took.
    /// Returns how many were published.
    ///
    /// On PostgreSQL the pass runs in a transaction that holds the relay's turn, so relays of
    /// several processes take turns and the broker sees one order. On SQLite the pool has one
    /// connection that every request shares: holding it across a broker's round trip (a
    /// reconnect after a restart can take seconds) would stall the API, so the rows are read,
    /// published, then marked, each a statement of its own, and the relays of this process
    /// take turns through [`SQLITE_TURN`] (the embedded default runs one process).
    pub async fn run_once(&self) -> Result<usize, RelayError> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            let _turn = SQLITE_TURN.lock().await;
            let rows = outbox::unsent_batch(&self.db, self.settings.batch).await?;
            return self.publish(&self.db, &rows).await;
        }
        let tx = self.db.begin().await?;
        if !outbox::take_relay_turn(&tx).await? {
            return Ok(0);
        }
        let rows = outbox::unsent_batch(&tx, self.settings.batch).await?;
        let published = self.publish(&tx, &rows).await;
        tx.commit().await?;
        published
    }

    /// Publishes `rows` in one pipeline (the broker confirms them together, in order) and
    /// marks the ones it took.
    async fn publish(
        &self,
        db: &impl ConnectionTrait,
        rows: &[outbox::Model],
    ) -> Result<usize, RelayError> {
        let batch: Vec<(&str, &serde_json::Value)> = rows
            .iter()
            .map(|row| (row.routing_key.as_str(), &row.payload))
            .collect();
        let (taken, failure) = self.broker.publish_all(&batch).await;
        let sent: Vec<i64> = rows.iter().take(taken).map(|row| row.seq).collect();
        outbox::mark_published(db, &sent).await?;
        match failure {
            Some(err) => Err(err.into()),
            None => Ok(sent.len()),
        }
    }
}
