//! From arguments to settings: each `*Args` gives the part of the tree it fills, and
//! [`Settings::from_args`] assembles the whole, refusing a bad value with a [`SettingsError`].

use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;
use url::Url;

use super::{
    AuthSettings, BootstrapSettings, BrokerArgs, DatabaseKind, DatabaseSettings, HttpSettings,
    ProvisionerArgs, RelaySettings, ServeArgs, Settings, StoreArgs, TlsSource, WorkerSettings,
};

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
    #[error("KILN_REGIONS: {0}")]
    Regions(#[from] super::regions::RegionsError),
    #[error(transparent)]
    Types(#[from] super::types::TypeSettingsError),
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
            wait: std::time::Duration::from_millis(self.database_wait_ms),
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
            log_format: serve.log.log_format,
            master_keys: store.key_source(),
            regions: super::regions::Regions::load(serve.regions.as_deref())?,
            types: serve.types.settings()?,
        })
    }
}
