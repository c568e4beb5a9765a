//! One module per resource type. Each declares its type (a [`TypeDescriptor`] and its
//! [`ResourceKind`] hooks); [`registry`] is the one list that registers them all, and the engine
//! serves each from its declaration. The platform endpoints that are not resource types
//! (subscriptions, providers, admin, activity log, the generic `…/resources` lists,
//! Microsoft.Authorization) keep their own routes.
//!
//! [`TypeDescriptor`]: crate::arm::registry::TypeDescriptor
//! [`ResourceKind`]: crate::arm::registry::ResourceKind

pub mod activity_log;
pub mod authorization;
pub mod cognitive;
pub mod connections;
pub mod dependents;
pub mod locations;
pub mod providers;
pub mod quotas;
pub mod resource_groups;
pub mod resource_lists;
pub mod subscriptions;
pub mod tags;
pub mod workspaces;

use std::sync::Arc;

use crate::arm::hooks::RemovalHook;
use crate::arm::id::PathVocabulary;
use crate::arm::registry::{Plain, Registry};
use crate::config::TypeSettings;

/// Every type Kiln serves, with the default type settings. A program (or a test) may register
/// more before building the app.
pub fn registry() -> Registry {
    registry_with(&TypeSettings::default())
}

/// Every type Kiln serves, with these type settings (data-plane domain, soft-delete retention).
pub fn registry_with(settings: &TypeSettings) -> Registry {
    let settings = Arc::new(settings.clone());
    let mut registry = Registry::default();
    cognitive::register(&mut registry, &settings);
    registry
        .built_with(settings)
        .register(Arc::new(resource_groups::ResourceGroups))
        .register(Arc::new(workspaces::Workspaces))
        .register(Arc::new(connections::WORKSPACE_HOST.kind()))
        .register(Arc::new(dependents::StorageAccounts))
        .register(Arc::new(Plain(&dependents::KEY_VAULT)));
    registry
}

/// What runs in every transaction that removes resources (the engine's and the worker's).
pub fn removal_hook() -> Arc<dyn RemovalHook> {
    Arc::new(EveryRemovalHook(vec![
        Arc::new(authorization::removal::AssignmentsGoWithScope),
        Arc::new(cognitive::quota::QuotaGoesWithDeployment),
    ]))
}

/// Several owners' removal hooks, run in order in the one transaction.
struct EveryRemovalHook(Vec<Arc<dyn RemovalHook>>);

#[async_trait::async_trait]
impl RemovalHook for EveryRemovalHook {
    async fn removed(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        removal: &crate::arm::hooks::Removal<'_>,
    ) -> Result<(), sea_orm::DbErr> {
        for hook in &self.0 {
            hook.removed(tx, removal).await?;
        }
        Ok(())
    }
}

/// The fixed path segments of the platform's own routes.
const PLATFORM_WORDS: &[&str] = &[
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
];

/// The fixed path segments of every route, for case-insensitive matching.
pub fn vocabulary(registry: &Registry) -> PathVocabulary {
    let mut words: Vec<&str> = PLATFORM_WORDS.to_vec();
    words.extend(authorization::WORDS);
    words.extend(providers::WORDS);
    words.extend(tags::WORDS);
    words.extend(cognitive::WORDS);
    registry.vocabulary(&words)
}

/// The platform endpoints; the types' routes come from the registry.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.configure(subscriptions::configure)
        .configure(providers::configure)
        .configure(locations::configure)
        .configure(tags::configure)
        .configure(resource_lists::configure)
        .configure(activity_log::configure)
        .configure(authorization::configure)
        .configure(cognitive::configure_deleted)
        .configure(cognitive::configure_platform)
        .configure(cognitive::configure_models)
        .configure(quotas::configure)
        .configure(crate::arm::operations::configure);
}
