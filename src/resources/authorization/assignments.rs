//! Role assignment endpoints: extract, authorize at the scope, call the domain, answer
//! (PUT 201 created / 200 replaced; DELETE 200 with the body, 204 when absent).

use std::sync::Arc;

use actix_web::{HttpResponse, delete, get, put, web};

use super::scope_of;
use crate::arm::api_versions;
use crate::arm::http::{ArmRequest, JsonBody};
use crate::arm::id::PathVocabulary;
use crate::authz::assignments::{
    self, AssignmentAttributes, ListFilter, RoleAssignment, RoleAssignmentList, RoleAssignments,
};
use crate::authz::scope::AuthzScope;
use crate::authz::{Authorizer, Rbac};
use crate::error::{ArmError, ErrorResponse};

pub const READ: &str = "Microsoft.Authorization/roleAssignments/read";
pub const WRITE: &str = "Microsoft.Authorization/roleAssignments/write";
pub const DELETE: &str = "Microsoft.Authorization/roleAssignments/delete";

fn checked(req: &ArmRequest) -> Result<(), ArmError> {
    api_versions::check_param(assignments::TYPE, req.param("api-version")).map(drop)
}

/// What every handler extracts (actix extracts a tuple in order).
type Call = (ArmRequest, web::Data<Arc<Rbac>>, web::Data<RoleAssignments>);

async fn put_at(
    (req, rbac, service): Call,
    scope: AuthzScope,
    name: &str,
    body: JsonBody,
) -> Result<HttpResponse, ArmError> {
    checked(&req)?;
    // The body first: conditions on roleAssignments/write (delegation: "any role but Owner")
    // look at the role, principal and principal type requested.
    let snapshot = service.policy.snapshot();
    let validated = assignments::validate(name, &scope, &body.0, |role| {
        snapshot
            .role(role)
            .is_some_and(|r| crate::authz::definitions::assignable_at(r, &scope.key))
    });
    let new = match validated {
        Ok(new) => new,
        Err(invalid) => {
            // Callers who may not write here learn nothing about the body.
            rbac.authorize(&req.caller, WRITE, scope.target()).await?;
            return Err(invalid);
        }
    };
    rbac.authorize_with(
        &req.caller,
        WRITE,
        scope.target(),
        &new.request_attributes(WRITE),
    )
    .await?;
    let written = service.put(&req.caller, new).await?;
    let status = if written.created { 201 } else { 200 };
    Ok(
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
            .json(written.assignment),
    )
}

async fn get_at(
    (req, rbac, service): Call,
    scope: AuthzScope,
    name: &str,
) -> Result<HttpResponse, ArmError> {
    checked(&req)?;
    rbac.authorize(&req.caller, READ, scope.target()).await?;
    Ok(HttpResponse::Ok().json(service.get(&scope, name).await?))
}

async fn delete_at(
    (req, rbac, service): Call,
    scope: AuthzScope,
    name: &str,
) -> Result<HttpResponse, ArmError> {
    checked(&req)?;
    // An assignment that is there is deleted with its attributes (`@Resource[…]`), which the
    // conditions of delegating roles test; an absent one needs the plain action.
    match service.get(&scope, name).await {
        Ok(existing) => {
            let attributes = AssignmentAttributes::of_stored(DELETE, &existing);
            rbac.authorize_with(&req.caller, DELETE, scope.target(), &attributes)
                .await?;
        }
        Err(_) => {
            rbac.authorize(&req.caller, DELETE, scope.target()).await?;
        }
    }
    Ok(match service.delete(&scope, name).await? {
        Some(gone) => HttpResponse::Ok().json(gone),
        None => HttpResponse::NoContent().finish(),
    })
}

async fn list_at((req, rbac, service): Call, scope: AuthzScope) -> Result<HttpResponse, ArmError> {
    checked(&req)?;
    let filter = ListFilter::parse(req.param("$filter"))?;
    rbac.authorize(&req.caller, READ, scope.target()).await?;
    let walk = rbac.walk(&scope.target()).await?;
    let value = service.list(&scope, &walk, &filter).await?;
    Ok(HttpResponse::Ok().json(RoleAssignmentList { value }))
}

fn parse(vocabulary: &PathVocabulary, raw: Option<&str>) -> Result<AuthzScope, ArmError> {
    scope_of(raw, vocabulary)
}

/// Creates (201) or replaces (200) a role assignment at a scope.
#[utoipa::path(tag = "RoleAssignments",
    params(("scope" = String, Path, description = "subscriptions/{s}[/resourceGroups/{rg}[/providers/…]]"), ("roleAssignmentName" = String, Path), ("api-version" = String, Query)),
    request_body = RoleAssignment,
    responses((status = 201, body = RoleAssignment), (status = 200, body = RoleAssignment), (status = "4XX", body = ErrorResponse)))]
#[put("/{scope:.*}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}")]
pub async fn create_role_assignment(
    call: Call,
    path: web::Path<(String, String)>,
    body: JsonBody,
    vocabulary: web::Data<Arc<PathVocabulary>>,
) -> Result<HttpResponse, ArmError> {
    let scope = parse(&vocabulary, Some(&path.0))?;
    put_at(call, scope, &path.1, body).await
}

/// Creates or replaces a role assignment at the tenant root.
#[utoipa::path(tag = "RoleAssignments",
    params(("roleAssignmentName" = String, Path), ("api-version" = String, Query)),
    request_body = RoleAssignment,
    responses((status = 201, body = RoleAssignment), (status = 200, body = RoleAssignment), (status = "4XX", body = ErrorResponse)))]
#[put("/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}")]
pub async fn create_root_role_assignment(
    call: Call,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ArmError> {
    put_at(call, AuthzScope::root(), &path, body).await
}

#[utoipa::path(tag = "RoleAssignments",
    params(("scope" = String, Path), ("roleAssignmentName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, body = RoleAssignment), (status = 404, body = ErrorResponse)))]
#[get("/{scope:.*}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}")]
pub async fn get_role_assignment(
    call: Call,
    path: web::Path<(String, String)>,
    vocabulary: web::Data<Arc<PathVocabulary>>,
) -> Result<HttpResponse, ArmError> {
    let scope = parse(&vocabulary, Some(&path.0))?;
    get_at(call, scope, &path.1).await
}

#[utoipa::path(tag = "RoleAssignments",
    params(("roleAssignmentName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, body = RoleAssignment), (status = 404, body = ErrorResponse)))]
#[get("/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}")]
pub async fn get_root_role_assignment(
    call: Call,
    path: web::Path<String>,
) -> Result<HttpResponse, ArmError> {
    get_at(call, AuthzScope::root(), &path).await
}

/// Deletes a role assignment: 200 with what was deleted, 204 when there was none.
#[utoipa::path(tag = "RoleAssignments",
    params(("scope" = String, Path), ("roleAssignmentName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, body = RoleAssignment), (status = 204, description = "There was no such assignment")))]
#[delete("/{scope:.*}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}")]
pub async fn delete_role_assignment(
    call: Call,
    path: web::Path<(String, String)>,
    vocabulary: web::Data<Arc<PathVocabulary>>,
) -> Result<HttpResponse, ArmError> {
    let scope = parse(&vocabulary, Some(&path.0))?;
    delete_at(call, scope, &path.1).await
}

#[utoipa::path(tag = "RoleAssignments",
    params(("roleAssignmentName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, body = RoleAssignment), (status = 204, description = "There was no such assignment")))]
#[delete("/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}")]
pub async fn delete_root_role_assignment(
    call: Call,
    path: web::Path<String>,
) -> Result<HttpResponse, ArmError> {
    delete_at(call, AuthzScope::root(), &path).await
}

/// Assignments at, above and below a scope; `$filter=atScope()` (at or above) or
/// `principalId eq '{id}'`. One page: every match.
#[utoipa::path(tag = "RoleAssignments",
    params(("scope" = String, Path), ("api-version" = String, Query), ("$filter" = Option<String>, Query)),
    responses((status = 200, body = RoleAssignmentList), (status = "4XX", body = ErrorResponse)))]
#[get("/{scope:.*}/providers/Microsoft.Authorization/roleAssignments")]
pub async fn list_role_assignments(
    call: Call,
    path: web::Path<String>,
    vocabulary: web::Data<Arc<PathVocabulary>>,
) -> Result<HttpResponse, ArmError> {
    let scope = parse(&vocabulary, Some(&path))?;
    list_at(call, scope).await
}

#[utoipa::path(tag = "RoleAssignments",
    params(("api-version" = String, Query), ("$filter" = Option<String>, Query)),
    responses((status = 200, body = RoleAssignmentList), (status = "4XX", body = ErrorResponse)))]
#[get("/providers/Microsoft.Authorization/roleAssignments")]
pub async fn list_root_role_assignments(call: Call) -> Result<HttpResponse, ArmError> {
    list_at(call, AuthzScope::root()).await
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_root_role_assignment)
        .service(get_root_role_assignment)
        .service(delete_root_role_assignment)
        .service(list_root_role_assignments)
        .service(create_role_assignment)
        .service(get_role_assignment)
        .service(delete_role_assignment)
        .service(list_role_assignments);
}
