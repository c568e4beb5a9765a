//! The members of a connection's `properties` are matched ignoring case, as ARM matches JSON
//! members. Whatever capitals a client uses, `credentials` and `value` must reach the sealing
//! code under their own names: `Credentials` stored as an unknown member would be kept, and
//! shown, in the clear.

use serde_json::{Map, Value};

use crate::error::{ArmError, ErrorCode};

/// The members of a connection's properties, spelled as the spec spells them.
const KNOWN: &[&str] = &[
    "authType",
    "category",
    "target",
    "isSharedToAll",
    "sharedUserList",
    "metadata",
    "expiryTime",
    "useWorkspaceManagedIdentity",
    "credentials",
    "value",
    "valueFormat",
    "group",
    "createdByWorkspaceArmId",
    "provisioningState",
    "error",
    "peRequirement",
    "peStatus",
];

/// Members no connection has, whose name says they would carry a secret: refused rather
/// than stored (and shown) in the clear beside the sealed ones.
const SECRET_LIKE: &[&str] = &[
    "credential",
    "secret",
    "secrets",
    "password",
    "key",
    "keys",
    "apiKey",
    "token",
    "accessToken",
    "clientSecret",
    "sas",
    "pat",
];

/// Renames the members of `properties` to their spelling in the spec. Two members that differ
/// only in case are ambiguous (which one is the secret?) and refused, as are secret-like
/// members outside `credentials`. Errors name members, never values.
pub fn canonicalize(properties: &mut Map<String, Value>) -> Result<(), ArmError> {
    let sent: Vec<String> = properties.keys().cloned().collect();
    for (i, name) in sent.iter().enumerate() {
        if let Some(twin) = sent[..i].iter().find(|n| n.eq_ignore_ascii_case(name)) {
            return Err(ArmError::new(
                ErrorCode::DuplicateProperty,
                format!(
                    "properties.{twin} and properties.{name} differ only in case: send one of them."
                ),
            )
            .with_target(format!("properties.{name}")));
        }
        if SECRET_LIKE.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Err(ArmError::new(
                ErrorCode::InvalidProperty,
                format!(
                    "properties.{name} is not a property of a connection: secrets go in \
                     properties.credentials, which is sealed."
                ),
            )
            .with_target(format!("properties.{name}")));
        }
        if let Some(canonical) = KNOWN
            .iter()
            .find(|k| k.eq_ignore_ascii_case(name) && **k != name.as_str())
            && let Some(value) = properties.remove(name)
        {
            properties.insert((*canonical).to_owned(), value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(properties: Value) -> Result<Vec<String>, String> {
        let Value::Object(mut map) = properties else {
            panic!("object")
        };
        canonicalize(&mut map)
            .map(|()| map.keys().cloned().collect())
            .map_err(|e| e.detail.code)
    }

    #[test]
    fn other_capitals_reach_the_spec_names() {
        assert_eq!(
            run(json!({"AuthType": "ApiKey", "CREDENTIALS": {}, "Value": "v", "custom": 1})),
            Ok(vec![
                "authType".into(),
                "credentials".into(),
                "custom".into(),
                "value".into()
            ])
        );
    }

    #[test]
    fn twins_and_secret_like_members_are_refused() {
        assert_eq!(
            run(json!({"credentials": {}, "Credentials": {}})),
            Err("DuplicateProperty".into())
        );
        assert_eq!(
            run(json!({"custom": 1, "Custom": 2})),
            Err("DuplicateProperty".into())
        );
        assert_eq!(run(json!({"ApiKey": "k"})), Err("InvalidProperty".into()));
    }
}
