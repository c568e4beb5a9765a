//! What a setting is when nobody sets it. The command-line defaults (`args`) and the
//! `Default` of each settings part (what `validate` and the tests start from) share these values,
//! so the two cannot drift apart.

use std::time::Duration;

use super::{AuthSettings, RelaySettings, WorkerSettings};

/// `KILN_DATA_DIR`.
pub(super) const DATA_DIR: &str = "./kiln-data";
/// `KILN_JWT_AUDIENCE`: Azure Resource Manager's audience, what the Azure SDKs ask tokens for.
pub(super) const JWT_AUDIENCE: &str = "https://management.azure.com/";
/// `KILN_DATABASE_WAIT_MS`: a couple of seconds, so a database that is down is a prompt 503.
pub const DATABASE_WAIT_MS: u64 = 2000;
/// `KILN_WORKER_LEASE`.
pub(super) const WORKER_LEASE_SECONDS: u64 = 30;
/// `KILN_OPERATION_DEADLINE`.
pub(super) const OPERATION_DEADLINE_SECONDS: u64 = 600;

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            audience: JWT_AUDIENCE.into(),
            jwks: None,
            issuers: vec![],
            jwks_min_refresh: Duration::from_secs(30),
            jwks_refresh_every: Duration::from_secs(3600),
            dev_tokens: true,
        }
    }
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

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(WORKER_LEASE_SECONDS),
            operation_deadline: Duration::from_secs(OPERATION_DEADLINE_SECONDS),
            sweep_interval: Duration::from_secs(5),
            object_store: format!("{DATA_DIR}/objects"),
        }
    }
}
