//! `kiln worker`: the worker, the sweeper, the RabbitMQ wake-ups and the relay in a process of
//! their own, beside one or more `kiln serve`.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

use super::{StartupError, provisioning, publisher};
use crate::arm::registry::Registry;
use crate::config::WorkerSettings;
use crate::events::relay::Relay;
use crate::provisioners::wakeups::QueueWakeups;
use crate::{resources, store};

/// `kiln worker`: drives operations and relays events without serving the API. With RabbitMQ it
/// is woken by provisioning requests; it also polls, so a lost message costs at most a poll
/// interval. Stops, after the passes in progress, when `stop` resolves.
pub async fn run_worker(
    registry: Registry,
    database: &crate::config::DatabaseSettings,
    master_keys: crate::secrets::KeySource,
    broker: &crate::config::BrokerArgs,
    settings: &WorkerSettings,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), StartupError> {
    let db = store::connect(database).await?;
    Box::pin(store::migrate(&db)).await?;
    let outbox_wake = Arc::new(Notify::new());
    let vocabulary = Arc::new(resources::vocabulary(&registry));
    let (worker, sweeper) = provisioning(
        &db,
        settings,
        &registry,
        vocabulary,
        Arc::new(Notify::new()),
        outbox_wake.clone(),
        Arc::new(crate::secrets::MasterKeys::load(master_keys)?),
    )?;
    let relay_settings = broker.relay_settings();
    let (shutdown, _) = watch::channel(false);
    let mut tasks = vec![
        tokio::spawn(worker.clone().run_until_stopped(shutdown.subscribe())),
        tokio::spawn(sweeper.run_until_stopped(shutdown.subscribe())),
    ];
    if let Some(url) = &relay_settings.amqp_url {
        let wakeups = QueueWakeups::new(url, &relay_settings.amqp_prefix);
        tasks.push(tokio::spawn(
            wakeups.run_until_stopped(worker.clone(), shutdown.subscribe()),
        ));
    }
    if relay_settings.enabled {
        let relay = Relay::new(
            db,
            publisher(&relay_settings, Arc::default()),
            relay_settings.clone(),
            outbox_wake,
        );
        tasks.push(tokio::spawn(relay.run_until_stopped(shutdown.subscribe())));
    }
    tracing::info!("worker running");
    stop.await;
    let _ = shutdown.send(true);
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}
