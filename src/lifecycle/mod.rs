//! The lifecycle every resource shares: its provisioning states, the statuses of its
//! operations, the verbs that start them, and the one place an outcome is recorded (its event
//! and its activity-log row). The engine, the worker and the sweeper all speak these types.
//! The not-found errors of ids and `require_live` (a write needs its parent or scope to
//! stay) are here so that authz and the engine share them without importing each other.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};

use crate::activity::{self, ActivityEntry};
use crate::arm::id::ResourceId;
use crate::error::{ArmError, ErrorCode};
use crate::events::{self, EventFacts};
use crate::store::resource;
use crate::store::resources::{self, RowLock};

pub mod states;

pub use states::{OperationStatus, ProvisioningState, Verb, action_of, is_terminal};

/// How a step of a resource's lifecycle ended, for its event and its activity-log row.
pub struct Outcome<'a> {
    /// The CloudEvents type (`events::WRITE_SUCCESS`, …).
    pub event: &'static str,
    /// Accepted, Succeeded or Failed.
    pub status: &'static str,
    pub status_code: u16,
    pub verb: Verb,
    pub generation: i64,
    pub operation_id: Option<&'a str>,
    pub caller: &'a str,
    pub correlation_id: &'a str,
    pub traceparent: Option<&'a str>,
}

/// Activity-log status of a write or delete that an operation now carries on.
pub const ACCEPTED: &str = "Accepted";

/// Records `outcome` for `id` in the caller's transaction: the event for the outbox and the
/// activity-log row, under one action name whoever records it (engine, worker or sweeper).
pub async fn record(
    tx: &impl ConnectionTrait,
    id: &ResourceId,
    outcome: &Outcome<'_>,
) -> Result<(), DbErr> {
    let action = action_of(&id.type_name(), outcome.verb.rbac());
    let facts = EventFacts {
        id,
        generation: outcome.generation,
        operation_id: outcome.operation_id,
        operation_name: &action,
        caller: outcome.caller,
        correlation_id: outcome.correlation_id,
        traceparent: outcome.traceparent,
    };
    events::enqueue(tx, outcome.event, &facts).await?;
    activity::record(
        tx,
        &ActivityEntry {
            subscription_key: &id.subscription_key(),
            resource_key: &id.key(),
            resource_id: &id.display(),
            operation_name: &action,
            operation_id: outcome.operation_id,
            status: outcome.status,
            status_code: outcome.status_code,
            caller: outcome.caller,
            correlation_id: outcome.correlation_id,
            method: outcome.verb.method(),
        },
    )
    .await
}

pub fn subscription_not_found(subscription_id: &str) -> ArmError {
    ArmError::new(
        ErrorCode::SubscriptionNotFound,
        format!("The subscription '{subscription_id}' could not be found."),
    )
}

/// The 404 of an absent resource, naming what is absent the way ARM does.
pub fn not_found(id: &ResourceId) -> ArmError {
    match (&id.provider, &id.resource_group) {
        (Some(_), Some(group)) => ArmError::new(
            ErrorCode::ResourceNotFound,
            format!(
                "The Resource '{}/{}' under resource group '{group}' was not found. For more details please go to \
                 https://aka.ms/ARMResourceNotFoundFix",
                id.type_name(),
                id.name()
            ),
        ),
        (None, Some(group)) => group_not_found(group),
        _ => subscription_not_found(&id.subscription),
    }
}

pub fn group_not_found(group: &str) -> ArmError {
    ArmError::new(
        ErrorCode::ResourceGroupNotFound,
        format!("Resource group '{group}' could not be found."),
    )
}

/// How many of the resources that block a delete its refusal names.
pub const BLOCKERS_NAMED: u64 = 5;

/// A delete refused while `blockers` exist: `message` is given their names, joined.
pub fn refuse_delete_while(
    blockers: &[String],
    code: ErrorCode,
    message: impl FnOnce(&str) -> String,
) -> Result<(), ArmError> {
    if blockers.is_empty() {
        return Ok(());
    }
    Err(ArmError::new(code, message(&blockers.join(", "))))
}

/// What a row that must stay is to the write that needs it, for the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The enclosing resource of a write below it.
    Parent,
    /// The scope a role assignment is written at.
    Scope,
}

/// The resource group or resource at `id` must exist and not be being deleted for a write
/// that depends on it to go on. Read with FOR KEY SHARE on PostgreSQL (the lightest lock that
/// still conflicts with the FOR UPDATE a delete takes): a concurrent delete waits for this
/// write and then sees (and cascades) it, or has marked the row Deleting first and this write
/// is refused. SQLite's single connection serializes writers anyway.
pub async fn require_live(
    tx: &DatabaseTransaction,
    id: &ResourceId,
    holder: Holder,
) -> Result<resource::Model, ArmError> {
    let row = resources::lock(tx, &id.key(), RowLock::KeyShare).await?;
    let is_group = id.provider.is_none();
    let name = id.name();
    match row {
        None if is_group => Err(ArmError::new(
            ErrorCode::ResourceGroupNotFound,
            format!("Resource group '{name}' could not be found."),
        )),
        None if holder == Holder::Parent => Err(ArmError::new(
            ErrorCode::ParentResourceNotFound,
            format!(
                "Can not perform requested operation on nested resource. Parent resource '{name}' not found."
            ),
        )),
        None => Err(not_found(id)),
        Some(row) if row.provisioning_state == ProvisioningState::Deleting.as_str() => {
            Err(if is_group {
                ArmError::new(
                    ErrorCode::ResourceGroupBeingDeleted,
                    format!(
                        "The resource group '{name}' is in deprovisioning state and cannot perform this operation."
                    ),
                )
            } else if holder == Holder::Parent {
                ArmError::new(
                    ErrorCode::ParentResourceBeingDeleted,
                    format!("The parent resource '{name}' is being deleted."),
                )
            } else {
                ArmError::new(
                    ErrorCode::ResourceBeingDeleted,
                    format!("The resource '{}' is being deleted.", id.display()),
                )
            })
        }
        Some(row) => Ok(row),
    }
}
