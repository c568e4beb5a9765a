//! Connections of accounts and of their projects: the workspace connection behaviour (auth
//! types, sealed secrets, `listsecrets`) through the same code. An account's connections
//! reach its projects when shared (`isSharedToAll`, or `sharedUserList` naming the project).

use crate::arm::registry::TypeDescriptor;
use crate::resources::connections::{ConnectionHost, connection_type};
use crate::store::resource;

use super::NAMESPACE;

/// `Microsoft.CognitiveServices/accounts/connections`.
pub static ACCOUNT_CONNECTIONS: TypeDescriptor = connection_type(
    NAMESPACE,
    &["accounts", "connections"],
    &["accountName", "connectionName"],
    "AccountConnections",
);

/// `Microsoft.CognitiveServices/accounts/projects/connections`.
pub static PROJECT_CONNECTIONS: TypeDescriptor = connection_type(
    NAMESPACE,
    &["accounts", "projects", "connections"],
    &["accountName", "projectName", "connectionName"],
    "ProjectConnections",
);

/// Accounts share with nobody above them.
pub static ACCOUNT_HOST: ConnectionHost = ConnectionHost {
    descriptor: &ACCOUNT_CONNECTIONS,
    sharing_source: |_| None,
    source_type: &ACCOUNT_CONNECTIONS,
};

/// A project sees what its account shares with it.
pub static PROJECT_HOST: ConnectionHost = ConnectionHost {
    descriptor: &PROJECT_CONNECTIONS,
    sharing_source: project_account,
    source_type: &ACCOUNT_CONNECTIONS,
};

fn project_account(project: &resource::Model) -> Option<String> {
    Some(project.parent_key.clone()).filter(|k| !k.is_empty())
}
