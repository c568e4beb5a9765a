//! The lifecycle every resource shares: its provisioning states, the statuses of its
//! operations, the verbs that start them, and the one place an outcome is recorded (its event
//! and its activity-log row). The engine, the worker and the sweeper all speak these types.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QuerySelect};

use crate::activity::{self, ActivityEntry};
use crate::arm::id::ResourceId;
use crate::error::ArmError;
use crate::events::{self, EventFacts};
use crate::store::resource;

/// `properties.provisioningState` of a stored resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisioningState {
    Creating,
    Updating,
    Deleting,
    Succeeded,
    Failed,
    Canceled,
}

impl ProvisioningState {
    pub const ALL: [Self; 6] = [
        Self::Creating,
        Self::Updating,
        Self::Deleting,
        Self::Succeeded,
        Self::Failed,
        Self::Canceled,
    ];

    /// The states an operation is still driving.
    pub const RUNNING: [Self; 3] = [Self::Creating, Self::Updating, Self::Deleting];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "Creating",
            Self::Updating => "Updating",
            Self::Deleting => "Deleting",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Canceled => "Canceled",
        }
    }

    /// Parses a stored state, ignoring case (rows written by older versions included).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }

    /// The state a write leaves while its operation runs.
    pub const fn of_write(created: bool) -> Self {
        if created {
            Self::Creating
        } else {
            Self::Updating
        }
    }
}

/// Whether a stored state is terminal; an unknown one is not (something is still to be done).
pub fn is_terminal(state: &str) -> bool {
    ProvisioningState::parse(state).is_some_and(ProvisioningState::is_terminal)
}

/// The status of an operation, as its monitors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    InProgress,
    Succeeded,
    Failed,
    Canceled,
}

impl OperationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Canceled => "Canceled",
        }
    }
}

/// The verbs that change a resource, as stored on its operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Put,
    Patch,
    Delete,
}

impl Verb {
    /// The HTTP method, as stored in `operations.verb` and the activity log.
    pub const fn method(self) -> &'static str {
        match self {
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// The last segment of its RBAC action (`…/write`, `…/delete`).
    pub const fn rbac(self) -> &'static str {
        match self {
            Self::Put | Self::Patch => "write",
            Self::Delete => "delete",
        }
    }

    pub fn parse(method: &str) -> Option<Self> {
        [Self::Put, Self::Patch, Self::Delete]
            .into_iter()
            .find(|v| v.method().eq_ignore_ascii_case(method))
    }
}

/// The RBAC action of `verb` on resources of `type_name` (`Microsoft.X/things/write`). Resource
/// groups are the exception ARM makes: their actions live under subscriptions.
pub fn action_of(type_name: &str, verb: &str) -> String {
    if type_name.eq_ignore_ascii_case("Microsoft.Resources/resourceGroups") {
        return format!("Microsoft.Resources/subscriptions/resourceGroups/{verb}");
    }
    format!("{type_name}/{verb}")
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_ignoring_case_and_know_which_are_terminal() {
        for state in ProvisioningState::ALL {
            assert_eq!(
                ProvisioningState::parse(&state.as_str().to_uppercase()),
                Some(state)
            );
        }
        assert!(is_terminal("succeeded"));
        assert!(!is_terminal("Deleting"));
        assert!(!is_terminal("Accepted"), "unknown states are not terminal");
    }

    #[test]
    fn resource_group_actions_live_under_subscriptions() {
        assert_eq!(
            action_of("Microsoft.Resources/resourceGroups", "delete"),
            "Microsoft.Resources/subscriptions/resourceGroups/delete"
        );
        assert_eq!(
            action_of("Microsoft.MachineLearningServices/workspaces", "write"),
            "Microsoft.MachineLearningServices/workspaces/write"
        );
    }
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
    let row = resource::Entity::find_by_id(id.key())
        .lock(sea_orm::sea_query::LockType::KeyShare)
        .one(tx)
        .await?;
    let is_group = id.provider.is_none();
    let name = id.name();
    match row {
        None if is_group => Err(ArmError::not_found(
            "ResourceGroupNotFound",
            format!("Resource group '{name}' could not be found."),
        )),
        None if holder == Holder::Parent => Err(ArmError::not_found(
            "ParentResourceNotFound",
            format!(
                "Can not perform requested operation on nested resource. Parent resource '{name}' not found."
            ),
        )),
        None => Err(crate::arm::engine::not_found(id)),
        Some(row) if row.provisioning_state == ProvisioningState::Deleting.as_str() => {
            Err(if is_group {
                ArmError::conflict(
                    "ResourceGroupBeingDeleted",
                    format!(
                        "The resource group '{name}' is in deprovisioning state and cannot perform this operation."
                    ),
                )
            } else if holder == Holder::Parent {
                ArmError::conflict(
                    "ParentResourceBeingDeleted",
                    format!("The parent resource '{name}' is being deleted."),
                )
            } else {
                ArmError::conflict(
                    "ResourceBeingDeleted",
                    format!("The resource '{}' is being deleted.", id.display()),
                )
            })
        }
        Some(row) => Ok(row),
    }
}
