//! Which credential fields of each `authType` are secret (resource-shapes.md §3.1). The table
//! lists the fields that are *not*: everything else a client sends in `credentials` is sealed,
//! so a field we do not know, or an authType added to the spec later, fails closed.

use serde_json::{Map, Value};

/// The authTypes of the spec, for the documentation and the tests; others are accepted too
/// (the enum is extensible) with every credential field treated as secret.
pub const KNOWN: &[&str] = &[
    "None",
    "PAT",
    "ManagedIdentity",
    "UsernamePassword",
    "SAS",
    "AccountKey",
    "ServicePrincipal",
    "AccessKey",
    "ApiKey",
    "CustomKeys",
    "OAuth2",
    "AAD",
    "DelegatedSAS",
    "ProjectManagedIdentity",
    "AccountManagedIdentity",
    "UserEntraToken",
    "AgentUserImpersonation",
    "AgenticIdentityToken",
    "AgenticUser",
];

/// The credential fields GET may show for an authType (compared case-insensitively).
fn public_fields(auth_type: &str) -> &'static [&'static str] {
    match auth_type.to_ascii_lowercase().as_str() {
        "managedidentity" => &["clientId", "resourceId"],
        "usernamepassword" => &["username"],
        "serviceprincipal" => &["clientId", "tenantId"],
        "accesskey" => &["accessKeyId"],
        "oauth2" => &["clientId", "authUrl", "tenantId", "username"],
        _ => &[],
    }
}

/// `credentials` cut in two: what may be shown, and what must be sealed.
#[derive(Default)]
pub struct Split {
    pub public: Map<String, Value>,
    pub secret: Map<String, Value>,
}

pub fn split(auth_type: &str, credentials: Map<String, Value>) -> Split {
    let public = public_fields(auth_type);
    let mut out = Split::default();
    for (field, value) in credentials {
        if public.iter().any(|p| p.eq_ignore_ascii_case(&field)) {
            out.public.insert(field, value);
        } else {
            out.secret.insert(field, value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cut(auth_type: &str, credentials: Value) -> (Vec<String>, Vec<String>) {
        let Value::Object(map) = credentials else {
            panic!("object")
        };
        let split = split(auth_type, map);
        (
            split.public.keys().cloned().collect(),
            split.secret.keys().cloned().collect(),
        )
    }

    #[test]
    fn secrets_are_sealed_and_identifiers_shown() {
        assert_eq!(
            cut(
                "ServicePrincipal",
                json!({"clientId": "c", "clientSecret": "s", "tenantId": "t"})
            ),
            (
                vec!["clientId".into(), "tenantId".into()],
                vec!["clientSecret".into()]
            )
        );
        assert_eq!(
            cut(
                "accesskey",
                json!({"accessKeyId": "a", "secretAccessKey": "s"})
            ),
            (vec!["accessKeyId".into()], vec!["secretAccessKey".into()])
        );
        assert_eq!(
            cut("CustomKeys", json!({"keys": {"a": "b"}})),
            (vec![], vec!["keys".into()])
        );
    }

    #[test]
    fn unknown_auth_types_and_fields_fail_closed() {
        assert_eq!(
            cut("SomethingNew", json!({"clientId": "c", "token": "t"})),
            (vec![], vec!["clientId".into(), "token".into()])
        );
        assert_eq!(
            cut(
                "UsernamePassword",
                json!({"username": "u", "password": "p", "extra": "x"})
            ),
            (
                vec!["username".into()],
                vec!["extra".into(), "password".into()]
            )
        );
    }
}
