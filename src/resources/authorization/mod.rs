//! Microsoft.Authorization: role assignments and role definitions (extension resources at any
//! scope) and the tenant-level checkAccess data planes ask.

/// Declares one verb's pair of routes: at a scope (`/{scope:.*}/providers/…`) and at the
/// tenant root (`/providers/…`). Both are documented alike but for the `scope` parameter and
/// answered by one `$imp(at, [&name,] args…)`, `name` the item the path names (none
/// for a list). The scope is parsed in the handler, after the extractors, as a bad body
/// answers before a bad scope.
macro_rules! scoped_and_root {
    (
        $method:ident
        $(#[doc = $scoped_doc:literal])* $scoped:ident($scoped_path:literal, $scope_param:tt),
        $(#[doc = $root_doc:literal])* $root:ident($root_path:literal),
        openapi(tag = $tag:literal, params($($param:tt),*) $($openapi:tt)*)
        => $imp:ident($($name:ident: $name_ty:ty)? $(; $arg:ident: $ty:ty)*)
    ) => {
        $(#[doc = $scoped_doc])*
        #[utoipa::path(tag = $tag, params($scope_param, $($param),*) $($openapi)*)]
        #[$method($scoped_path)]
        pub async fn $scoped(
            call: Call,
            path: actix_web::web::Path<(String, $($name_ty)?)>,
            $($arg: $ty,)*
            vocabulary: actix_web::web::Data<std::sync::Arc<$crate::arm::id::PathVocabulary>>,
        ) -> Result<actix_web::HttpResponse, $crate::error::ArmError> {
            let (raw, $($name)?) = path.into_inner();
            let scope = $crate::resources::authorization::scope_of(Some(&raw), &vocabulary)?;
            $imp($crate::resources::authorization::At::new(call, scope), $(&$name,)? $($arg),*).await
        }

        $(#[doc = $root_doc])*
        #[utoipa::path(tag = $tag, params($($param),*) $($openapi)*)]
        #[$method($root_path)]
        pub async fn $root(
            call: Call,
            $($name: actix_web::web::Path<$name_ty>,)?
            $($arg: $ty,)*
        ) -> Result<actix_web::HttpResponse, $crate::error::ArmError> {
            let scope = $crate::authz::scope::AuthzScope::root();
            $imp($crate::resources::authorization::At::new(call, scope), $(&$name,)? $($arg),*).await
        }
    };
}

pub mod assignments;
pub mod check_access;
pub mod definitions;
pub mod removal;

use std::sync::Arc;

use actix_web::web;

use crate::arm::http::ArmRequest;
use crate::arm::id::PathVocabulary;
use crate::authz::scope::AuthzScope;
use crate::authz::{Ask, Authorizer, Rbac};
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

/// What every handler extracts (actix extracts a tuple in order): the request, the authorizer
/// and `S`, the type's domain service.
pub type Call<S> = (ArmRequest, web::Data<Arc<Rbac>>, web::Data<S>);

/// A call at the scope its route names: what each verb's implementation is handed.
pub struct At<S: 'static> {
    pub req: ArmRequest,
    pub rbac: web::Data<Arc<Rbac>>,
    pub service: web::Data<S>,
    pub scope: AuthzScope,
}

impl<S> At<S> {
    pub fn new((req, rbac, service): Call<S>, scope: AuthzScope) -> Self {
        Self {
            req,
            rbac,
            service,
            scope,
        }
    }

    /// Refuses an api-version that `type_name` does not serve.
    pub fn checked(&self, type_name: &str) -> Result<(), ArmError> {
        self.req.version_for(type_name).map(drop)
    }

    /// Refuses a caller not allowed `action` at the scope.
    pub async fn authorize(&self, action: &str) -> Result<(), ArmError> {
        let ask = Ask::new(&self.req.caller, action, self.scope.target());
        self.rbac.authorize(ask).await.map(drop)
    }
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.configure(assignments::configure)
        .configure(definitions::configure)
        .configure(check_access::configure);
}
