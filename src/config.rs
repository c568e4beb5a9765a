//! One typed settings tree, filled from the CLI and `KILN_*` environment variables and
//! validated once at start so a bad value fails the boot, not the first request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use thiserror::Error;
use url::Url;

#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("KILN_PUBLIC_URL must be an absolute http(s) URL without a path, got '{0}'")]
    PublicUrl(String),
    #[error("KILN_TLS_CERT and KILN_TLS_KEY must be given together")]
    TlsPair,
    #[error("the database URL must start with postgres://, postgresql:// or sqlite:, got '{0}'")]
    DatabaseUrl(String),
    #[error("{0}")]
    Jwks(#[from] crate::identity::jwks::JwksError),
    #[error("KILN_JWKS needs KILN_JWT_ISSUER: the issuers whose tokens the JWKS keys may sign")]
    JwksWithoutIssuer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Settings shared by every command that touches the data directory or the database.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory: the SQLite file, the dev signing key and the self-signed certificate.
    #[arg(
        long = "data-dir",
        env = "KILN_DATA_DIR",
        default_value = "./kiln-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Database URL (postgres://… in production); SQLite in the data directory when absent.
    #[arg(long = "database-url", env = "KILN_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Bootstrap tenant id, generated once and stored when absent.
    #[arg(
        long = "bootstrap-tenant",
        env = "KILN_BOOTSTRAP_TENANT",
        global = true
    )]
    pub bootstrap_tenant: Option<uuid::Uuid>,
    /// Bootstrap subscription id, generated once and stored when absent.
    #[arg(
        long = "bootstrap-subscription",
        env = "KILN_BOOTSTRAP_SUBSCRIPTION",
        global = true
    )]
    pub bootstrap_subscription: Option<uuid::Uuid>,
    /// Audience the tokens must carry.
    #[arg(
        long = "jwt-audience",
        env = "KILN_JWT_AUDIENCE",
        default_value = "https://management.azure.com/",
        global = true
    )]
    pub jwt_audience: String,
    /// Public base URL used for absolute Location / nextLink URLs (behind a proxy).
    #[arg(long = "public-url", env = "KILN_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Master key (base64, 32 bytes) that wraps connection secrets; every replica needs the
    /// same. A keyring file in the data directory is used (and created) when absent.
    #[arg(
        long = "master-key",
        env = "KILN_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub master_key: Option<Redacted>,
    /// Earlier master keys, comma-separated: still read while `kiln keys rotate` runs.
    #[arg(
        long = "master-key-previous",
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
    #[arg(long = "amqp-url", env = "KILN_AMQP_URL")]
    pub amqp_url: Option<String>,
    /// Prefix of the exchange and queue names, so deployments (and tests) never share them.
    #[arg(long = "amqp-prefix", env = "KILN_AMQP_PREFIX", default_value = "")]
    pub amqp_prefix: String,
    /// Do not run the outbox relay in this process.
    #[arg(long = "no-relay", env = "KILN_NO_RELAY")]
    pub no_relay: bool,
}

impl BrokerArgs {
    pub fn relay_settings(&self) -> RelaySettings {
        RelaySettings {
            enabled: !self.no_relay,
            amqp_url: self.amqp_url.clone().filter(|u| !u.is_empty()),
            amqp_prefix: self.amqp_prefix.clone(),
            ..RelaySettings::default()
        }
    }
}

/// How provisioning runs, shared by `kiln serve` (its in-process worker) and `kiln worker`.
#[derive(Debug, Clone, Args)]
pub struct ProvisionerArgs {
    /// Where storage accounts live: a directory, file:///dir, or s3://bucket[/prefix] (with the
    /// usual AWS_* variables). Defaults to `objects/` in the data directory.
    #[arg(long = "object-store", env = "KILN_OBJECT_STORE")]
    pub object_store: Option<String>,
    /// Seconds a worker's claim on an operation lasts before another worker may take it over.
    #[arg(long = "worker-lease", env = "KILN_WORKER_LEASE", default_value_t = 30)]
    pub lease_seconds: u64,
    /// Seconds an operation may take, retries included, before it fails.
    #[arg(
        long = "operation-deadline",
        env = "KILN_OPERATION_DEADLINE",
        default_value_t = 600
    )]
    pub deadline_seconds: u64,
}

impl ProvisionerArgs {
    /// The worker settings these arguments give, with the store under `data_dir` by default.
    pub fn worker_settings(&self, data_dir: &std::path::Path, enabled: bool) -> WorkerSettings {
        WorkerSettings {
            enabled,
            lease: Duration::from_secs(self.lease_seconds.max(1)),
            operation_deadline: Duration::from_secs(self.deadline_seconds.max(1)),
            object_store: self
                .object_store
                .clone()
                .unwrap_or_else(|| data_dir.join("objects").display().to_string()),
            ..WorkerSettings::default()
        }
    }
}

/// Settings of `kiln worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub provisioning: ProvisionerArgs,
    /// Log format.
    #[arg(
        long = "log-format",
        env = "KILN_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
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
    #[arg(long = "tls-cert", env = "KILN_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long = "tls-key", env = "KILN_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Log format.
    #[arg(
        long = "log-format",
        env = "KILN_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// Skip running migrations at start (run `kiln migrate` separately).
    #[arg(long = "no-migrate", env = "KILN_NO_MIGRATE")]
    pub no_migrate: bool,
    /// HTTP worker threads; defaults to the number of CPUs.
    #[arg(long = "http-workers", env = "KILN_HTTP_WORKERS")]
    pub http_workers: Option<usize>,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub provisioning: ProvisionerArgs,
    /// Do not run the in-process provisioning worker in this process.
    #[arg(long = "no-worker", env = "KILN_NO_WORKER")]
    pub no_worker: bool,
    /// JWKS of an external identity provider (OIDC `jwks_uri`): a file path or an http(s) URL.
    /// A URL is read at start, hourly, and when a token names an unknown key id.
    #[arg(long = "jwks", env = "KILN_JWKS")]
    pub jwks: Option<String>,
    /// Issuers accepted for tokens signed with the KILN_JWKS keys, comma-separated; `{tenantid}`
    /// stands for the token's `tid` (e.g. https://login.microsoftonline.com/{tenantid}/v2.0).
    #[arg(long = "jwt-issuer", env = "KILN_JWT_ISSUER", value_delimiter = ',')]
    pub jwt_issuers: Vec<String>,
    /// Accept dev tokens (HS256 with the dev key, what `kiln token` prints). On by default
    /// only on the embedded default (SQLite); turn it off in production.
    #[arg(long = "dev-tokens", env = "KILN_DEV_TOKENS")]
    pub dev_tokens: Option<bool>,
}

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
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub kind: DatabaseKind,
    pub max_connections: u32,
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

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            audience: "https://management.azure.com/".into(),
            jwks: None,
            issuers: vec![],
            jwks_min_refresh: Duration::from_secs(30),
            jwks_refresh_every: Duration::from_secs(3600),
            dev_tokens: true,
        }
    }
}

impl ServeArgs {
    /// `embedded`: the database is the embedded default (SQLite), where dev tokens are on
    /// unless turned off.
    pub fn auth_settings(
        &self,
        audience: &str,
        embedded: bool,
    ) -> Result<AuthSettings, SettingsError> {
        let jwks = self
            .jwks
            .as_deref()
            .filter(|j| !j.trim().is_empty())
            .map(crate::identity::jwks::JwksSource::parse)
            .transpose()?;
        let issuers: Vec<String> = self
            .jwt_issuers
            .iter()
            .map(|i| i.trim().to_owned())
            .filter(|i| !i.is_empty())
            .collect();
        if jwks.is_some() && issuers.is_empty() {
            return Err(SettingsError::JwksWithoutIssuer);
        }
        Ok(AuthSettings {
            audience: audience.to_owned(),
            jwks,
            issuers,
            dev_tokens: self.dev_tokens.unwrap_or(embedded),
            ..AuthSettings::default()
        })
    }
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

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            amqp_url: None,
            amqp_prefix: String::new(),
            poll_interval: Duration::from_secs(1),
            batch: 256,
        }
    }
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

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            operation_deadline: Duration::from_secs(600),
            sweep_interval: Duration::from_secs(5),
            object_store: "./kiln-data/objects".into(),
        }
    }
}

impl StoreArgs {
    pub fn database(&self) -> Result<DatabaseSettings, SettingsError> {
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("kiln.db").display()
            ),
        };
        let kind = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DatabaseKind::Postgres
        } else if url.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else {
            return Err(SettingsError::DatabaseUrl(url));
        };
        Ok(DatabaseSettings {
            url,
            kind,
            max_connections: 32,
            migrate_on_start: true,
        })
    }

    /// Where the master keys come from: `KILN_MASTER_KEY`, else the data directory's keyring.
    pub fn key_source(&self) -> crate::secrets::KeySource {
        crate::secrets::KeySource::from_settings(
            self.master_key.as_ref().map(|k| k.0.as_str()),
            self.master_key_previous.as_ref().map(|k| k.0.as_str()),
            &self.data_dir,
        )
    }

    pub fn public_url(&self) -> Result<Option<Url>, SettingsError> {
        self.public_url.as_deref().map(parse_public_url).transpose()
    }
}

pub fn parse_public_url(raw: &str) -> Result<Url, SettingsError> {
    let url =
        Url::parse(raw.trim_end_matches('/')).map_err(|_| SettingsError::PublicUrl(raw.into()))?;
    let path_ok = url.path().is_empty() || url.path() == "/";
    if !matches!(url.scheme(), "http" | "https") || !path_ok || url.query().is_some() {
        return Err(SettingsError::PublicUrl(raw.into()));
    }
    Ok(url)
}

fn parse_addr(raw: &str) -> Result<Option<SocketAddr>, SettingsError> {
    if raw.is_empty() || raw == "off" {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| SettingsError::PublicUrl(raw.into()))
}

impl Settings {
    pub fn from_args(store: &StoreArgs, serve: &ServeArgs) -> Result<Self, SettingsError> {
        let tls = match (&serve.tls_cert, &serve.tls_key) {
            (Some(cert), Some(key)) => TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            (None, None) => TlsSource::SelfSigned,
            _ => return Err(SettingsError::TlsPair),
        };
        let mut database = store.database()?;
        database.migrate_on_start = !serve.no_migrate;
        let embedded = matches!(database.kind, DatabaseKind::Sqlite);
        Ok(Self {
            data_dir: store.data_dir.clone(),
            database,
            http: HttpSettings {
                http_addr: parse_addr(&serve.http_addr)?,
                https_addr: parse_addr(&serve.https_addr)?,
                tls,
                public_url: store.public_url()?,
                workers: serve
                    .http_workers
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            },
            auth: serve.auth_settings(&store.jwt_audience, embedded)?,
            bootstrap: BootstrapSettings {
                tenant: store.bootstrap_tenant,
                subscription: store.bootstrap_subscription,
            },
            worker: serve
                .provisioning
                .worker_settings(&store.data_dir, !serve.no_worker),
            relay: serve.broker.relay_settings(),
            log_format: serve.log_format,
            master_keys: store.key_source(),
        })
    }
}
