//! OpenID Connect discovery as Entra ID serves it, pointing at Kiln: the tenant's
//! configuration document, its signing keys, and MSAL's instance discovery.
//!
//! Not in the OpenAPI document, like the token endpoint: these are Entra ID's protocol.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::IdentityState;

fn origin(req: &HttpRequest, state: &IdentityState) -> String {
    state.origin(req)
}

/// The document for `tenant` (a tenant id, or `common`/`organizations`, whose issuer has
/// Entra ID's `{tenantid}` placeholder).
pub fn openid_configuration(origin: &str, tenant: &str, signing_algorithm: &str) -> Value {
    let issuer_tenant = match tenant.to_ascii_lowercase().as_str() {
        "common" | "organizations" | "consumers" => "{tenantid}".to_owned(),
        _ => tenant.to_owned(),
    };
    let host = origin.split("://").nth(1).unwrap_or(origin);
    json!({
        "token_endpoint": format!("{origin}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "jwks_uri": format!("{origin}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": [signing_algorithm],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{origin}/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{origin}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{origin}/{tenant}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{origin}/{tenant}/oauth2/v2.0/logout"),
        "http_logout_supported": false,
        "frontchannel_logout_supported": false,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "idtyp", "azp", "appid", "groups", "name", "ver"],
        "tenant_region_scope": null,
        "cloud_instance_name": host,
        "cloud_graph_host_name": host,
        "msgraph_host": host,
    })
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`, and the v1 path
/// `/{tenant}/.well-known/openid-configuration` (some MSAL paths ask for it); both answer the
/// v2 document, since Kiln has only the v2 token endpoint's protocol.
pub async fn get_openid_configuration(
    req: HttpRequest,
    tenant: web::Path<String>,
    state: web::Data<IdentityState>,
) -> HttpResponse {
    HttpResponse::Ok().json(openid_configuration(
        &origin(&req, &state),
        &tenant,
        "ES256",
    ))
}

/// `GET /{tenant}/discovery/v2.0/keys` (and `/{tenant}/discovery/keys`): Kiln's public keys.
pub async fn get_keys(state: web::Data<IdentityState>) -> HttpResponse {
    HttpResponse::Ok().json(state.keys.jwks())
}

#[derive(Debug, Deserialize)]
pub struct InstanceQuery {
    authorization_endpoint: Option<String>,
}

/// `GET /common/discovery/instance`: MSAL's check that an authority is an Entra ID instance.
/// Kiln vouches for itself only: the tenant discovery endpoint it names is always Kiln's.
pub async fn get_instance_discovery(
    req: HttpRequest,
    query: web::Query<InstanceQuery>,
    state: web::Data<IdentityState>,
) -> HttpResponse {
    let origin = origin(&req, &state);
    // The tenant is the first path segment of the authorization endpoint asked about.
    let tenant = query
        .authorization_endpoint
        .as_deref()
        .and_then(|e| url::Url::parse(e).ok())
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next().map(str::to_owned))
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "common".into());
    let host = origin.split("://").nth(1).unwrap_or(&origin).to_owned();
    HttpResponse::Ok().json(json!({
        "tenant_discovery_endpoint": format!("{origin}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": [host],
        }],
    }))
}
