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
mod rules;
mod secret_part;
pub mod sharing;

pub use auth_types::KNOWN as AUTH_TYPES;
pub use model::{Connection, ConnectionProperties};
pub use rules::Connections;

use crate::arm::registry::{
    ActionDecl, ActionReturns, ApiVersions, ByVersion, DeleteAnswer, Listing, TypeDescriptor,
    TypeSchema, Verbs, WriteAnswer,
};
use crate::store::resource;

/// The action `listsecrets` needs, under the connection type (`…/connections/listsecrets/action`).
pub const LIST_SECRETS: &str = "listsecrets/action";

/// `POST …/connections/{name}/listsecrets`: the connection with its credentials, the only
/// way they leave the service. Reading does not grant it.
pub const LIST_SECRETS_ACTION: ActionDecl = ActionDecl {
    name: "listsecrets",
    rbac: LIST_SECRETS,
    summary: "The connection with its credentials.",
    returns: ActionReturns::Resource,
    secret: true,
    since: None,
};

/// A parent type of connections.
pub struct ConnectionHost {
    /// The connection type under this parent.
    pub descriptor: &'static TypeDescriptor,
    /// The key of the resource whose shared connections a parent also sees (a project's hub).
    pub sharing_source: fn(&resource::Model) -> Option<String>,
    /// The connection type at that source: this one for hubs and their projects, the
    /// account's for a Foundry project.
    pub source_type: &'static TypeDescriptor,
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
    pub fn kind(&'static self) -> Connections {
        Connections { host: self }
    }
}

/// A connection type under a parent: synchronous (PUT and PATCH 200, DELETE 200 or 204 when
/// absent), listed on one page (the 2020-08-01 client does not follow nextLink) with
/// `?category=` and `?target=`, and a child's list shows the connections its parent's sharing
/// source shares with it.
pub const fn connection_type(
    namespace: &'static str,
    type_path: &'static [&'static str],
    name_params: &'static [&'static str],
    tag: &'static str,
) -> TypeDescriptor {
    TypeDescriptor {
        namespace,
        type_path,
        name_params,
        api_versions: ApiVersions::Published,
        tracked: false,
        proxy_tags: false,
        provisioned: false,
        name_rule: "Connection names are 3-33 characters: a letter or digit, then letters, digits, '_' or '-'.",
        name_valid: super::workspaces::valid_name,
        verbs: Verbs {
            put: Some(ByVersion::always(WriteAnswer::OK)),
            patch: Some(ByVersion::always(WriteAnswer::OK)),
            delete: Some(ByVersion::always(DeleteAnswer::AT_ONCE)),
            head: false,
            list: Some(Listing {
                paged: false,
                filters: &["category", "target"],
                through_parent: true,
            }),
            list_by_subscription: false,
        },
        actions: &[LIST_SECRETS_ACTION],
        schema: TypeSchema::of::<Connection, ConnectionProperties>(),
        tag,
    }
}

/// `Microsoft.MachineLearningServices/workspaces/connections`: a project's list shows the
/// connections its hub shares with it.
pub static WORKSPACE_CONNECTIONS: TypeDescriptor = connection_type(
    "Microsoft.MachineLearningServices",
    &["workspaces", "connections"],
    &["workspaceName", "connectionName"],
    "WorkspaceConnections",
);

/// Workspaces: a project sees the connections its hub shares with it.
pub static WORKSPACE_HOST: ConnectionHost = ConnectionHost {
    descriptor: &WORKSPACE_CONNECTIONS,
    sharing_source: project_hub,
    source_type: &WORKSPACE_CONNECTIONS,
};

fn project_hub(workspace: &resource::Model) -> Option<String> {
    (workspace.kind_key.as_deref() == Some("project"))
        .then(|| workspace.depends_on_key.clone())
        .flatten()
}
