//! Role assignment endpoints: extract, authorize at the scope, call the domain, answer
//! (PUT 201 created / 200 replaced; DELETE 200 with the body, 204 when absent).

use actix_web::{HttpResponse, delete, get, put};

use crate::arm::http::JsonBody;
use crate::authz::Ask;
use crate::authz::assignments::{
    self, AssignmentAttributes, ListFilter, RoleAssignment, RoleAssignmentList, RoleAssignments,
    TYPE,
};
use crate::error::{ArmError, ErrorResponse, read_on_a_live_connection};

pub const READ: &str = "Microsoft.Authorization/roleAssignments/read";
pub const WRITE: &str = "Microsoft.Authorization/roleAssignments/write";
pub const DELETE: &str = "Microsoft.Authorization/roleAssignments/delete";

type Call = super::Call<RoleAssignments>;
type At = super::At<RoleAssignments>;

async fn put_at(at: At, name: &str, body: JsonBody) -> Result<HttpResponse, ArmError> {
    at.checked(TYPE)?;
    // The body first: conditions on roleAssignments/write (delegation: "any role but Owner")
    // look at the role, principal and principal type requested.
    let scope = &at.scope;
    let snapshot = at.service.policy.snapshot();
    let validated = assignments::validate(name, scope, &body.0, |role| {
        snapshot
            .role(role)
            .is_some_and(|r| crate::authz::definitions::assignable_at(r, &scope.key))
    });
    let new = match validated {
        Ok(new) => new,
        Err(invalid) => {
            // Callers who may not write here learn nothing about the body.
            at.authorize(WRITE).await?;
            return Err(invalid);
        }
    };
    at.rbac
        .authorize_with(
            Ask::new(&at.req.caller, WRITE, scope.target()),
            &new.request_attributes(WRITE),
        )
        .await?;
    let written = at.service.put(&at.req.caller, new).await?;
    let status = if written.created { 201 } else { 200 };
    Ok(
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
            .json(written.assignment),
    )
}

async fn get_at(at: At, name: &str) -> Result<HttpResponse, ArmError> {
    at.checked(TYPE)?;
    at.authorize(READ).await?;
    let assignment = read_on_a_live_connection(|| at.service.get(&at.scope, name)).await?;
    Ok(HttpResponse::Ok().json(assignment))
}

async fn delete_at(at: At, name: &str) -> Result<HttpResponse, ArmError> {
    at.checked(TYPE)?;
    // An assignment that is there is deleted with its attributes (`@Resource[…]`), which the
    // conditions of delegating roles test; an absent one needs the plain action.
    match at.service.get(&at.scope, name).await {
        Ok(existing) => {
            let attributes = AssignmentAttributes::of_stored(DELETE, &existing);
            at.rbac
                .authorize_with(
                    Ask::new(&at.req.caller, DELETE, at.scope.target()),
                    &attributes,
                )
                .await?;
        }
        Err(_) => at.authorize(DELETE).await?,
    }
    Ok(match at.service.delete(&at.scope, name).await? {
        Some(gone) => HttpResponse::Ok().json(gone),
        None => HttpResponse::NoContent().finish(),
    })
}

async fn list_at(at: At) -> Result<HttpResponse, ArmError> {
    at.checked(TYPE)?;
    let filter = ListFilter::parse(at.req.param("$filter"))?;
    at.authorize(READ).await?;
    let walk = at.rbac.walk(&at.scope.target()).await?;
    let value = read_on_a_live_connection(|| at.service.list(&at.scope, &walk, &filter)).await?;
    Ok(HttpResponse::Ok().json(RoleAssignmentList { value }))
}

scoped_and_root! {
    put
    /// Creates (201) or replaces (200) a role assignment at a scope.
    create_role_assignment(
        "/{scope:.*}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}",
        ("scope" = String, Path, description = "subscriptions/{s}[/resourceGroups/{rg}[/providers/…]]")
    ),
    /// Creates or replaces a role assignment at the tenant root.
    create_root_role_assignment("/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}"),
    openapi(tag = "RoleAssignments",
        params(("roleAssignmentName" = String, Path), ("api-version" = String, Query)),
        request_body = RoleAssignment,
        responses((status = 201, body = RoleAssignment), (status = 200, body = RoleAssignment), (status = "4XX", body = ErrorResponse)))
    => put_at(name: String; body: JsonBody)
}

scoped_and_root! {
    get
    get_role_assignment(
        "/{scope:.*}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}",
        ("scope" = String, Path)
    ),
    get_root_role_assignment("/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}"),
    openapi(tag = "RoleAssignments",
        params(("roleAssignmentName" = String, Path), ("api-version" = String, Query)),
        responses((status = 200, body = RoleAssignment), (status = 404, body = ErrorResponse)))
    => get_at(name: String)
}

scoped_and_root! {
    delete
    /// Deletes a role assignment: 200 with what was deleted, 204 when there was none.
    delete_role_assignment(
        "/{scope:.*}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}",
        ("scope" = String, Path)
    ),
    delete_root_role_assignment("/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}"),
    openapi(tag = "RoleAssignments",
        params(("roleAssignmentName" = String, Path), ("api-version" = String, Query)),
        responses((status = 200, body = RoleAssignment), (status = 204, description = "There was no such assignment")))
    => delete_at(name: String)
}

scoped_and_root! {
    get
    /// Assignments at, above and below a scope; `$filter=atScope()` (at or above) or
    /// `principalId eq '{id}'`. One page: every match.
    list_role_assignments("/{scope:.*}/providers/Microsoft.Authorization/roleAssignments", ("scope" = String, Path)),
    list_root_role_assignments("/providers/Microsoft.Authorization/roleAssignments"),
    openapi(tag = "RoleAssignments",
        params(("api-version" = String, Query), ("$filter" = Option<String>, Query)),
        responses((status = 200, body = RoleAssignmentList), (status = "4XX", body = ErrorResponse)))
    => list_at()
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
