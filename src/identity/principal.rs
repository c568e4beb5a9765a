//! Who a validated token names: principal id, tenant, type, groups, display name.
//!
//! The rules follow Entra ID's access tokens:
//! - the principal is `oid`, else `sub` (other providers have no `oid`);
//! - the tenant is `tid`, which is required: subscriptions belong to tenants;
//! - the type is `idtyp` when present (`app` → service principal, `user` → user). Without it
//!   (Entra adds `idtyp` only as an optional claim), a token with no `scp` (delegated scopes)
//!   but an `azp` or `appid` (the client) is an application acting as itself, as in Entra's
//!   client-credentials tokens; anything else is a user;
//! - `groups` are the group object ids the principal is a member of. A token whose groups did
//!   not fit (Entra's overage `_claim_names`) carries none here: Kiln does not call Graph.

use serde::Deserialize;
use serde_json::Value;

use super::caller::{Caller, PrincipalType};
use super::validator::AuthError;

/// The claims Kiln reads from any accepted token.
#[derive(Debug, Deserialize)]
pub struct TokenClaims {
    pub iss: String,
    #[serde(default)]
    pub aud: Value,
    pub sub: Option<String>,
    pub oid: Option<String>,
    pub tid: Option<String>,
    pub idtyp: Option<String>,
    pub scp: Option<String>,
    pub azp: Option<String>,
    pub appid: Option<String>,
    pub upn: Option<String>,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub app_displayname: Option<String>,
    #[serde(default)]
    pub groups: Value,
    /// Expiry, seconds since the epoch (required and checked by the validator).
    #[serde(default)]
    pub exp: Option<u64>,
}

impl TokenClaims {
    /// The audiences: `aud` is a string or an array of strings (RFC 7519 §4.1.3).
    pub fn audiences(&self) -> Vec<&str> {
        match &self.aud {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        }
    }

    pub fn principal_type(&self) -> PrincipalType {
        match self.idtyp.as_deref() {
            Some("app") => PrincipalType::ServicePrincipal,
            Some("user") => PrincipalType::User,
            _ if self.scp.is_none() && (self.azp.is_some() || self.appid.is_some()) => {
                PrincipalType::ServicePrincipal
            }
            _ => PrincipalType::User,
        }
    }

    pub fn into_caller(self) -> Result<Caller, AuthError> {
        let principal_type = self.principal_type();
        let groups = match &self.groups {
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => vec![],
        };
        let principal_id = self
            .oid
            .or(self.sub)
            .filter(|p| !p.is_empty())
            .ok_or(AuthError::MissingClaim("oid"))?;
        let tenant_id = self
            .tid
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::MissingClaim("tid"))?;
        let display_name = self
            .upn
            .or(self.preferred_username)
            .or(self.name)
            .or(self.app_displayname)
            .unwrap_or_else(|| principal_id.clone());
        Ok(Caller {
            principal_id,
            tenant_id,
            display_name,
            principal_type,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(extra: Value) -> TokenClaims {
        let mut base = json!({"iss": "i", "aud": "a", "sub": "s", "tid": "t"});
        if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn the_principal_type_comes_from_idtyp_else_from_the_shape_of_the_token() {
        let app = PrincipalType::ServicePrincipal;
        let user = PrincipalType::User;
        assert_eq!(claims(json!({"idtyp": "app"})).principal_type(), app);
        assert_eq!(
            claims(json!({"idtyp": "user", "azp": "c"})).principal_type(),
            user
        );
        assert_eq!(
            claims(json!({"azp": "c", "roles": ["r"]})).principal_type(),
            app
        );
        assert_eq!(claims(json!({"appid": "c"})).principal_type(), app);
        assert_eq!(
            claims(json!({"azp": "c", "scp": "user_impersonation"})).principal_type(),
            user
        );
        assert_eq!(claims(json!({})).principal_type(), user);
    }

    #[test]
    fn oid_wins_over_sub_and_groups_are_kept() {
        let caller = claims(json!({"oid": "o", "groups": ["g1", "g2", 3]}))
            .into_caller()
            .unwrap();
        assert_eq!(caller.principal_id, "o");
        assert_eq!(caller.groups, ["g1", "g2"]);
        assert_eq!(claims(json!({})).into_caller().unwrap().principal_id, "s");
    }
}
