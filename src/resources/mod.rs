//! One module per resource type. Each declares its descriptor and rules and registers its
//! routes; the engine knows none of them by name.

pub mod activity_log;
pub mod authorization;
pub mod connections;
pub mod dependents;
pub mod resource_groups;
pub mod subscriptions;
pub mod workspaces;

use std::sync::Arc;

use crate::arm::id::PathVocabulary;
use crate::arm::registry::Registry;
use crate::provisioners::Provisioners;
use crate::secrets::MasterKeys;

/// Every type Kiln serves. Connections seal their secrets under `master_keys`.
pub fn registry(vocabulary: Arc<PathVocabulary>, master_keys: Arc<MasterKeys>) -> Registry {
    let mut registry = Registry::default();
    registry.register(Arc::new(resource_groups::ResourceGroups));
    registry.register(Arc::new(workspaces::Workspaces { vocabulary }));
    registry.register(Arc::new(dependents::Dependents(
        &dependents::STORAGE_ACCOUNT,
    )));
    registry.register(Arc::new(dependents::Dependents(&dependents::KEY_VAULT)));
    registry.register(Arc::new(connections::WORKSPACE_HOST.kind(master_keys)));
    registry
}

/// The provisioner of each type that has real things behind it.
pub fn provisioners() -> Provisioners {
    let mut provisioners = Provisioners::default();
    provisioners.register(
        workspaces::DESCRIPTOR.type_key(),
        Arc::new(workspaces::WorkspaceProvisioner),
    );
    provisioners.register(
        dependents::STORAGE_ACCOUNT.type_key(),
        Arc::new(dependents::StorageAccountProvisioner),
    );
    provisioners
}

/// The fixed path segments of every route, for case-insensitive matching.
pub fn vocabulary() -> PathVocabulary {
    let mut words: Vec<&str> = vec![
        "subscriptions",
        "resourceGroups",
        "providers",
        "resources",
        "locations",
        "operationStatuses",
        "operationResults",
        "register",
        "Microsoft.Resources",
        "Microsoft.Insights",
        "eventtypes",
        "management",
        "values",
        "listsecrets",
    ];
    words.extend(authorization::WORDS);
    for descriptor in [
        &resource_groups::DESCRIPTOR,
        &workspaces::DESCRIPTOR,
        &connections::WORKSPACE_CONNECTIONS,
        &dependents::STORAGE_ACCOUNT,
        &dependents::KEY_VAULT,
    ] {
        words.push(descriptor.namespace);
        words.extend(descriptor.type_path.iter().copied());
    }
    PathVocabulary::new(words)
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.configure(subscriptions::configure)
        .configure(resource_groups::configure)
        .configure(workspaces::configure)
        .configure(connections::routes::configure)
        .configure(dependents::configure)
        .configure(activity_log::configure)
        .configure(authorization::configure)
        .configure(crate::arm::operations::configure);
}
