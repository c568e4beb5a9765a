//! Kiln: an ARM-compatible control plane for AI platform resources.
//!
//! The modules form layers; each imports only from those below it:
//!
//! 1. [`error`] (the ARM error and the [`error::ErrorCode`] catalogue), [`config`],
//!    [`arm::id`], [`lifecycle::states`], [`hash`]: vocabulary.
//! 2. [`store`]: every query, one repository per table.
//! 3. [`secrets`] (sealing), [`storage`] (the object store).
//! 4. [`identity`]: the caller, tokens and Kiln's own keys.
//! 5. [`authz`]: roles, assignments, the policy, the read filter.
//! 6. [`events`], [`activity`], [`lifecycle`]: what every step of a resource records.
//! 7. [`arm`]: the generic engine and the provisioning contract types declare.
//! 8. [`provisioners`]: the worker and the sweeper that drive operations.
//! 9. [`resources`]: the type declarations and platform endpoints.
//! 10. [`startup`], [`rotation`], [`ops`]: the application, assembled.

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
