//! The OAuth 2.0 client-credentials token endpoint, answering as Entra ID does so that MSAL
//! (azure-identity, az) and Terraform's go-azure-sdk can sign in to Kiln unmodified:
//! `POST /{tenant}/oauth2/v2.0/token` (and the v1 path `/{tenant}/oauth2/token`, which takes
//! `resource` instead of `scope`).
//!
//! Not in the OpenAPI document: it is Entra ID's protocol, not an ARM API, and its clients
//! (MSAL and friends) never read Kiln's spec.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use thiserror::Error;

use super::IdentityState;
use super::issuer::Claims;
use super::service_principals::{self, ClientAuthError};

/// Lifetime of an access token, as Entra ID reports it (`expires_in`).
pub const TOKEN_LIFETIME_SECS: i64 = 3599;

/// The token endpoint's errors, with Entra ID's `error` and `AADSTS` codes.
#[derive(Debug, Error)]
pub enum TokenError {
    #[error("AADSTS70003: The app requested an unsupported grant type '{0}'.")]
    UnsupportedGrantType(String),
    #[error("AADSTS900144: The request body must contain the following parameter: '{0}'.")]
    MissingParameter(&'static str),
    #[error(
        "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
    )]
    MissingSecret,
    #[error(
        "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
    )]
    UnknownClient { client_id: String, tenant: String },
    #[error(
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{0}'."
    )]
    BadSecret(String),
    #[error(
        "AADSTS1002012: The provided value for scope {0} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
    )]
    InvalidScope(String),
    #[error(
        "AADSTS500011: The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
    )]
    UnknownResource { resource: String, tenant: String },
    #[error("AADSTS50000: There was an error issuing a token.")]
    Internal,
    /// The database is away for a moment: a 503 the client retries, never a 500 that MSAL
    /// caches as a failed sign-in.
    #[error("AADSTS90033: A transient error has occurred. Please try again.")]
    Unavailable,
    #[error(
        "AADSTS50053: The account is locked because of too many sign-in attempts with a wrong secret. Try again in {0} seconds."
    )]
    Throttled(u64),
}

impl TokenError {
    fn error(&self) -> &'static str {
        match self {
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::MissingParameter(_) => "invalid_request",
            Self::MissingSecret | Self::BadSecret(_) => "invalid_client",
            Self::UnknownClient { .. } => "unauthorized_client",
            Self::InvalidScope(_) => "invalid_scope",
            Self::UnknownResource { .. } => "invalid_resource",
            Self::Internal => "server_error",
            Self::Throttled(_) | Self::Unavailable => "temporarily_unavailable",
        }
    }

    fn code(&self) -> u32 {
        match self {
            Self::UnsupportedGrantType(_) => 70003,
            Self::MissingParameter(_) => 900144,
            Self::MissingSecret => 7000218,
            Self::UnknownClient { .. } => 700016,
            Self::BadSecret(_) => 7000215,
            Self::InvalidScope(_) => 1002012,
            Self::UnknownResource { .. } => 500011,
            Self::Internal => 50000,
            Self::Throttled(_) => 50053,
            Self::Unavailable => 90033,
        }
    }
}

impl ResponseError for TokenError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingSecret | Self::BadSecret(_) => StatusCode::UNAUTHORIZED,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let trace_id = uuid::Uuid::new_v4();
        let correlation_id = uuid::Uuid::new_v4();
        let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ");
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header(("cache-control", "no-store, no-cache"));
        match self {
            Self::Throttled(seconds) => {
                response.insert_header(("retry-after", seconds.to_string()));
            }
            Self::Unavailable => {
                response.insert_header(("retry-after", "1"));
            }
            _ => {}
        }
        response
            .json(json!({
                "error": self.error(),
                "error_description": format!("{self} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"),
                "error_codes": [self.code()],
                "timestamp": timestamp.to_string(),
                "trace_id": trace_id,
                "correlation_id": correlation_id,
            }))
    }
}

impl From<ClientAuthError> for TokenError {
    fn from(err: ClientAuthError) -> Self {
        match err {
            ClientAuthError::UnknownClient { client_id, tenant } => {
                Self::UnknownClient { client_id, tenant }
            }
            ClientAuthError::BadSecret => Self::Internal,
            ClientAuthError::Database(err) if crate::store::transient::is_transient(&err) => {
                tracing::warn!(error = %err, "token endpoint: database unavailable");
                Self::Unavailable
            }
            ClientAuthError::Database(err) => {
                tracing::error!(error = %err, "token endpoint: database");
                Self::Internal
            }
        }
    }
}

/// The form fields of a token request.
struct TokenRequest {
    fields: Vec<(String, String)>,
}

impl TokenRequest {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// `client_secret_basic`: `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// `{resource}/.default` → the resource; the v1 endpoint's `resource` is taken as it is.
fn requested_resource(form: &TokenRequest) -> Result<String, TokenError> {
    if let Some(scope) = form.field("scope") {
        let resource_scopes: Vec<&str> = scope
            .split_whitespace()
            .filter(|s| !matches!(*s, "openid" | "profile" | "offline_access" | "email"))
            .collect();
        return match resource_scopes.as_slice() {
            [one] => one
                .strip_suffix(".default")
                .map(str::to_owned)
                .ok_or_else(|| TokenError::InvalidScope(scope.to_owned())),
            _ => Err(TokenError::InvalidScope(scope.to_owned())),
        };
    }
    form.field("resource")
        .map(str::to_owned)
        .ok_or(TokenError::MissingParameter("scope"))
}

/// Issues an access token to a service principal for its client id and secret.
pub async fn issue_token(
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Bytes,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse, TokenError> {
    let tenant = tenant.into_inner();
    let form = TokenRequest {
        fields: url::form_urlencoded::parse(&body).into_owned().collect(),
    };
    match form.field("grant_type") {
        Some("client_credentials") => {}
        Some(other) => return Err(TokenError::UnsupportedGrantType(other.to_owned())),
        None => return Err(TokenError::MissingParameter("grant_type")),
    }
    let (client_id, secret) = match basic_credentials(&req) {
        Some(pair) => pair,
        None => {
            let client_id = form
                .field("client_id")
                .ok_or(TokenError::MissingParameter("client_id"))?;
            let secret = form
                .field("client_secret")
                .ok_or(TokenError::MissingSecret)?;
            (client_id.to_owned(), secret.to_owned())
        }
    };
    let resource = requested_resource(&form)?;
    let base = state.origin(&req);
    // The audience, or Kiln's own URL: azure-ai-ml asks for `{resourceManager}/.default`,
    // the Resource Manager endpoint of the cloud metadata, which is Kiln. Either way the token
    // carries the audience Kiln checks.
    if !same_resource(&resource, &state.audience) && !same_resource(&resource, &base) {
        return Err(TokenError::UnknownResource { resource, tenant });
    }
    // The peer address, not a forwarded-for header a client could write.
    let source = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    if let Some(wait) = state.sign_ins.retry_after(&client_id, &source) {
        tracing::warn!(client_id = %client_id, source = %source, "sign-in refused: too many failed attempts");
        return Err(TokenError::Throttled(wait.as_secs().max(1)));
    }
    let authenticated =
        service_principals::authenticate(&state.db, &tenant, &client_id, &secret).await;
    let principal = match authenticated {
        Ok(principal) => principal,
        Err(err) => {
            let err = match err {
                ClientAuthError::BadSecret => TokenError::BadSecret(client_id.clone()),
                other => TokenError::from(other),
            };
            if !matches!(err, TokenError::Internal | TokenError::Unavailable) {
                // Never the secret: who, from where, and why.
                tracing::warn!(client_id = %client_id, source = %source, tenant = %tenant, code = err.code(), "failed sign-in");
                state.sign_ins.failed(&client_id, &source);
            }
            return Err(err);
        }
    };
    let mut claims = Claims::new(
        &base,
        &state.audience,
        &principal.tenant_id,
        &principal.object_id,
        TOKEN_LIFETIME_SECS + 1,
    );
    claims.idtyp = Some("app".into());
    claims.appid = Some(principal.app_id.clone());
    claims.azp = Some(principal.app_id.clone());
    claims.app_displayname = Some(principal.display_name.clone());
    let token = state.keys.sign(&claims).map_err(|err| {
        tracing::error!(error = %err, "token endpoint: signing");
        TokenError::Internal
    })?;
    tracing::info!(client_id = %principal.app_id, object_id = %principal.object_id, "issued an access token");
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store, no-cache"))
        .insert_header(("pragma", "no-cache"))
        .json(json!({
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECS,
            "ext_expires_in": TOKEN_LIFETIME_SECS,
            "access_token": token,
        })))
}

/// Resource identifiers compared as Entra ID does: case-insensitive, trailing `/` ignored
/// (Terraform asks for `https://management.azure.com//.default`).
fn same_resource(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> TokenRequest {
        TokenRequest {
            fields: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn the_resource_is_the_default_scope_without_its_suffix() {
        let resource = |pairs: &[(&str, &str)]| requested_resource(&form(pairs)).ok();
        assert_eq!(
            resource(&[("scope", "https://management.azure.com/.default")]).as_deref(),
            Some("https://management.azure.com/")
        );
        assert_eq!(
            resource(&[(
                "scope",
                "https://management.azure.com//.default offline_access"
            )])
            .as_deref(),
            Some("https://management.azure.com//")
        );
        assert_eq!(
            resource(&[("resource", "https://management.core.windows.net/")]).as_deref(),
            Some("https://management.core.windows.net/")
        );
        assert!(
            resource(&[("scope", "https://management.azure.com/user_impersonation")]).is_none()
        );
        assert!(resource(&[]).is_none());
        assert!(same_resource(
            "https://management.azure.com//",
            "https://management.azure.com/"
        ));
    }
}
