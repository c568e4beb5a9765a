//! Identity: who a bearer token says the caller is, and the Entra-ID-shaped endpoints through
//! which service principals get Kiln's own tokens.
//!
//! - [`validator`] checks tokens of three signers (dev key, Kiln's keys, `KILN_JWKS`);
//!   [`authenticate`] runs it on every request; [`principal`] reads the [`Caller`] from the
//!   claims; [`issuer`] mints dev tokens; [`origin`] is the origin tokens and documents name.
//! - [`service_principals`] and [`client_secrets`]: `kiln sp create` and client sign-in.
//! - [`signing_keys`]: Kiln's ES256 key pairs, in the database for every replica.
//! - [`oauth`], [`discovery`], [`metadata`]: the token endpoint, OIDC discovery and the cloud
//!   metadata endpoint, public (no token needed).

pub mod authenticate;
pub mod caller;
pub mod client_secrets;
pub mod dev_key;
pub mod discovery;
pub mod issuer;
pub mod jwks;
pub mod metadata;
pub mod oauth;
pub mod origin;
pub mod principal;
pub mod service_principals;
pub mod signing_keys;
pub mod throttle;
pub mod validator;

use std::sync::Arc;

use actix_web::{Route, web};
use sea_orm::DatabaseConnection;
use thiserror::Error;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::config::AuthSettings;
use jwks::{ExternalKeys, JwksError, JwksSource};
use signing_keys::{SigningKeyError, SigningKeys};

pub use caller::{Caller, PrincipalType};
pub use issuer::{Claims, DevToken, TokenIssuer};
pub use validator::TokenValidator;

#[derive(Debug, Error)]
pub enum IdentityError {
    #[error("token signing keys: {0}")]
    SigningKeys(#[from] SigningKeyError),
    #[error("KILN_JWKS: {0}")]
    Jwks(#[from] JwksError),
}

/// What the identity endpoints share: Kiln's keys, the audience, the public URL, and the
/// database client sign-ins read service principals from.
pub struct IdentityState {
    pub db: DatabaseConnection,
    pub keys: Arc<SigningKeys>,
    pub audience: String,
    pub public_url: Option<String>,
    /// The origins Kiln is configured or bound to, the default first.
    pub origins: Vec<String>,
    /// Failed sign-ins at the token endpoint.
    pub sign_ins: throttle::SignInThrottle,
}

impl IdentityState {
    /// The origin the identity documents and tokens name (see `trusted_origin`).
    pub fn origin(&self, req: &actix_web::HttpRequest) -> String {
        origin::trusted_origin(self.public_url.as_deref(), &self.origins, req)
    }
}

/// Everything authentication needs, built once at start.
pub struct Identity {
    pub validator: Arc<TokenValidator>,
    pub state: web::Data<IdentityState>,
    /// The external provider's keys, refreshed in the background when they come from a URL.
    pub external: Option<Arc<ExternalKeys>>,
}

impl Identity {
    /// Loads (or creates) Kiln's signing keys and reads the configured JWKS. A JWKS file that
    /// cannot be read fails the start; an unreachable URL is retried when tokens need it.
    pub async fn build(
        db: &DatabaseConnection,
        settings: &AuthSettings,
        dev_key: &[u8],
        master: Arc<crate::secrets::MasterKeys>,
        origins: Vec<String>,
        public_url: Option<String>,
    ) -> Result<Self, IdentityError> {
        let keys = Arc::new(SigningKeys::ensure(db, &master).await?);
        let dev_key = settings.dev_tokens.then_some(dev_key);
        let known_origins = public_url
            .iter()
            .cloned()
            .chain(origins.iter().cloned())
            .collect();
        let mut validator = TokenValidator::new(dev_key, &settings.audience, origins)
            .with_kiln_keys(keys.clone(), db.clone(), master, settings.jwks_min_refresh);
        let external = match &settings.jwks {
            Some(source) => {
                let external = Arc::new(ExternalKeys::new(
                    source.clone(),
                    settings.jwks_min_refresh,
                    settings.jwks_refresh_every,
                )?);
                match (external.load().await, source) {
                    (Ok(_), _) => {}
                    (Err(err), JwksSource::File(_)) => return Err(err.into()),
                    (Err(err), JwksSource::Url(_)) => {
                        tracing::warn!(error = %err, "JWKS not read at start; retrying when a token needs it");
                    }
                }
                validator = validator.with_external(external.clone(), settings.issuers.clone());
                Some(external)
            }
            None => None,
        };
        Ok(Self {
            validator: Arc::new(validator),
            state: web::Data::new(IdentityState {
                db: db.clone(),
                keys,
                audience: settings.audience.clone(),
                public_url,
                origins: known_origins,
                sign_ins: throttle::SignInThrottle::default(),
            }),
            external,
        })
    }
}

/// The public identity routes. Only the metadata endpoint is an ARM API and in the OpenAPI
/// document; the OAuth and discovery routes speak Entra ID's protocol to MSAL-style clients,
/// which never read Kiln's spec, so they are plain routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(metadata::get_metadata_endpoints);
    at_each(
        cfg,
        ["/{tenant}/oauth2/v2.0/token", "/{tenant}/oauth2/token"],
        || web::post().to(oauth::issue_token),
    );
    at_each(
        cfg,
        [
            "/{tenant}/v2.0/.well-known/openid-configuration",
            "/{tenant}/.well-known/openid-configuration",
        ],
        || web::get().to(discovery::get_openid_configuration),
    );
    at_each(
        cfg,
        ["/{tenant}/discovery/v2.0/keys", "/{tenant}/discovery/keys"],
        || web::get().to(discovery::get_keys),
    );
    cfg.route(
        "/common/discovery/instance",
        web::get().to(discovery::get_instance_discovery),
    );
}

/// Serves a route at each of `paths`: Entra ID answers at a v2.0 path and at a v1 one.
fn at_each(cfg: &mut ServiceConfig, paths: [&str; 2], route: fn() -> Route) {
    for path in paths {
        cfg.route(path, route());
    }
}
