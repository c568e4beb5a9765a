//! Structured logs through `tracing`: text for people, JSON for collectors.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// lapin warns, with the whole body, for every message the broker returns as unroutable; with
/// `mandatory` that is every event no outside queue is bound to, which is normal here.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,lapin::returned_messages=error";

pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("KILN_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // A second init (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
