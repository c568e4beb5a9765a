//! Dev tokens: HS256 with the dev key for the embedded default (`kiln token`, tests), and
//! the claims of every token Kiln mints, shaped like Entra ID v2 access tokens
//! (`iss = {base}/{tid}/v2.0`, `aud`, `oid`, `tid`). Validation is [`super::validator`].

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::caller::PrincipalType;

/// The claims of the tokens Kiln mints: Entra ID v2 access tokens' names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// The client (application) id, for application tokens: v1 name and v2 name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_displayname: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
}

impl Claims {
    /// The claims every Kiln token carries, valid from now for `lifetime_secs`.
    pub fn new(
        issuer_base: &str,
        audience: &str,
        tenant_id: &str,
        principal_id: &str,
        lifetime_secs: i64,
    ) -> Self {
        let now = chrono::Utc::now().timestamp();
        Self {
            iss: format!("{}/{}/v2.0", issuer_base.trim_end_matches('/'), tenant_id),
            aud: audience.to_owned(),
            sub: principal_id.to_owned(),
            oid: Some(principal_id.to_owned()),
            tid: tenant_id.to_owned(),
            iat: now,
            nbf: now - 5,
            exp: now + lifetime_secs,
            ver: Some("2.0".into()),
            ..Self::default()
        }
    }
}

/// What a dev token says about its principal.
#[derive(Debug, Clone)]
pub struct DevToken {
    pub tenant_id: String,
    pub principal_id: String,
    pub name: String,
    pub principal_type: PrincipalType,
    pub groups: Vec<String>,
    pub lifetime_secs: i64,
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

    /// A user token without groups.
    pub fn mint(
        &self,
        issuer_base: &str,
        tenant_id: &str,
        principal_id: &str,
        name: &str,
        lifetime_secs: i64,
    ) -> String {
        self.mint_token(
            issuer_base,
            &DevToken {
                tenant_id: tenant_id.to_owned(),
                principal_id: principal_id.to_owned(),
                name: name.to_owned(),
                principal_type: PrincipalType::User,
                groups: vec![],
                lifetime_secs,
            },
        )
    }

    pub fn mint_token(&self, issuer_base: &str, token: &DevToken) -> String {
        let mut claims = Claims::new(
            issuer_base,
            &self.audience,
            &token.tenant_id,
            &token.principal_id,
            token.lifetime_secs,
        );
        claims.name = Some(token.name.clone());
        claims.groups = token.groups.clone();
        match token.principal_type {
            PrincipalType::User => claims.idtyp = Some("user".into()),
            PrincipalType::ServicePrincipal => {
                claims.idtyp = Some("app".into());
                claims.app_displayname = Some(token.name.clone());
                claims.azp = Some(token.principal_id.clone());
            }
        }
        // Encoding with an HMAC key cannot fail for a serializable claim set.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key).unwrap_or_default()
    }
}
