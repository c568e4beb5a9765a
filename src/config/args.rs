//! The command-line flags of the `kiln` commands, each with its `KILN_*` environment variable
//! and default, as clap reads them. Turning them into [`super::Settings`] is `validate`'s work.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::defaults;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// How `kiln serve` and `kiln worker` log.
#[derive(Debug, Clone, Copy, Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(long, env = "KILN_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// Settings shared by every command that touches the data directory or the database.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory: the SQLite file, the dev signing key and the self-signed certificate.
    #[arg(
        long,
        env = "KILN_DATA_DIR",
        default_value = defaults::DATA_DIR,
        global = true
    )]
    pub data_dir: PathBuf,
    /// Database URL (postgres://… in production); SQLite in the data directory when absent.
    #[arg(long, env = "KILN_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Milliseconds a request waits for a database connection (or for a new one to open)
    /// before it is answered 503 with Retry-After: while the database is down, clients hear
    /// so promptly.
    #[arg(
        long = "database-wait-ms",
        env = "KILN_DATABASE_WAIT_MS",
        default_value_t = defaults::DATABASE_WAIT_MS,
        global = true
    )]
    pub database_wait_ms: u64,
    /// Bootstrap tenant id, generated once and stored when absent.
    #[arg(long, env = "KILN_BOOTSTRAP_TENANT", global = true)]
    pub bootstrap_tenant: Option<uuid::Uuid>,
    /// Bootstrap subscription id, generated once and stored when absent.
    #[arg(long, env = "KILN_BOOTSTRAP_SUBSCRIPTION", global = true)]
    pub bootstrap_subscription: Option<uuid::Uuid>,
    /// Audience the tokens must carry.
    #[arg(
        long,
        env = "KILN_JWT_AUDIENCE",
        default_value = defaults::JWT_AUDIENCE,
        global = true
    )]
    pub jwt_audience: String,
    /// Public base URL used for absolute Location / nextLink URLs (behind a proxy).
    #[arg(long, env = "KILN_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Master key (base64, 32 bytes) that wraps connection secrets; every replica needs the
    /// same. A keyring file in the data directory is used (and created) when absent.
    #[arg(long, env = "KILN_MASTER_KEY", hide_env_values = true, global = true)]
    pub master_key: Option<Redacted>,
    /// Earlier master keys, comma-separated: still read while `kiln keys rotate` runs.
    #[arg(
        long,
        env = "KILN_MASTER_KEY_PREVIOUS",
        hide_env_values = true,
        global = true
    )]
    pub master_key_previous: Option<Redacted>,
}

/// A setting that must never be printed (a key): `Debug` shows only that it is set.
#[derive(Clone)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Redacted {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(text.to_owned()))
    }
}

/// Where lifecycle events go, shared by `kiln serve` and `kiln worker`.
#[derive(Debug, Clone, Args)]
pub struct BrokerArgs {
    /// RabbitMQ URL for lifecycle events (amqp://…); the in-process broker when absent.
    #[arg(long, env = "KILN_AMQP_URL")]
    pub amqp_url: Option<String>,
    /// Prefix of the exchange and queue names, so deployments (and tests) never share them.
    #[arg(long, env = "KILN_AMQP_PREFIX", default_value = "")]
    pub amqp_prefix: String,
    /// Do not run the outbox relay in this process.
    #[arg(long, env = "KILN_NO_RELAY")]
    pub no_relay: bool,
}

/// How provisioning runs, shared by `kiln serve` (its in-process worker) and `kiln worker`.
#[derive(Debug, Clone, Args)]
pub struct ProvisionerArgs {
    /// Where storage accounts live: a directory, file:///dir, or s3://bucket[/prefix] (with the
    /// usual AWS_* variables). Defaults to `objects/` in the data directory.
    #[arg(long, env = "KILN_OBJECT_STORE")]
    pub object_store: Option<String>,
    /// Seconds a worker's claim on an operation lasts before another worker may take it over.
    #[arg(long = "worker-lease", env = "KILN_WORKER_LEASE", default_value_t = defaults::WORKER_LEASE_SECONDS)]
    pub lease_seconds: u64,
    /// Seconds an operation may take, retries included, before it fails.
    #[arg(
        long = "operation-deadline",
        env = "KILN_OPERATION_DEADLINE",
        default_value_t = defaults::OPERATION_DEADLINE_SECONDS
    )]
    pub deadline_seconds: u64,
}

/// Settings of `kiln worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub provisioning: ProvisionerArgs,
    #[command(flatten)]
    pub types: super::TypeArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Settings of `kiln serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Plain HTTP listen address (for local tools; the Azure SDKs need HTTPS).
    #[arg(
        long = "http",
        env = "KILN_HTTP_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub http_addr: String,
    /// HTTPS listen address.
    #[arg(
        long = "https",
        env = "KILN_HTTPS_ADDR",
        default_value = "127.0.0.1:8443"
    )]
    pub https_addr: String,
    /// PEM certificate chain for HTTPS; a self-signed one is generated when absent.
    #[arg(long, env = "KILN_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, env = "KILN_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
    /// Skip running migrations at start (run `kiln migrate` separately).
    #[arg(long, env = "KILN_NO_MIGRATE")]
    pub no_migrate: bool,
    /// HTTP worker threads; defaults to the number of CPUs.
    #[arg(long, env = "KILN_HTTP_WORKERS")]
    pub http_workers: Option<usize>,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub provisioning: ProvisionerArgs,
    /// Do not run the in-process provisioning worker in this process.
    #[arg(long, env = "KILN_NO_WORKER")]
    pub no_worker: bool,
    /// JWKS of an external identity provider (OIDC `jwks_uri`): a file path or an http(s) URL.
    /// A URL is read at start, hourly, and when a token names an unknown key id.
    #[arg(long, env = "KILN_JWKS")]
    pub jwks: Option<String>,
    /// Issuers accepted for tokens signed with the KILN_JWKS keys, comma-separated; `{tenantid}`
    /// stands for the token's `tid` (e.g. https://login.microsoftonline.com/{tenantid}/v2.0).
    #[arg(long = "jwt-issuer", env = "KILN_JWT_ISSUER", value_delimiter = ',')]
    pub jwt_issuers: Vec<String>,
    /// Accept dev tokens (HS256 with the dev key, what `kiln token` prints). On by default
    /// only on the embedded default (SQLite); turn it off in production.
    #[arg(long, env = "KILN_DEV_TOKENS")]
    pub dev_tokens: Option<bool>,
    /// The regions resources may live in: a JSON file shaped like api-spec/azure/regions.json
    /// (the default, a set of real Azure regions).
    #[arg(long, env = "KILN_REGIONS")]
    pub regions: Option<PathBuf>,
    #[command(flatten)]
    pub types: super::TypeArgs,
}
