//! `Microsoft.MachineLearningServices/workspaces` of kind Hub, Project and Default.

mod model;
mod provisioner;
mod rules;

pub use model::{Workspace, WorkspaceProperties};
pub(crate) use provisioner::tenant_of;
pub use provisioner::{PROJECT_CONTAINERS, WorkspaceProvisioner, dependent_names};
pub use rules::{HUB_JOIN, Workspaces};

use crate::arm::registry::{
    ApiVersions, ByVersion, DeleteAnswer, Listing, TypeDescriptor, TypeSchema, Verbs, WriteAnswer,
};

/// Hubs, projects and default workspaces. Every write runs as an operation the workspace
/// provisioner completes: PUT and PATCH answer 202 with monitors (never 201), except PATCH at
/// 2020-08-01, whose client does not poll: it waits and answers 200. DELETE answers 202, 204
/// when absent.
pub static DESCRIPTOR: TypeDescriptor = TypeDescriptor {
    namespace: "Microsoft.MachineLearningServices",
    type_path: &["workspaces"],
    name_params: &["workspaceName"],
    api_versions: ApiVersions::Published,
    tracked: true,
    proxy_tags: false,
    provisioned: true,
    name_rule: "Workspace names are 3-33 characters: a letter or digit, then letters, digits, '_' or '-'.",
    name_valid: valid_name,
    verbs: Verbs {
        put: Some(ByVersion::always(WriteAnswer::ACCEPTED)),
        patch: Some(ByVersion {
            default: WriteAnswer::ACCEPTED,
            at: &[(SYNC_PATCH_VERSION, WriteAnswer::OK)],
        }),
        delete: Some(ByVersion::always(DeleteAnswer::ACCEPTED)),
        head: false,
        list: Some(Listing {
            paged: true,
            filters: &["kind"],
            through_parent: false,
        }),
        list_by_subscription: true,
    },
    actions: &[],
    schema: TypeSchema::of::<Workspace, WorkspaceProperties>(),
    tag: "Workspaces",
};

/// `^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$`, the spec's pattern for workspaces and connections.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok
        && (3..=33).contains(&name.len())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The api-version whose PATCH is synchronous (its client does not poll).
pub const SYNC_PATCH_VERSION: &str = "2020-08-01";

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_the_spec_pattern() {
        assert!(super::valid_name("hub-1_a"));
        assert!(!super::valid_name("ab"));
        assert!(!super::valid_name("-hub"));
        assert!(!super::valid_name("hub.1"));
        assert!(!super::valid_name(&"a".repeat(34)));
    }
}
