//! Driving operations to a terminal state. The database is the truth: a worker claims an
//! operation with a lease (a conditional UPDATE), re-reads the resource, and commits the
//! outcome with its event only if the resource is still at the operation's generation.

pub mod wakeups;
pub mod worker;

pub use worker::Worker;
