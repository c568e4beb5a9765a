//! `Microsoft.CognitiveServices`: accounts (the Foundry resource, kind `AIServices`; Azure
//! OpenAI, kind `OpenAI`; other kinds as given) and their Foundry projects.
//!
//! - `accounts`: the account rules (kind, sku, a custom subdomain unique across Kiln, the
//!   data-plane endpoints derived from it) and its key actions;
//! - `keys`: the account's two keys, sealed like connection secrets;
//! - `projects`: projects, only on an account that allows project management;
//! - `provisioner`: keys made when the account is provisioned, and the soft delete: a
//!   deleted account is archived with its projects and keys until it is purged;
//! - `deleted`: the deleted accounts' endpoints (get, list, purge) and their restore;
//! - `connections`: account and project connections, the workspace connections' code;
//! - `deployments`: model deployments, checked against the catalog and the quota;
//! - `quota`: usage and limits per subscription, region and quota name;
//! - `models`: the catalog and usage endpoints;
//! - `platform`: `checkDomainAvailability` and `skus`.

mod accounts;
pub mod connections;
pub mod deleted;
pub mod deployments;
mod keys;
mod model;
pub mod models;
pub mod platform;
mod projects;
mod provisioner;
pub mod quota;

use std::sync::Arc;

pub use accounts::Accounts;
pub use deployments::Deployments;
pub use model::{Account, AccountKeys, AccountProperties, Project, ProjectProperties};
pub use projects::Projects;

use crate::arm::registry::Registry;
use crate::arm::registry::{
    ActionDecl, ActionReturns, ApiVersions, ByVersion, DeleteAnswer, Listing, SchemaFn,
    TypeDescriptor, TypeSchema, Verbs, WriteAnswer,
};
use crate::config::TypeSettings;

pub const NAMESPACE: &str = "Microsoft.CognitiveServices";

/// The realm of `reserved_names` account subdomains are unique in.
const SUBDOMAIN_REALM: &str = "cognitiveservices/subdomain";

/// `POST …/accounts/{a}/listKeys`: key1 and key2. Reading does not grant it.
const LIST_KEYS: ActionDecl = ActionDecl {
    name: "listKeys",
    rbac: "listKeys/action",
    summary: "The account's two keys.",
    returns: ActionReturns::Schema(SchemaFn::of::<AccountKeys>()),
    secret: true,
    since: None,
};

/// `POST …/accounts/{a}/regenerateKey` with `{"keyName": "Key1" | "Key2"}`.
const REGENERATE_KEY: ActionDecl = ActionDecl {
    name: "regenerateKey",
    rbac: "regenerateKey/action",
    summary: "Replaces one of the account's keys; answers both.",
    returns: ActionReturns::Schema(SchemaFn::of::<AccountKeys>()),
    secret: true,
    since: None,
};

/// Every write and delete runs as an operation (202 with monitors, as Azure's clients accept;
/// DELETE 204 when absent); lists page.
const fn operated(list_by_subscription: bool) -> Verbs {
    Verbs {
        put: Some(ByVersion::always(WriteAnswer::ACCEPTED)),
        patch: Some(ByVersion::always(WriteAnswer::ACCEPTED)),
        delete: Some(ByVersion::always(DeleteAnswer::ACCEPTED)),
        head: false,
        list: Some(Listing::PAGED),
        list_by_subscription,
    }
}

/// Writes run as operations the account provisioner completes (202 with monitors, as
/// Azure's clients accept); DELETE soft-deletes (202, 204 when absent).
pub static ACCOUNTS: TypeDescriptor = TypeDescriptor {
    namespace: NAMESPACE,
    type_path: &["accounts"],
    name_params: &["accountName"],
    api_versions: ApiVersions::Published,
    tracked: true,
    proxy_tags: false,
    provisioned: true,
    name_rule: "Account names are 2-64 characters: a letter or digit, then letters, digits, '_', '.' or '-'.",
    name_valid: valid_name,
    verbs: operated(true),
    actions: &[LIST_KEYS, REGENERATE_KEY],
    schema: TypeSchema::of::<Account, AccountProperties>(),
    tag: "Accounts",
};

/// Projects of an account: operations like the account's; they go with it.
pub static PROJECTS: TypeDescriptor = TypeDescriptor {
    namespace: NAMESPACE,
    type_path: &["accounts", "projects"],
    name_params: &["accountName", "projectName"],
    api_versions: ApiVersions::Published,
    tracked: true,
    proxy_tags: false,
    provisioned: true,
    name_rule: "Project names are 2-64 characters: a letter or digit, then letters, digits, '_', '.' or '-'.",
    name_valid: valid_name,
    verbs: operated(false),
    actions: &[],
    schema: TypeSchema::of::<Project, ProjectProperties>(),
    tag: "Projects",
};

/// `^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`, 2-64 characters: the spec's account name.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && (2..=64).contains(&name.len())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Registers the types, sharing the settings they derive endpoints, retention, the catalog
/// and quotas from.
pub fn register(registry: &mut Registry, settings: &Arc<TypeSettings>) {
    registry
        .register(Arc::new(Accounts {
            settings: settings.clone(),
        }))
        .register(Arc::new(Projects {
            settings: settings.clone(),
        }))
        .register(Arc::new(Deployments {
            settings: settings.clone(),
        }))
        .register(Arc::new(connections::ACCOUNT_HOST.kind()))
        .register(Arc::new(connections::PROJECT_HOST.kind()));
}

pub use deleted::configure as configure_deleted;
pub use models::configure as configure_models;
pub use platform::configure as configure_platform;

/// The fixed path segments of the platform endpoints here.
pub const WORDS: &[&str] = &[
    NAMESPACE,
    "deletedAccounts",
    "checkDomainAvailability",
    "skus",
    "models",
    "usages",
];

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_the_spec_pattern() {
        assert!(super::valid_name("ai"));
        assert!(super::valid_name("my.account_1-x"));
        assert!(!super::valid_name("a"));
        assert!(!super::valid_name("-account"));
        assert!(!super::valid_name(&"a".repeat(65)));
    }
}
