//! One typed settings tree, filled from the CLI and `KILN_*` environment variables and
//! validated once at start so a bad value fails the boot, not the first request.
//!
//! `args` declares the command-line flags and their environment variables (clap), `settings`
//! the validated tree the application is built from, `defaults` what both hold when nothing is
//! set, `regions` the regions Kiln offers (`KILN_REGIONS`), `types` the settings of resource types (data-plane domain, soft-delete retention, the model catalog of `catalog`), and `validate` turns the arguments into the tree, with every check a value must pass.

mod args;
pub mod catalog;
mod defaults;
pub mod regions;
mod settings;
pub mod types;
mod validate;

pub use args::{
    BrokerArgs, LogArgs, LogFormat, ProvisionerArgs, Redacted, ServeArgs, StoreArgs, WorkerArgs,
};
pub use defaults::DATABASE_WAIT_MS;
pub use settings::{
    AuthSettings, BootstrapSettings, DatabaseKind, DatabaseSettings, HttpSettings, RelaySettings,
    Settings, TlsSource, WorkerSettings,
};
pub use types::{TypeArgs, TypeSettings};
pub use validate::{SettingsError, parse_public_url};
