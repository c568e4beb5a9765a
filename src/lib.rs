//! Kiln: an ARM-compatible control plane for AI platform resources.

pub mod activity;
pub mod arm;
pub mod authz;
pub mod config;
pub mod error;
pub mod events;
pub mod hash;
pub mod identity;
pub mod lifecycle;
pub mod metrics;
pub mod ops;
pub mod provisioners;
pub mod resources;
pub mod rotation;
pub mod secrets;
pub mod startup;
pub mod storage;
pub mod store;
pub mod telemetry;
pub mod tls;
