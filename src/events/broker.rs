//! Where the relay publishes events. The in-process broker serves the embedded default (and
//! anyone in the process who subscribes); RabbitMQ stands behind the same trait in production.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use thiserror::Error;
use tokio::sync::broadcast;

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("the broker refused or lost the message: {0}")]
    Rejected(String),
    #[error("the broker is unreachable: {0}")]
    Unavailable(String),
}

/// One published event.
#[derive(Debug, Clone)]
pub struct Published {
    pub routing_key: String,
    pub event: Arc<Value>,
}

#[async_trait]
pub trait Broker: Send + Sync {
    /// Publishes one event and returns once the broker has taken responsibility for it.
    async fn publish(&self, routing_key: &str, event: &Value) -> Result<(), BrokerError>;

    /// Publishes events in order and returns how many of the first ones the broker took,
    /// with the error that stopped the rest. Brokers that can pipeline override this.
    async fn publish_all(&self, events: &[(&str, &Value)]) -> (usize, Option<BrokerError>) {
        for (taken, (routing_key, event)) in events.iter().enumerate() {
            if let Err(err) = self.publish(routing_key, event).await {
                return (taken, Some(err));
            }
        }
        (events.len(), None)
    }
}

/// Delivers to in-process subscribers. Taking responsibility is immediate: a subscriber that
/// lags loses old messages, which is fine because messages only wake readers of the database.
pub struct InProcessBroker {
    sender: broadcast::Sender<Published>,
}

impl Default for InProcessBroker {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl InProcessBroker {
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.sender.subscribe()
    }
}

#[async_trait]
impl Broker for InProcessBroker {
    async fn publish(&self, routing_key: &str, event: &Value) -> Result<(), BrokerError> {
        // No subscriber is not an error: nobody is listening in this process.
        let _ = self.sender.send(Published {
            routing_key: routing_key.to_owned(),
            event: Arc::new(event.clone()),
        });
        Ok(())
    }
}
