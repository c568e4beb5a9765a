//! The validated settings tree the application is built from. What its parts hold when
//! nobody sets them is in `defaults`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::LogFormat;

#[derive(Debug, Clone)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// The validated settings tree the application is built from.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub auth: AuthSettings,
    pub bootstrap: BootstrapSettings,
    pub worker: WorkerSettings,
    pub relay: RelaySettings,
    pub log_format: LogFormat,
    /// The master keys of connection secrets.
    pub master_keys: crate::secrets::KeySource,
    /// The regions resources may live in (`KILN_REGIONS`, else the default set).
    pub regions: super::regions::Regions,
    /// Settings of resource types (`KILN_DATA_PLANE_DOMAIN`, `KILN_SOFT_DELETE_RETENTION`).
    pub types: super::TypeSettings,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub kind: DatabaseKind,
    pub max_connections: u32,
    /// How long a statement waits for a pooled connection, and a new connection to open.
    pub wait: Duration,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Plain HTTP listener; `None` disables it.
    pub http_addr: Option<SocketAddr>,
    /// HTTPS listener; `None` disables it.
    pub https_addr: Option<SocketAddr>,
    pub tls: TlsSource,
    pub public_url: Option<Url>,
    /// HTTP worker threads (each a single-threaded runtime).
    pub workers: usize,
}

#[derive(Debug, Clone)]
pub enum TlsSource {
    SelfSigned,
    Files { cert: PathBuf, key: PathBuf },
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub audience: String,
    /// `KILN_JWKS`: an external provider's keys.
    pub jwks: Option<crate::identity::jwks::JwksSource>,
    /// `KILN_JWT_ISSUER`: the issuers of the external provider's tokens.
    pub issuers: Vec<String>,
    /// The least time between two reads of the key sources caused by unknown key ids.
    pub jwks_min_refresh: Duration,
    /// How often a JWKS URL is read again regardless.
    pub jwks_refresh_every: Duration,
    /// `KILN_DEV_TOKENS`: whether HS256 dev tokens are accepted.
    pub dev_tokens: bool,
}

#[derive(Debug, Clone)]
pub struct BootstrapSettings {
    pub tenant: Option<uuid::Uuid>,
    pub subscription: Option<uuid::Uuid>,
}

#[derive(Debug, Clone)]
pub struct RelaySettings {
    pub enabled: bool,
    /// RabbitMQ, or `None` for the in-process broker.
    pub amqp_url: Option<String>,
    pub amqp_prefix: String,
    /// How often the relay looks for unsent events when nothing woke it.
    pub poll_interval: Duration,
    /// How many events one pass claims.
    pub batch: u64,
}

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub enabled: bool,
    /// How often the worker looks for work when nothing woke it.
    pub poll_interval: Duration,
    /// How long one claim on an operation lasts before another worker may take it over.
    pub lease: Duration,
    /// How long an operation may stay in flight before it is failed.
    pub operation_deadline: Duration,
    /// How often the sweeper looks for work nobody is finishing.
    pub sweep_interval: Duration,
    /// `KILN_OBJECT_STORE`: a directory, file:// or s3:// URL.
    pub object_store: String,
}
