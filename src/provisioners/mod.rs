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

/// What workers provision with: the provisioner per type, the backends they use, and the
/// hook that runs when resources go.
#[derive(Clone)]
pub struct Backends {
    pub provisioners: Arc<Provisioners>,
    pub storage: ObjectStorage,
    pub removal: Arc<dyn crate::arm::hooks::RemovalHook>,
}
