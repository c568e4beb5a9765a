//! Connections: credentials to outside services, kept under a parent resource, whose secrets
//! never leave Kiln except through `listsecrets`.
//!
//! The model (shape, sealing of secrets, sharing) knows nothing of its parent type. A parent
//! plugs in with a [`ConnectionHost`]: the connection type's descriptor and where its
//! instances take shared connections from. Today that is
//! `Microsoft.MachineLearningServices/workspaces` (a project sees its hub's shared
//! connections); `Microsoft.CognitiveServices/accounts` and their projects plug in the same way.

mod auth_types;
mod model;
mod names;
pub mod routes;
mod rules;
mod secret_part;
pub mod service;
pub mod sharing;

use std::sync::Arc;

pub use auth_types::KNOWN as AUTH_TYPES;
pub use model::{Connection, ConnectionList, ConnectionProperties};
pub use rules::Connections;

use crate::arm::registry::TypeDescriptor;
use crate::secrets::MasterKeys;
use crate::store::resource;

/// The action `listsecrets` needs, under the connection type (`…/connections/listsecrets/action`).
pub const LIST_SECRETS: &str = "listsecrets/action";

/// A parent type of connections.
pub struct ConnectionHost {
    /// The connection type under this parent.
    pub descriptor: &'static TypeDescriptor,
    /// The key of the resource whose shared connections a parent also sees (a project's hub).
    pub sharing_source: fn(&resource::Model) -> Option<String>,
}

impl ConnectionHost {
    /// The path segment of connections under the parent (`connections`).
    pub fn segment(&self) -> &'static str {
        self.descriptor
            .type_path
            .last()
            .copied()
            .unwrap_or("connections")
    }

    /// The resource kind the registry serves for this parent.
    pub fn kind(&'static self, keys: Arc<MasterKeys>) -> Connections {
        Connections { host: self, keys }
    }
}

/// `Microsoft.MachineLearningServices/workspaces/connections`.
pub static WORKSPACE_CONNECTIONS: TypeDescriptor = TypeDescriptor {
    namespace: "Microsoft.MachineLearningServices",
    type_path: &["workspaces", "connections"],
    api_versions: super::workspaces::API_VERSIONS,
    tracked: false,
    provisioned: false,
    name_rule: "Connection names are 3-33 characters: a letter or digit, then letters, digits, '_' or '-'.",
    name_valid: super::workspaces::valid_name,
};

/// Workspaces: a project sees the connections its hub shares with it.
pub static WORKSPACE_HOST: ConnectionHost = ConnectionHost {
    descriptor: &WORKSPACE_CONNECTIONS,
    sharing_source: project_hub,
};

fn project_hub(workspace: &resource::Model) -> Option<String> {
    (workspace.kind_key.as_deref() == Some("project"))
        .then(|| workspace.depends_on_key.clone())
        .flatten()
}
