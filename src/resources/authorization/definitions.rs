//! Role definition endpoints. Built-ins are readable everywhere and never writable; custom
//! roles answer 201 to every PUT (the spec lists only 201), 200 or 204 to DELETE.

use std::sync::Arc;

use actix_web::{HttpResponse, delete, get, put, web};

use super::scope_of;
use crate::arm::http::{ArmRequest, JsonBody};
use crate::arm::id::PathVocabulary;
use crate::authz::definitions::{
    self, ListFilter, RoleDefinitionList, RoleDefinitionView, RoleDefinitions, TYPE,
};
use crate::authz::scope::AuthzScope;
use crate::authz::{Ask, Authorizer, Rbac};
use crate::error::{ArmError, ErrorResponse};

pub const READ: &str = "Microsoft.Authorization/roleDefinitions/read";
pub const WRITE: &str = "Microsoft.Authorization/roleDefinitions/write";
pub const DELETE: &str = "Microsoft.Authorization/roleDefinitions/delete";

type Call = super::Call<RoleDefinitions>;
type At = super::At<RoleDefinitions>;

/// A write at the scope a route names: the api-version checked, then the scope parsed, then
/// the caller authorized for `action` there.
async fn write_scope(
    req: &ArmRequest,
    rbac: &Rbac,
    vocabulary: &PathVocabulary,
    raw: &str,
    action: &str,
) -> Result<AuthzScope, ArmError> {
    req.version_for(TYPE)?;
    let at = scope_of(Some(raw), vocabulary)?;
    rbac.authorize(Ask::new(&req.caller, action, at.target()))
        .await?;
    Ok(at)
}

async fn get_at(at: At, name: &str) -> Result<HttpResponse, ArmError> {
    at.checked(TYPE)?;
    at.authorize(READ).await?;
    let role = at.service.get(name)?;
    Ok(HttpResponse::Ok().json(definitions::render(&role, &at.scope)))
}

async fn list_at(at: At) -> Result<HttpResponse, ArmError> {
    at.checked(TYPE)?;
    let filter = ListFilter::parse(at.req.param("$filter"))?;
    at.authorize(READ).await?;
    Ok(HttpResponse::Ok().json(RoleDefinitionList {
        value: at.service.list(&at.scope, &filter),
    }))
}

scoped_and_root! {
    get
    get_role_definition(
        "/{scope:.*}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}",
        ("scope" = String, Path)
    ),
    get_root_role_definition("/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}"),
    openapi(tag = "RoleDefinitions",
        params(("roleDefinitionId" = String, Path), ("api-version" = String, Query)),
        responses((status = 200, body = RoleDefinitionView), (status = 404, body = ErrorResponse)))
    => get_at(name: String)
}

scoped_and_root! {
    get
    /// Built-in roles and the custom roles assignable at the scope; `$filter=roleName eq '…'` or
    /// `type eq 'BuiltInRole'|'CustomRole'`.
    list_role_definitions("/{scope:.*}/providers/Microsoft.Authorization/roleDefinitions", ("scope" = String, Path)),
    list_root_role_definitions("/providers/Microsoft.Authorization/roleDefinitions"),
    openapi(tag = "RoleDefinitions",
        params(("api-version" = String, Query), ("$filter" = Option<String>, Query)),
        responses((status = 200, body = RoleDefinitionList), (status = "4XX", body = ErrorResponse)))
    => list_at()
}

/// Creates or replaces a custom role.
#[utoipa::path(tag = "RoleDefinitions",
    params(("scope" = String, Path), ("roleDefinitionId" = String, Path), ("api-version" = String, Query)),
    request_body = RoleDefinitionView,
    responses((status = 201, body = RoleDefinitionView), (status = "4XX", body = ErrorResponse)))]
#[put("/{scope:.*}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}")]
pub async fn create_role_definition(
    (req, rbac, service): Call,
    path: web::Path<(String, String)>,
    body: JsonBody,
    vocabulary: web::Data<Arc<PathVocabulary>>,
) -> Result<HttpResponse, ArmError> {
    let at = write_scope(&req, &rbac, &vocabulary, &path.0, WRITE).await?;
    // A role offered at a scope is the business of whoever may write roles there.
    let offered = body.0["properties"]["assignableScopes"]
        .as_array()
        .map(|scopes| scopes.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>())
        .unwrap_or_default();
    for raw in offered {
        if let Ok(scope) = AuthzScope::parse(raw, &vocabulary) {
            rbac.authorize(Ask::new(&req.caller, WRITE, scope.target()))
                .await?;
        }
    }
    let view = service.put(&req.caller, &at, &path.1, &body.0).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Deletes a custom role: 200 with it, 204 when there was none, 409 while it is assigned.
#[utoipa::path(tag = "RoleDefinitions",
    params(("scope" = String, Path), ("roleDefinitionId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, body = RoleDefinitionView), (status = 204, description = "There was no such role"), (status = "4XX", body = ErrorResponse)))]
#[delete("/{scope:.*}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}")]
pub async fn delete_role_definition(
    (req, rbac, service): Call,
    path: web::Path<(String, String)>,
    vocabulary: web::Data<Arc<PathVocabulary>>,
) -> Result<HttpResponse, ArmError> {
    let at = write_scope(&req, &rbac, &vocabulary, &path.0, DELETE).await?;
    Ok(match service.delete(&at, &path.1).await? {
        Some(gone) => HttpResponse::Ok().json(gone),
        None => HttpResponse::NoContent().finish(),
    })
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_root_role_definition)
        .service(list_root_role_definitions)
        .service(get_role_definition)
        .service(list_role_definitions)
        .service(create_role_definition)
        .service(delete_role_definition);
}
