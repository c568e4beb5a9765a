//! Driving operations to a terminal state. The database is the truth: a worker claims an
//! operation with a lease (a conditional UPDATE), re-reads the resource, lets the type's
//! [`Provisioner`] create (or remove) the real things behind it, and commits the outcome with
//! its event only if the resource is still at the operation's generation.

pub mod sweeper;
mod transitions;
pub mod wakeups;
pub mod worker;

use std::sync::Arc;

pub use crate::arm::provisioning::{
    Applied, Dependent, ProvisionContext, ProvisionError, Provisioner, Provisioners,
};
pub use crate::storage::{self, ObjectStorage};
pub use sweeper::Sweeper;
pub use worker::Worker;

use crate::error::ArmError;

/// Why a worker could not commit an outcome.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    /// A role assignment the provisioner asked for was refused (or could not be stored).
    #[error("a role assignment the provisioner asked for could not be written: {0}")]
    Assignment(#[source] ArmError),
}

/// What workers provision with: the provisioner per type, the backends they use, and the
/// hook that runs when resources go.
#[derive(Clone)]
pub struct Backends {
    pub provisioners: Arc<Provisioners>,
    pub storage: ObjectStorage,
    pub removal: Arc<dyn crate::arm::hooks::RemovalHook>,
    /// What provisioners seal the secrets they make under.
    pub keys: Arc<crate::secrets::MasterKeys>,
}
