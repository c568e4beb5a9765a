//! Microsoft.Authorization: role assignments and role definitions (extension resources at any
//! scope) and the tenant-level checkAccess data planes ask.

pub mod assignments;
pub mod check_access;
pub mod definitions;
pub mod removal;

use crate::arm::id::PathVocabulary;
use crate::authz::scope::AuthzScope;
use crate::error::ArmError;

pub const NAMESPACE: &str = "Microsoft.Authorization";

/// The fixed path segments these routes add.
pub const WORDS: [&str; 4] = [
    NAMESPACE,
    "roleAssignments",
    "roleDefinitions",
    "checkAccess",
];

/// The scope of a route: `{scope:.*}` captured before `/providers/Microsoft.Authorization/…`,
/// or the tenant root for the routes without it.
pub fn scope_of(raw: Option<&str>, vocabulary: &PathVocabulary) -> Result<AuthzScope, ArmError> {
    match raw {
        None => Ok(AuthzScope::root()),
        Some(raw) => AuthzScope::parse(raw, vocabulary),
    }
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.configure(assignments::configure)
        .configure(definitions::configure)
        .configure(check_access::configure);
}
