//! Lifecycle benchmark (run by `bench/lifecycle.sh`, which starts PostgreSQL, RabbitMQ,
//! `kiln serve --no-worker` and `kiln worker`):
//!
//! - `writes`: hub PUTs (`--workload hub`) or model deployment PUTs on Foundry accounts
//!   (`--workload deployment`: catalog, capacity and quota checks, the quota row locked per
//!   write) at a fixed open-loop rate; from the database afterwards, relay lag (outbox row
//!   written → marked sent after the broker's confirm) and PUT → Succeeded (operation started
//!   → ended, with the real provisioners); the backlog (unsent events, running operations)
//!   sampled every 500 ms while the load runs.
//! - `raw-rabbitmq`: publisher-confirm throughput of the same broker with the same message
//!   shape, one at a time and pipelined, for comparison in the same run.
//!
//! Prints one JSON object per run on stdout.

#![expect(clippy::unwrap_used, reason = "a benchmark stops at the first failure")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// One measured run of writes.
#[derive(clap::Args)]
struct WriteRun {
    #[arg(long)]
    base: String,
    #[arg(long)]
    token: String,
    #[arg(long)]
    subscription: String,
    #[arg(long)]
    database_url: String,
    /// Writes per second, open loop.
    #[arg(long)]
    rate: u32,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 512)]
    max_in_flight: usize,
    #[arg(long, default_value = "run")]
    label: String,
    #[arg(long, value_enum, default_value = "hub")]
    workload: Workload,
}

/// What each write creates.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Workload {
    /// A hub workspace (202; the hub provisioner makes its storage account and key vault).
    Hub,
    /// A gpt-4o-mini Standard deployment of capacity 1 on one of the run's accounts (201).
    Deployment,
}

const CS_API: &str = "2025-09-01";
const QUOTA_NAME: &str = "OpenAI.Standard.gpt-4o-mini";

impl Workload {
    /// What a write to `group` (`…/resourceGroups/g`) number `i` PUTs, and the status it expects.
    fn write(self, group: &str, label: &str, i: usize, groups: usize) -> (String, Value, u16) {
        match self {
            Self::Hub => (
                format!(
                    "{group}/providers/Microsoft.MachineLearningServices/workspaces/hub-{i}?api-version=2025-12-01"
                ),
                json!({"location": "eastus", "kind": "Hub"}),
                202,
            ),
            Self::Deployment => (
                format!(
                    "{group}/providers/Microsoft.CognitiveServices/accounts/{}/deployments/d-{i}?api-version={CS_API}",
                    account_name(label, i % groups)
                ),
                json!({"sku": {"name": "Standard", "capacity": 1},
                       "properties": {"model": {"format": "OpenAI", "name": "gpt-4o-mini", "version": "2024-07-18"}}}),
                201,
            ),
        }
    }
}

fn account_name(label: &str, g: usize) -> String {
    format!("acct-{label}-{g}")
}

/// One Foundry account per group, Succeeded before the load, and a quota that the run cannot
/// exhaust (set by the platform administrator's endpoint).
async fn prepare_accounts(
    client: &reqwest::Client,
    run: &WriteRun,
    group: &dyn Fn(usize) -> String,
    groups: usize,
) {
    for g in 0..groups {
        let name = account_name(&run.label, g);
        let url = format!(
            "{}/providers/Microsoft.CognitiveServices/accounts/{name}?api-version={CS_API}",
            group(g)
        );
        let res = client
            .put(&url)
            .bearer_auth(&run.token)
            .json(
                &json!({"location": "eastus", "kind": "AIServices", "sku": {"name": "S0"},
                          "properties": {"customSubDomainName": format!("kiln-bench-{name}")}}),
            )
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "account: {}", res.status());
        loop {
            let got: Value = client
                .get(&url)
                .bearer_auth(&run.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let state = got["properties"]["provisioningState"].as_str();
            assert_ne!(state, Some("Failed"), "account {name}: {got}");
            if state == Some("Succeeded") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let res = client
        .put(format!(
            "{}/admin/subscriptions/{}/quotas/Microsoft.CognitiveServices/eastus/{QUOTA_NAME}",
            run.base, run.subscription
        ))
        .bearer_auth(&run.token)
        .json(&json!({"limit": 100_000_000}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "quota: {}", res.status());
}

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Writes(WriteRun),
    RawRabbitmq {
        #[arg(long)]
        amqp_url: String,
        #[arg(long, default_value_t = 20000)]
        messages: usize,
        #[arg(long, default_value_t = 256)]
        window: usize,
    },
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn summary(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    json!({
        "n": values.len(),
        "p50": percentile(&values, 50.0),
        "p90": percentile(&values, 90.0),
        "p99": percentile(&values, 99.0),
        "max": values.last().copied().unwrap_or(f64::NAN),
    })
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn column(db: &DatabaseConnection, sql: String) -> Vec<f64> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.try_get_by_index::<i64>(0).unwrap() as f64)
        .collect()
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn writes(run: WriteRun) -> Value {
    const GROUPS: usize = 20;
    let (rate, seconds, max_in_flight) = (run.rate, run.seconds, run.max_in_flight);
    let (base, token, subscription, label) = (&run.base, &run.token, &run.subscription, &run.label);
    let db = Database::connect(&run.database_url).await.unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(max_in_flight)
        .build()
        .unwrap();
    let group =
        |g: usize| format!("{base}/subscriptions/{subscription}/resourceGroups/bench-{label}-{g}");
    for g in 0..GROUPS {
        let res = client
            .put(format!("{}?api-version=2024-03-01", group(g)))
            .bearer_auth(token)
            .json(&json!({"location": "eastus"}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "group: {}", res.status());
    }
    if let Workload::Deployment = run.workload {
        prepare_accounts(&client, &run, &group, GROUPS).await;
    }
    // Let the group events drain so the window holds only the hubs.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = now_millis();
    let total = rate as usize * seconds as usize;
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(total)));
    let errors = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<
        String,
        usize,
    >::new()));
    let mut skipped = 0usize;
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (db, sampling) = (db.clone(), sampling.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let start = Instant::now();
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                let unsent = scalar(&db, "SELECT count(*) FROM outbox WHERE sent_at IS NULL").await;
                let running = scalar(
                    &db,
                    "SELECT count(*) FROM operations WHERE status = 'InProgress'",
                )
                .await;
                samples.push(json!([start.elapsed().as_secs_f64(), unsent, running]));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            samples
        })
    };
    let clock = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        // Open loop: request i leaves at i / rate seconds, whatever happened to the others.
        let due = Duration::from_secs_f64(i as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(clock.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            skipped += 1;
            continue;
        };
        let (url, body, expected) = run.workload.write(&group(i % GROUPS), label, i, GROUPS);
        let (client, token, latencies, errors) = (
            client.clone(),
            token.clone(),
            latencies.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let res = client.put(url).bearer_auth(token).json(&body).send().await;
            let outcome = match res {
                Ok(r) if r.status().as_u16() == expected => None,
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    Some(format!(
                        "{status} {}",
                        body["error"]["code"].as_str().unwrap_or("")
                    ))
                }
                Err(err) => Some(format!(
                    "client: {}",
                    if err.is_timeout() {
                        "timeout"
                    } else if err.is_connect() {
                        "connect"
                    } else {
                        "other"
                    }
                )),
            };
            match outcome {
                None => latencies
                    .lock()
                    .unwrap()
                    .push(sent.elapsed().as_secs_f64() * 1000.0),
                Some(kind) => *errors.lock().unwrap().entry(kind).or_default() += 1,
            }
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let offered_for = clock.elapsed().as_secs_f64();
    let accepted = latencies.lock().unwrap().len();
    let ended = now_millis();
    // Drain: everything written in the window settles and is published.
    let drain_start = Instant::now();
    loop {
        let unsent = scalar(&db, "SELECT count(*) FROM outbox WHERE sent_at IS NULL").await;
        let running = scalar(
            &db,
            "SELECT count(*) FROM operations WHERE status = 'InProgress'",
        )
        .await;
        if unsent == 0 && running == 0 {
            break;
        }
        if drain_start.elapsed() > Duration::from_secs(300) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain_seconds = drain_start.elapsed().as_secs_f64();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let backlog: Vec<Value> = sampler.await.unwrap();
    let window = format!("created_at >= {started} AND created_at <= {ended}");
    let relay_lag = column(
        &db,
        format!("SELECT sent_at - created_at FROM outbox WHERE {window} AND sent_at IS NOT NULL"),
    )
    .await;
    let to_succeeded = column(
        &db,
        format!(
            "SELECT ended_at - started_at FROM operations WHERE started_at >= {started} AND started_at <= {ended} \
             AND verb = 'PUT' AND status = 'Succeeded'"
        ),
    )
    .await;
    let failed = scalar(
        &db,
        &format!(
            "SELECT count(*) FROM operations WHERE started_at >= {started} AND status <> 'Succeeded'"
        ),
    )
    .await;
    let events = relay_lag.len();
    json!({
        "label": label,
        "workload": match run.workload {
            Workload::Hub => "hub",
            Workload::Deployment => "deployment",
        },
        "offered_rate": rate,
        "seconds": seconds,
        "offered": total,
        "skipped_at_max_in_flight": skipped,
        "accepted": accepted,
        "errors": errors.lock().unwrap().values().sum::<usize>(),
        "error_kinds": *errors.lock().unwrap(),
        "achieved_rate": accepted as f64 / offered_for,
        "put_202_ms": summary(latencies.lock().unwrap().clone()),
        "events": events,
        "relay_lag_ms": summary(relay_lag),
        "put_to_succeeded_ms": summary(to_succeeded),
        "operations_not_succeeded": failed,
        "drain_seconds_after_load": drain_seconds,
        "backlog_samples_s_unsent_running": backlog,
    })
}

async fn raw_rabbitmq(amqp_url: String, messages: usize, window: usize) -> Value {
    let connection = Connection::connect(&amqp_url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let exchange = format!("rawbench.{suffix}");
    let queue = format!("rawbench.{suffix}.q");
    channel
        .exchange_declare(
            exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    // The size and shape of one of Kiln's events.
    let payload = serde_json::to_vec(&json!({
        "specversion": "1.0", "type": "Microsoft.Resources.ResourceWriteSuccess",
        "source": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench",
        "subject": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench/providers/Microsoft.MachineLearningServices/workspaces/hub-0",
        "id": uuid::Uuid::new_v4().to_string(), "time": "2026-11-21T00:00:00.000Z",
        "datacontenttype": "application/json",
        "data": {"resourceUri": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench/providers/Microsoft.MachineLearningServices/workspaces/hub-0",
                 "subscriptionId": "00000000-0000-0000-0000-000000000000",
                 "operationName": "Microsoft.MachineLearningServices/workspaces/write", "generation": 1,
                 "operationId": uuid::Uuid::new_v4().to_string(), "caller": uuid::Uuid::new_v4().to_string(),
                 "correlationId": uuid::Uuid::new_v4().to_string()}
    }))
    .unwrap();
    let properties = BasicProperties::default()
        .with_content_type("application/cloudevents+json".into())
        .with_delivery_mode(2);
    let options = BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    let mut results = serde_json::Map::new();
    for (name, batch) in [("one_at_a_time", 1usize), ("pipelined", window)] {
        let count = if batch == 1 { messages / 4 } else { messages };
        let start = Instant::now();
        let mut sent = 0;
        while sent < count {
            let mut pending = Vec::with_capacity(batch);
            for _ in 0..batch.min(count - sent) {
                pending.push(
                    channel
                        .basic_publish(
                            exchange.as_str().into(),
                            "microsoft.machinelearningservices.workspaces.resourcewritesuccess"
                                .into(),
                            options,
                            &payload,
                            properties.clone(),
                        )
                        .await
                        .unwrap(),
                );
            }
            for confirm in pending {
                assert!(confirm.await.unwrap().is_ack());
                sent += 1;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        results.insert(
            name.into(),
            json!({"messages": count, "batch": batch, "seconds": seconds, "per_second": count as f64 / seconds}),
        );
    }
    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    Value::Object(results)
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // `cargo bench` appends `--bench`.
    let out = match Cli::parse_from(std::env::args().filter(|a| a != "--bench")).command {
        Command::Writes(run) => writes(run).await,
        Command::RawRabbitmq {
            amqp_url,
            messages,
            window,
        } => raw_rabbitmq(amqp_url, messages, window).await,
    };
    println!("{out}");
}
