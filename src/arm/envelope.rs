//! The ARM envelope: parsing what clients send, merging PATCHes, rendering what they read.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::error::{ArmError, ErrorCode};

/// The user-writable part of a resource, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spec {
    pub location: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub kind: Option<String>,
    pub sku: Option<Value>,
    pub identity: Option<Value>,
    pub properties: Map<String, Value>,
}

/// Removes `keys` (read-only members a client may echo back) from `properties`.
pub fn strip(properties: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        properties.remove(*key);
    }
}

/// The `properties` object of a rendered resource, when it has one.
pub fn properties_mut(resource: &mut Value) -> Option<&mut Map<String, Value>> {
    resource
        .get_mut("properties")
        .and_then(Value::as_object_mut)
}

/// Characters a tag name may not hold: C0/C1 controls and the bidirectional overrides and
/// isolates, which make a name display as another (`U+202E` reverses what follows).
fn is_invisible_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Top-level members a client may send. The read-only ones are accepted and ignored so a
/// GET → PUT round trip works.
const WRITABLE: &[&str] = &["location", "tags", "kind", "sku", "identity", "properties"];
const READ_ONLY: &[&str] = &[
    "id",
    "name",
    "type",
    "etag",
    "systemData",
    "managedBy",
    "extendedLocation",
    "plan",
];

const MAX_TAGS: usize = 50;
const MAX_TAG_KEY: usize = 512;
const MAX_TAG_VALUE: usize = 256;

pub use crate::config::regions::normalize_location;

fn object(body: &Value) -> Result<&Map<String, Value>, ArmError> {
    match body {
        Value::Object(map) => Ok(map),
        Value::Null => Err(ArmError::invalid_content(
            "The request body is required and must be a JSON object.",
        )),
        _ => Err(ArmError::invalid_content(
            "The request body must be a JSON object.",
        )),
    }
}

fn reject_unknown(map: &Map<String, Value>, allowed: &[&str]) -> Result<(), ArmError> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) && !READ_ONLY.contains(&key.as_str()) {
            return Err(ArmError::invalid_content(format!(
                "The request content was invalid: the property '{key}' is not recognized."
            ))
            .with_target(key.clone()));
        }
    }
    Ok(())
}

/// A `tags` value, checked against ARM's limits (count, name and value lengths, characters).
pub fn parse_tags(value: &Value) -> Result<Option<BTreeMap<String, String>>, ArmError> {
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        _ => {
            return Err(ArmError::new(
                ErrorCode::InvalidTag,
                "The tags must be an object of string values.",
            )
            .with_target("tags"));
        }
    };
    if map.len() > MAX_TAGS {
        return Err(ArmError::new(
            ErrorCode::InvalidTag,
            format!(
                "A resource may have at most {MAX_TAGS} tags; the request has {}.",
                map.len()
            ),
        )
        .with_target("tags"));
    }
    let mut tags = BTreeMap::new();
    for (key, value) in map {
        let Value::String(value) = value else {
            return Err(ArmError::new(
                ErrorCode::InvalidTag,
                format!("The value of tag '{key}' must be a string."),
            )
            .with_target("tags"));
        };
        if key.is_empty()
            || key.chars().count() > MAX_TAG_KEY
            || key.contains(['<', '>', '%', '&', '\\', '?', '/'])
            || key.chars().any(is_invisible_control)
        {
            return Err(ArmError::new(
                ErrorCode::InvalidTagNameCharacters,
                format!(
                    "The tag name '{key}' is invalid: it must be 1 to {MAX_TAG_KEY} characters and must not contain \
                     '<', '>', '%', '&', '\\', '?' or '/'."
                ),
            )
            .with_target("tags"));
        }
        if value.chars().count() > MAX_TAG_VALUE {
            return Err(ArmError::new(
                ErrorCode::InvalidTag,
                format!("The value of tag '{key}' is longer than {MAX_TAG_VALUE} characters."),
            )
            .with_target("tags"));
        }
        tags.insert(key.clone(), value.clone());
    }
    Ok(Some(tags))
}

fn parse_sku(value: &Value) -> Result<Option<Value>, ArmError> {
    match value {
        Value::Null => Ok(None),
        Value::Object(map) if map.get("name").is_some_and(Value::is_string) => {
            Ok(Some(value.clone()))
        }
        _ => Err(
            ArmError::invalid_content("The sku must be an object with a string 'name'.")
                .with_target("sku"),
        ),
    }
}

const IDENTITY_TYPES: &[&str] = &[
    "None",
    "SystemAssigned",
    "UserAssigned",
    "SystemAssigned,UserAssigned",
];

fn parse_identity(value: &Value) -> Result<Option<Value>, ArmError> {
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        _ => {
            return Err(ArmError::invalid_content("The identity must be an object.")
                .with_target("identity"));
        }
    };
    let ty = map.get("type").and_then(Value::as_str).unwrap_or("None");
    let Some(canonical) = IDENTITY_TYPES.iter().find(|t| {
        t.replace(' ', "")
            .eq_ignore_ascii_case(&ty.replace(' ', ""))
    }) else {
        return Err(ArmError::invalid_content(format!(
            "The identity type '{ty}' is not supported. Supported types are: {}.",
            IDENTITY_TYPES.join(", ")
        ))
        .with_target("identity.type"));
    };
    let mut out = Map::new();
    out.insert("type".into(), json!(canonical));
    if let Some(uai) = map.get("userAssignedIdentities").filter(|v| !v.is_null()) {
        let Value::Object(entries) = uai else {
            return Err(
                ArmError::invalid_content("userAssignedIdentities must be an object.")
                    .with_target("identity.userAssignedIdentities"),
            );
        };
        // principalId and clientId are read-only: keep only the keys.
        let keys: Map<String, Value> = entries.keys().map(|k| (k.clone(), json!({}))).collect();
        out.insert("userAssignedIdentities".into(), Value::Object(keys));
    }
    Ok(Some(Value::Object(out)))
}

fn parse_properties(value: Option<&Value>) -> Result<Map<String, Value>, ArmError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(
            ArmError::invalid_content("The 'properties' member must be an object.")
                .with_target("properties"),
        ),
    }
}

/// Parses a PUT body into a spec. Location presence is the engine's check (tracked types).
pub fn parse_put(body: &Value) -> Result<Spec, ArmError> {
    let map = object(body)?;
    reject_unknown(map, WRITABLE)?;
    let location = match map.get("location") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(normalize_location(s)),
        Some(_) => {
            return Err(
                ArmError::invalid_content("The location must be a non-empty string.")
                    .with_target("location"),
            );
        }
    };
    let kind = match map.get("kind") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ArmError::invalid_content("The kind must be a string.").with_target("kind"));
        }
    };
    Ok(Spec {
        location,
        tags: map.get("tags").map(parse_tags).transpose()?.flatten(),
        kind,
        sku: map.get("sku").map(parse_sku).transpose()?.flatten(),
        identity: map
            .get("identity")
            .map(parse_identity)
            .transpose()?
            .flatten(),
        properties: parse_properties(map.get("properties"))?,
    })
}

/// Applies a PATCH body to a stored spec: `tags` replaced wholesale, `properties` merged per
/// RFC 7396, `sku`/`identity` replaced; `location` and `kind` may only repeat their value.
pub fn apply_patch(existing: &Spec, body: &Value) -> Result<Spec, ArmError> {
    let map = object(body)?;
    reject_unknown(map, WRITABLE)?;
    let mut spec = existing.clone();
    if let Some(loc) = map.get("location").and_then(Value::as_str)
        && Some(normalize_location(loc)) != existing.location
    {
        return Err(ArmError::new(
            ErrorCode::PropertyChangeNotAllowed,
            "Changing property 'location' is not allowed.",
        )
        .with_target("location"));
    }
    if let Some(kind) = map.get("kind").and_then(Value::as_str)
        && !existing
            .kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case(kind))
    {
        return Err(ArmError::new(
            ErrorCode::PropertyChangeNotAllowed,
            "Changing property 'kind' is not allowed.",
        )
        .with_target("kind"));
    }
    if let Some(tags) = map.get("tags") {
        spec.tags = parse_tags(tags)?;
    }
    if let Some(sku) = map.get("sku") {
        spec.sku = parse_sku(sku)?;
    }
    if let Some(identity) = map.get("identity") {
        spec.identity = parse_identity(identity)?;
    }
    if let Some(patch) = map.get("properties") {
        if !patch.is_object() && !patch.is_null() {
            return Err(
                ArmError::invalid_content("The 'properties' member must be an object.")
                    .with_target("properties"),
            );
        }
        let mut merged = Value::Object(existing.properties.clone());
        merge_patch(&mut merged, patch);
        spec.properties = match merged {
            Value::Object(map) => map,
            _ => Map::new(),
        };
    }
    Ok(spec)
}

/// RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target_map) = target {
        for (key, value) in patch_map {
            if value.is_null() {
                target_map.remove(key);
            } else {
                merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// The stored body: the spec plus systemData.
pub fn to_body(spec: &Spec, system_data: &Value) -> Value {
    let mut body = Map::new();
    if let Some(tags) = &spec.tags {
        body.insert("tags".into(), json!(tags));
    }
    if let Some(kind) = &spec.kind {
        body.insert("kind".into(), json!(kind));
    }
    if let Some(sku) = &spec.sku {
        body.insert("sku".into(), sku.clone());
    }
    if let Some(identity) = &spec.identity {
        body.insert("identity".into(), identity.clone());
    }
    body.insert("properties".into(), Value::Object(spec.properties.clone()));
    body.insert("systemData".into(), system_data.clone());
    Value::Object(body)
}

/// Reads a stored body back into a spec.
pub fn from_body(location: Option<&str>, body: &Value) -> Spec {
    let tags = body
        .get("tags")
        .and_then(|t| serde_json::from_value(t.clone()).ok());
    Spec {
        location: location.map(str::to_owned),
        tags,
        kind: body.get("kind").and_then(Value::as_str).map(str::to_owned),
        sku: body.get("sku").cloned(),
        identity: body.get("identity").cloned(),
        properties: body
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    }
}

/// A canonical, order-independent fingerprint of a request (FNV-1a over canonical JSON),
/// used to recognize an identical retry of an in-flight PUT.
pub fn fingerprint(verb: &str, body: &Value) -> String {
    // serde_json's Map is ordered by key, so to_string is canonical.
    let text = format!("{verb}\n{body}");
    crate::hash::fnv1a_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc7396() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "arr": [1, 2]});
        merge_patch(
            &mut target,
            &json!({"a": "z", "c": {"f": null}, "arr": [3], "n": {"x": 1}}),
        );
        assert_eq!(
            target,
            json!({"a": "z", "c": {"d": "e"}, "arr": [3], "n": {"x": 1}})
        );
    }

    #[test]
    fn tag_names_refuse_control_and_direction_characters() {
        for name in [
            "a\u{0}b",
            "tab\there",
            "new\nline",
            "rlo\u{202e}x",
            "iso\u{2066}x",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            let err = parse_put(&json!({"tags": {name: "v"}})).unwrap_err();
            assert_eq!(err.detail.code, "InvalidTagNameCharacters", "{name:?}");
        }
        assert!(parse_put(&json!({"tags": {"caf\u{e9}-env": "v"}})).is_ok());
    }

    #[test]
    fn tags_are_limited() {
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        let err = parse_put(&json!({"tags": many})).unwrap_err();
        assert_eq!(err.detail.code, "InvalidTag");
        let err = parse_put(&json!({"tags": {"a/b": "v"}})).unwrap_err();
        assert_eq!(err.detail.code, "InvalidTagNameCharacters");
        let err = parse_put(&json!({"tags": {"k": "v".repeat(257)}})).unwrap_err();
        assert_eq!(err.detail.code, "InvalidTag");
    }

    #[test]
    fn locations_compare_without_case_or_spaces() {
        assert_eq!(normalize_location("West US 2"), "westus2");
        let spec =
            parse_put(&json!({"location": "East US", "id": "ignored", "properties": {}})).unwrap();
        assert_eq!(spec.location.as_deref(), Some("eastus"));
        assert!(parse_put(&json!({"bogus": 1})).is_err());
    }

    #[test]
    fn fingerprint_ignores_member_order() {
        let a = serde_json::from_str::<Value>(r#"{"a":1,"b":{"c":2,"d":3}}"#).unwrap();
        let b = serde_json::from_str::<Value>(r#"{"b":{"d":3,"c":2},"a":1}"#).unwrap();
        assert_eq!(fingerprint("PUT", &a), fingerprint("PUT", &b));
        assert_ne!(fingerprint("PUT", &a), fingerprint("PATCH", &a));
    }
}
