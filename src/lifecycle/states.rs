//! The vocabulary of the lifecycle: provisioning states, operation statuses and verbs, as
//! stored. A leaf module, so the store can speak it too.

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
    /// A POST action that changes the resource (`pause/action`).
    Action(&'static str),
}

impl Verb {
    /// The HTTP method, as stored in `operations.verb` and the activity log.
    pub const fn method(self) -> &'static str {
        match self {
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Action(_) => "POST",
        }
    }

    /// The last segment of its RBAC action (`…/write`, `…/delete`).
    pub const fn rbac(self) -> &'static str {
        match self {
            Self::Put | Self::Patch => "write",
            Self::Delete => "delete",
            Self::Action(rbac) => rbac,
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
