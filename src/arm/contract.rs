//! What every operation of the OpenAPI document promises, said once for all of them rather
//! than in each route's annotations: an ARM error body for every status it does not list,
//! the api-versions its type accepts, the characters no path or query parameter may carry
//! (`check_uri` refuses them), and `$top` as a positive integer. An outside fuzzer reads the
//! document as the contract, so a parameter it leaves open is one it sends garbage through.
//!
//! [`AllowedMethods`] answers, from the same document, which methods a path serves: the
//! `Allow` header of a `405`.

use serde_json::{Value, json};

use super::api_versions;

/// A path parameter's text: no control character (C0 or DEL), no `/`, no `\`.
const PATH_TEXT: &str = "^[^\\u0000-\\u001f\\u007f/\\\\]+$";
/// A query parameter's text: no C0 control character.
const QUERY_TEXT: &str = "^[^\\u0000-\\u001f]*$";
const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

/// Completes every operation of `doc` (an OpenAPI document as JSON: utoipa's own types do
/// not read back everything they write) as the module doc says.
pub fn complete(doc: &mut Value) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let versions = versions_of(path);
            for method in METHODS {
                if let Some(op) = item.get_mut(method) {
                    complete_operation(op, versions);
                }
            }
        }
    }
}

fn complete_operation(op: &mut Value, versions: &[String]) {
    if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
        responses.entry("default").or_insert_with(|| {
            json!({"description": "An ARM error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}})
        });
    }
    let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for param in params {
        let name = param["name"].as_str().unwrap_or_default().to_owned();
        let place = param["in"].as_str().unwrap_or_default().to_owned();
        let Some(schema) = param
            .get_mut("schema")
            .and_then(Value::as_object_mut)
            .filter(|s| !s.contains_key("$ref"))
        else {
            continue;
        };
        if name == "api-version" {
            if !schema.contains_key("enum") && !versions.is_empty() {
                let mut newest_first = versions.to_vec();
                newest_first.reverse();
                schema.insert("enum".into(), json!(newest_first));
            }
            continue;
        }
        if name == "$top" {
            schema.insert("type".into(), json!("integer"));
            schema.insert("minimum".into(), json!(1));
            continue;
        }
        let text = schema.get("type").and_then(Value::as_str) == Some("string")
            && !schema.contains_key("enum")
            && !schema.contains_key("format");
        if text && !schema.contains_key("pattern") {
            let pattern = match place.as_str() {
                "path" => PATH_TEXT,
                _ => QUERY_TEXT,
            };
            schema.insert("pattern".into(), json!(pattern));
        }
    }
}

/// The api-versions of the type a path template addresses: the literal segments after its
/// last `/providers/{Namespace}` (Microsoft.Resources for the paths without one), shortened
/// from the end until the table knows the type. Empty when it knows none of them.
fn versions_of(path: &str) -> &'static [String] {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let literal = |s: &&&str| !s.starts_with('{');
    let at = segments
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
        .filter(|i| segments.get(i + 1).is_some_and(|s| !s.starts_with('{')));
    let (namespace, rest) = match at {
        Some(i) => (segments[i + 1], &segments[i + 2..]),
        None => ("Microsoft.Resources", &segments[..]),
    };
    let types: Vec<&str> = rest.iter().filter(literal).copied().collect();
    // The longest known path first, then ever shorter ones; without providers the last word
    // alone (`…/resourceGroups/{g}` is Microsoft.Resources/resourceGroups).
    for end in (1..=types.len()).rev() {
        let known = api_versions::published(&format!("{namespace}/{}", types[..end].join("/")));
        if !known.is_empty() {
            return known;
        }
        if at.is_none() {
            let known = api_versions::published(&format!("{namespace}/{}", types[end - 1]));
            if !known.is_empty() {
                return known;
            }
        }
    }
    &[]
}

/// The methods of each path template, to answer `Allow` on a `405`.
pub struct AllowedMethods {
    templates: Vec<(Vec<String>, String)>,
}

impl AllowedMethods {
    pub fn of(doc: &Value) -> Self {
        let no_paths = serde_json::Map::new();
        let paths = doc["paths"].as_object().unwrap_or(&no_paths);
        let templates = paths
            .iter()
            .map(|(path, item)| {
                let segments = path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                let methods: Vec<String> = METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(|m| m.to_uppercase())
                    .collect();
                (segments, methods.join(", "))
            })
            .collect();
        Self { templates }
    }

    /// The `Allow` value of the first template `path` matches.
    pub fn of_path(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.templates
            .iter()
            .find(|(template, _)| matches(template, &segments))
            .map(|(_, allow)| allow.as_str())
    }
}

/// `{scope}` stands for one or more segments (an id), any other `{x}` for one; literals
/// compare as ARM compares, without case.
fn matches(template: &[String], path: &[&str]) -> bool {
    match (template.first(), path.first()) {
        (None, None) => true,
        (Some(t), _) if t == "{scope}" => {
            (1..=path.len()).any(|taken| matches(&template[1..], &path[taken..]))
        }
        (Some(t), Some(p)) if t.starts_with('{') || t.eq_ignore_ascii_case(p) => {
            matches(&template[1..], &path[1..])
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_arm_error_response() {
        let value = crate::startup::openapi(&crate::resources::registry());
        let ops = value["paths"].as_object().unwrap().values();
        let with_default = ops
            .flat_map(|item| METHODS.iter().filter_map(|m| item.get(*m)))
            .all(|op| op["responses"].get("default").is_some());
        assert!(with_default, "an operation without its ARM error response");
    }

    #[test]
    fn a_path_names_its_type_for_its_versions() {
        let group =
            versions_of("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}");
        assert!(group.iter().any(|v| v == "2024-11-01"), "{group:?}");
        let assignments =
            versions_of("/{scope}/providers/Microsoft.Authorization/roleAssignments/{name}");
        assert!(assignments.iter().any(|v| v == "2022-04-01"));
        assert!(versions_of("/healthz").is_empty());
    }

    #[test]
    fn scope_stands_for_several_segments() {
        let template: Vec<String> = [
            "{scope}",
            "providers",
            "Microsoft.Authorization",
            "roleAssignments",
        ]
        .map(str::to_owned)
        .to_vec();
        assert!(matches(
            &template,
            &[
                "subscriptions",
                "s",
                "providers",
                "microsoft.authorization",
                "roleassignments"
            ]
        ));
        assert!(!matches(
            &template,
            &["providers", "Microsoft.Authorization", "roleAssignments"]
        ));
    }
}
