//! Bearer token validation: signature, issuer, audience, expiry and not-before.
//!
//! Three kinds of signer, told apart by the token's `alg` and `kid`:
//! - the dev key (HS256), for `kiln token` and the embedded default;
//! - Kiln's own ES256 keys (tokens from the client-credentials endpoint);
//! - an external identity provider's RS256/ES256 keys from `KILN_JWKS`.
//!
//! Tokens Kiln signs (the first two) must carry the issuer `{origin}/{tid}/v2.0` for an origin
//! Kiln serves; tokens of the external provider an issuer listed in `KILN_JWT_ISSUER`, where
//! `{tenantid}` stands for the token's `tid` (as in Entra ID's multi-tenant discovery document).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sea_orm::DatabaseConnection;
use thiserror::Error;

use super::caller::Caller;
use super::jwks::ExternalKeys;
use super::principal::TokenClaims;
use super::signing_keys::SigningKeys;
use crate::error::{ArmError, ErrorCode};
use crate::secrets::MasterKeys;

/// The longest a token may still be valid for: Entra ID's access tokens live 60-90 minutes
/// and at most a day; a token valid for longer was not issued by a provider we trust.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;

/// Why a bearer token was refused. Every variant is a 401.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("the 'Authorization' header is missing")]
    Missing,
    #[error("the 'Authorization' header must be 'Bearer <token>'")]
    NotBearer,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token algorithm '{0}' is not accepted")]
    Algorithm(String),
    #[error("the token is signed with an unknown key (kid '{0}')")]
    UnknownKey(String),
    #[error("the token signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token audience is not accepted")]
    Audience,
    #[error("the token issuer '{0}' is not accepted")]
    Issuer(String),
    #[error("the token has no '{0}' claim")]
    MissingClaim(&'static str),
    #[error("the token header marks extensions critical that Kiln does not understand")]
    Critical,
    #[error("the token is valid for longer than {MAX_TOKEN_LIFETIME_SECS} seconds")]
    TooLong,
}

/// RFC 7515 §4.1.11: a `crit` header lists extensions the recipient must understand; Kiln
/// understands none, so any `crit` is refused.
fn has_crit(token: &str) -> bool {
    let Some(header) = token.split('.').next() else {
        return false;
    };
    URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .is_some_and(|h| h.get("crit").is_some())
}

impl From<AuthError> for ArmError {
    fn from(err: AuthError) -> Self {
        let code = match &err {
            AuthError::Missing => {
                return ArmError::unauthenticated(
                    ErrorCode::AuthenticationFailed,
                    "Authentication failed. The 'Authorization' header is missing.",
                );
            }
            AuthError::Expired => ErrorCode::ExpiredAuthenticationToken,
            AuthError::Audience => ErrorCode::InvalidAuthenticationTokenAudience,
            AuthError::Issuer(_) => ErrorCode::InvalidAuthenticationTokenIssuer,
            _ => ErrorCode::InvalidAuthenticationToken,
        };
        ArmError::unauthenticated(code, format!("The access token is invalid: {err}."))
    }
}

/// Who signed a token, which decides the issuer rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signer {
    Kiln,
    External,
}

/// Checks bearer tokens. Shared as app data.
pub struct TokenValidator {
    /// `None` when dev tokens are off (`KILN_DEV_TOKENS=false`).
    dev_key: Option<DecodingKey>,
    audience: String,
    /// Origins Kiln's own issuer may name besides the one the request came in on.
    origins: Vec<String>,
    kiln_keys: Option<KilnKeys>,
    external: Option<ExternalProvider>,
}

/// Kiln's own keys, re-read from the database when a token names a key this replica has not
/// seen (another replica made it).
struct KilnKeys {
    keys: RwLock<Arc<SigningKeys>>,
    db: DatabaseConnection,
    master: Arc<MasterKeys>,
    last_read: tokio::sync::Mutex<Instant>,
    min_refresh: Duration,
}

struct ExternalProvider {
    keys: Arc<ExternalKeys>,
    issuers: Vec<String>,
}

impl TokenValidator {
    /// A validator accepting the dev key's tokens only.
    pub fn new(dev_key: Option<&[u8]>, audience: &str, extra_origins: Vec<String>) -> Self {
        let origins = extra_origins
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect();
        Self {
            dev_key: dev_key.map(DecodingKey::from_secret),
            audience: audience.to_owned(),
            origins,
            kiln_keys: None,
            external: None,
        }
    }

    /// Also accepts tokens signed with Kiln's own keys.
    pub fn with_kiln_keys(
        mut self,
        keys: Arc<SigningKeys>,
        db: DatabaseConnection,
        master: Arc<MasterKeys>,
        min_refresh: Duration,
    ) -> Self {
        self.kiln_keys = Some(KilnKeys {
            keys: RwLock::new(keys),
            db,
            master,
            last_read: tokio::sync::Mutex::new(Instant::now()),
            min_refresh,
        });
        self
    }

    /// Also accepts tokens of an external provider with one of `issuers`.
    pub fn with_external(mut self, keys: Arc<ExternalKeys>, issuers: Vec<String>) -> Self {
        let issuers = issuers
            .into_iter()
            .map(|i| i.trim().trim_end_matches('/').to_owned())
            .filter(|i| !i.is_empty())
            .collect();
        self.external = Some(ExternalProvider { keys, issuers });
        self
    }

    /// Validates a raw `Authorization` header value. `request_origin` is `scheme://host`.
    pub async fn validate(
        &self,
        header: Option<&str>,
        request_origin: &str,
    ) -> Result<Caller, AuthError> {
        let token = bearer(header)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| unreadable_header(token))?;
        if has_crit(token) {
            return Err(AuthError::Critical);
        }
        let (key, signer) = match header.alg {
            Algorithm::HS256 => match &self.dev_key {
                Some(key) => (key.clone(), Signer::Kiln),
                None => return Err(AuthError::Algorithm("HS256 (dev tokens are off)".into())),
            },
            Algorithm::RS256 | Algorithm::ES256 => {
                self.find_key(header.alg, header.kid.as_deref()).await?
            }
            other => return Err(AuthError::Algorithm(format!("{other:?}"))),
        };
        let mut validation = Validation::new(header.alg);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.leeway = LEEWAY_SECS;
        let claims = jsonwebtoken::decode::<TokenClaims>(token, &key, &validation)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidSignature => AuthError::Signature,
                ErrorKind::InvalidAlgorithm => AuthError::Algorithm(format!("{:?}", header.alg)),
                _ => AuthError::Malformed,
            })?
            .claims;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if claims
            .exp
            .is_some_and(|exp| exp > now + MAX_TOKEN_LIFETIME_SECS + LEEWAY_SECS)
        {
            return Err(AuthError::TooLong);
        }
        if !claims
            .audiences()
            .iter()
            .any(|aud| same_uri(aud, &self.audience))
        {
            return Err(AuthError::Audience);
        }
        let tid = match claims.tid.as_deref() {
            Some(tid) if !tid.is_empty() => tid,
            _ => return Err(AuthError::MissingClaim("tid")),
        };
        let issuer_ok = match signer {
            Signer::Kiln => self.kiln_issuer(&claims.iss, tid, request_origin),
            Signer::External => self.external.as_ref().is_some_and(|ext| {
                ext.issuers
                    .iter()
                    .any(|i| same_uri(&claims.iss, &i.replace("{tenantid}", tid)))
            }),
        };
        if !issuer_ok {
            return Err(AuthError::Issuer(claims.iss));
        }
        claims.into_caller()
    }

    /// `{origin}/{tid}/v2.0` for the request's origin or one Kiln serves.
    fn kiln_issuer(&self, iss: &str, tid: &str, request_origin: &str) -> bool {
        iss.strip_suffix(&format!("/{tid}/v2.0"))
            .is_some_and(|origin| {
                origin.eq_ignore_ascii_case(request_origin)
                    || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
            })
    }

    /// The key a token names. An unknown `kid` re-reads the key sources (rate-limited) once.
    async fn find_key(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<(DecodingKey, Signer), AuthError> {
        if let Some(found) = self.lookup(alg, kid) {
            return found;
        }
        let mut reread = false;
        if let Some(kiln) = &self.kiln_keys {
            reread |= kiln.reload().await;
        }
        if let Some(ext) = &self.external {
            reread |= ext.keys.refresh_for_unknown_key().await;
        }
        if reread && let Some(found) = self.lookup(alg, kid) {
            return found;
        }
        Err(AuthError::UnknownKey(kid.unwrap_or_default().to_owned()))
    }

    /// `None` when no key has the id (or, without an id, the algorithm); `Some(Err)` when the
    /// key is of another algorithm than the token says.
    fn lookup(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Option<Result<(DecodingKey, Signer), AuthError>> {
        let checked = |key_alg: Algorithm, key: &DecodingKey, signer| {
            if key_alg == alg {
                Ok((key.clone(), signer))
            } else {
                Err(AuthError::Algorithm(format!("{alg:?}")))
            }
        };
        if let (Some(kiln), Some(kid)) = (&self.kiln_keys, kid) {
            let keys = kiln.current();
            if let Some(key) = keys.public_key(kid) {
                return Some(checked(key.algorithm, &key.key, Signer::Kiln));
            }
        }
        let ext = self.external.as_ref()?;
        let keys = ext.keys.keys();
        let key = match kid {
            Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid))?,
            // A provider with a single key may leave `kid` out.
            None => keys.iter().find(|k| k.algorithm == alg)?,
        };
        Some(checked(key.algorithm, &key.key, Signer::External))
    }
}

impl KilnKeys {
    fn current(&self) -> Arc<SigningKeys> {
        self.keys
            .read()
            .map(|k| k.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Re-reads the keys from the database unless that happened within `min_refresh`.
    async fn reload(&self) -> bool {
        let mut last_read = self.last_read.lock().await;
        if last_read.elapsed() < self.min_refresh {
            return false;
        }
        *last_read = Instant::now();
        match SigningKeys::load(&self.db, &self.master).await {
            Ok(Some(keys)) => {
                if let Ok(mut slot) = self.keys.write() {
                    *slot = Arc::new(keys);
                }
                true
            }
            Ok(None) => false,
            Err(err) => {
                tracing::warn!(error = %err, "re-reading the signing keys failed");
                false
            }
        }
    }
}

fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = header.split_once(' ').ok_or(AuthError::NotBearer)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::NotBearer);
    }
    Ok(token)
}

/// The error for a header jsonwebtoken cannot read: an algorithm it does not know (`none`)
/// gets named, anything else is malformed.
fn unreadable_header(token: &str) -> AuthError {
    token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|h| h["alg"].as_str().map(str::to_owned))
        .map_or(AuthError::Malformed, AuthError::Algorithm)
}

/// URIs compared as Entra does audiences and issuers: case-insensitive, trailing `/` ignored.
fn same_uri(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_header_must_be_a_bearer_token() {
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Basic abc")), Err(AuthError::NotBearer));
        assert_eq!(bearer(Some("Bearer ")), Err(AuthError::NotBearer));
        assert_eq!(bearer(Some("bearer abc")), Ok("abc"));
    }

    #[test]
    fn an_unknown_algorithm_is_named() {
        assert_eq!(
            unreadable_header("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0."),
            AuthError::Algorithm("none".into())
        );
        assert_eq!(unreadable_header("garbage"), AuthError::Malformed);
    }
}
