//! Role assignments, one file per job: [`validate`] checks a PUT, [`shape`] is the ARM shape
//! they are served in, [`write`] stores them with the policy version (and removes those a
//! deleted resource takes with it), [`service`] is what the routes call, and [`bootstrap`]
//! the ones Kiln grants itself.

pub mod bootstrap;
pub mod service;
pub mod shape;
pub mod validate;
pub mod write;

pub use crate::store::assignments::Removal;
pub use bootstrap::{ensure, grant_subscription_owner};
pub use service::{ListFilter, RoleAssignments};
pub use shape::{
    RoleAssignment, RoleAssignmentList, RoleAssignmentProperties, TYPE, not_found, render,
    role_definition_id,
};
pub use validate::{AssignmentAttributes, NewAssignment, PRINCIPAL_TYPES, validate};
pub use write::{Written, remove_for_deleted, write};
