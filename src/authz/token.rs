//! Bearer tokens: HS256 with the dev key for the embedded default, shaped like Entra ID v2
//! access tokens (`iss = {base}/{tid}/v2.0`, `aud`, `oid`, `tid`).

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ArmError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PrincipalType {
    User,
    ServicePrincipal,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal_id: String,
    pub tenant_id: String,
    /// What systemData shows: the UPN or name, else the object id.
    pub display_name: String,
    pub principal_type: PrincipalType,
    pub groups: Vec<String>,
}

impl Caller {
    /// systemData's `createdByType`.
    pub fn system_data_type(&self) -> &'static str {
        match self.principal_type {
            PrincipalType::User => "User",
            PrincipalType::ServicePrincipal => "Application",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    pub tid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// `user` or `app`, as Entra ID's optional `idtyp` claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idtyp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// Mints dev tokens (`kiln token`, tests).
pub struct TokenIssuer {
    key: EncodingKey,
    pub audience: String,
}

impl TokenIssuer {
    pub fn new(dev_key: &[u8], audience: &str) -> Self {
        Self {
            key: EncodingKey::from_secret(dev_key),
            audience: audience.to_owned(),
        }
    }

    pub fn mint(
        &self,
        issuer_base: &str,
        tenant_id: &str,
        principal_id: &str,
        name: &str,
        lifetime_secs: i64,
    ) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: format!("{}/{}/v2.0", issuer_base.trim_end_matches('/'), tenant_id),
            aud: self.audience.clone(),
            sub: principal_id.to_owned(),
            oid: Some(principal_id.to_owned()),
            tid: tenant_id.to_owned(),
            iat: now,
            nbf: now - 5,
            exp: now + lifetime_secs,
            name: Some(name.to_owned()),
            upn: None,
            idtyp: Some("user".into()),
            groups: vec![],
        };
        // Encoding with an HMAC key cannot fail for a serializable claim set.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key).unwrap_or_default()
    }
}

/// Checks bearer tokens. Shared as app data.
pub struct TokenValidator {
    key: DecodingKey,
    audience: String,
    /// Issuer origins accepted besides the origin the request came in on.
    extra_origins: Vec<String>,
}

impl TokenValidator {
    pub fn new(dev_key: &[u8], audience: &str, extra_origins: Vec<String>) -> Self {
        let extra_origins = extra_origins
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect();
        Self {
            key: DecodingKey::from_secret(dev_key),
            audience: audience.to_owned(),
            extra_origins,
        }
    }

    /// Validates a raw `Authorization` header value. `request_origin` is `scheme://host`.
    pub fn validate(&self, header: Option<&str>, request_origin: &str) -> Result<Caller, ArmError> {
        let Some(header) = header else {
            return Err(ArmError::unauthenticated(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            ));
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ArmError::unauthenticated(
                    "InvalidAuthenticationToken",
                    "The access token is invalid: the 'Authorization' header must be 'Bearer <token>'.",
                )
            })?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[self.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.key, &validation).map_err(|err| {
                use jsonwebtoken::errors::ErrorKind;
                let (code, why) = match err.kind() {
                    ErrorKind::ExpiredSignature => {
                        ("ExpiredAuthenticationToken", "the token has expired")
                    }
                    ErrorKind::ImmatureSignature => {
                        ("InvalidAuthenticationToken", "the token is not valid yet")
                    }
                    ErrorKind::InvalidAudience => (
                        "InvalidAuthenticationTokenAudience",
                        "the token audience is not accepted",
                    ),
                    ErrorKind::InvalidSignature => (
                        "InvalidAuthenticationToken",
                        "the token signature is invalid",
                    ),
                    ErrorKind::InvalidAlgorithm => (
                        "InvalidAuthenticationToken",
                        "the token algorithm is not accepted",
                    ),
                    _ => ("InvalidAuthenticationToken", "the token is malformed"),
                };
                ArmError::unauthenticated(code, format!("The access token is invalid: {why}."))
            })?;
        let claims = data.claims;
        let expected_suffix = format!("/{}/v2.0", claims.tid);
        let issuer_ok = claims
            .iss
            .strip_suffix(&expected_suffix)
            .is_some_and(|origin| {
                origin.eq_ignore_ascii_case(request_origin)
                    || self
                        .extra_origins
                        .iter()
                        .any(|o| o.eq_ignore_ascii_case(origin))
            });
        if !issuer_ok {
            return Err(ArmError::unauthenticated(
                "InvalidAuthenticationTokenIssuer",
                format!("The access token issuer '{}' is not accepted.", claims.iss),
            ));
        }
        let principal_id = claims.oid.clone().unwrap_or_else(|| claims.sub.clone());
        let principal_type = match claims.idtyp.as_deref() {
            Some("app") => PrincipalType::ServicePrincipal,
            _ => PrincipalType::User,
        };
        Ok(Caller {
            display_name: claims
                .upn
                .or(claims.name)
                .unwrap_or_else(|| principal_id.clone()),
            principal_id,
            tenant_id: claims.tid,
            principal_type,
            groups: claims.groups,
        })
    }
}

/// `scheme://host` of the request as the client addressed it.
pub fn request_origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

impl FromRequest for Caller {
    type Error = ArmError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(validator) = req.app_data::<web::Data<Arc<TokenValidator>>>() else {
            return ready(Err(ArmError::internal(&"token validator not configured")));
        };
        let header = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        ready(validator.validate(header, &request_origin(req)))
    }
}
