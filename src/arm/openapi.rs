//! The OpenAPI paths and schemas of every registered type, generated from the same
//! declarations the routes are: what is documented is what is served.

use serde_json::{Map, Value, json};
use utoipa::openapi::{OpenApi, PathItem, RefOr, schema::Schema};

use super::registry::{ActionReturns, Registry, Running, TypeDescriptor};

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn body(name: &str) -> Value {
    json!({"application/json": {"schema": reference(name)}})
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
}

fn query_param(name: &str, required: bool, ty: &str) -> Value {
    json!({"name": name, "in": "query", "required": required, "schema": {"type": ty}})
}

fn api_version(descriptor: &TypeDescriptor) -> Value {
    let mut versions = descriptor.api_versions();
    versions.reverse();
    json!({"name": "api-version", "in": "query", "required": true,
        "description": format!("One of: {}.", versions.join(", ")),
        "schema": {"type": "string", "enum": versions}})
}

fn errors() -> (String, Value) {
    (
        "default".into(),
        json!({"description": "An ARM error", "content": body("ErrorResponse")}),
    )
}

fn describe(code: u16, running: Running) -> &'static str {
    match (code, running) {
        (202, _) => "Accepted: follow Location or Azure-AsyncOperation",
        (201, Running::AsyncOperation) | (200, Running::AsyncOperation) => {
            "Done or running: follow Azure-AsyncOperation while provisioningState is not terminal"
        }
        (201, _) => "Created",
        (204, _) => "No content",
        (404, _) => "Not found",
        _ => "OK",
    }
}

struct Operation<'a> {
    descriptor: &'a TypeDescriptor,
    id: &'a str,
    summary: String,
    params: Vec<Value>,
    request: Option<String>,
    responses: Vec<(u16, Option<String>, &'static str)>,
    long_running: bool,
}

impl Operation<'_> {
    fn render(self) -> Value {
        let mut params = self.params;
        params.push(api_version(self.descriptor));
        let mut responses = Map::new();
        for (code, schema, description) in self.responses {
            let mut response = json!({"description": description});
            if let Some(schema) = schema {
                response["content"] = body(&schema);
            }
            responses.insert(code.to_string(), response);
        }
        let (key, value) = errors();
        responses.insert(key, value);
        let mut op = json!({
            "tags": [self.descriptor.tag],
            "summary": self.summary,
            "operationId": format!("{}_{}", self.descriptor.tag, self.id),
            "parameters": params,
            "responses": responses,
        });
        if let Some(request) = self.request {
            op["requestBody"] = json!({"content": body(&request), "required": true});
        }
        if self.long_running {
            op["x-ms-long-running-operation"] = json!(true);
        }
        op
    }
}

fn path_params(descriptor: &TypeDescriptor, count: usize) -> Vec<Value> {
    descriptor
        .path_params()
        .into_iter()
        .take(count)
        .map(path_param)
        .collect()
}

/// The paths of one type, keyed by route.
fn paths_of(descriptor: &TypeDescriptor, schema: &str, list_schema: &str) -> Vec<(String, Value)> {
    let verbs = &descriptor.verbs;
    let all = descriptor.path_params().len();
    let full = descriptor.full_type();
    let mut item = Map::new();
    let op = |id: &'static str, summary: String| Operation {
        descriptor,
        id,
        summary,
        params: path_params(descriptor, all),
        request: None,
        responses: vec![],
        long_running: false,
    };
    let mut get = op("Get", format!("Gets a {full}."));
    get.responses.push((200, Some(schema.into()), "OK"));
    item.insert("get".into(), get.render());
    for (method, id, policy) in [
        ("put", "CreateOrUpdate", verbs.put.as_ref()),
        ("patch", "Update", verbs.patch.as_ref()),
    ] {
        let Some(policy) = policy else { continue };
        let mut write = op(
            id,
            match method {
                "put" => format!("Creates or replaces a {full}."),
                _ => format!("Updates a {full}: merges `properties` (RFC 7396), replaces `tags`."),
            },
        );
        write.request = Some(schema.into());
        let mut codes: Vec<(u16, Running)> = policy
            .all()
            .flat_map(|a| a.statuses().into_iter().map(|c| (c, a.running)))
            .collect();
        codes.sort_unstable_by_key(|(c, _)| *c);
        codes.dedup_by_key(|(c, _)| *c);
        write.long_running = policy.all().any(|a| a.running != Running::Wait);
        write.responses = codes
            .into_iter()
            .map(|(c, r)| (c, Some(schema.into()), describe(c, r)))
            .collect();
        item.insert(method.into(), write.render());
    }
    if let Some(policy) = &verbs.delete {
        let mut delete = op("Delete", format!("Deletes a {full}."));
        let mut codes: Vec<u16> = policy.all().flat_map(|a| a.statuses()).collect();
        codes.sort_unstable();
        codes.dedup();
        delete.long_running = codes.contains(&202);
        delete.responses = codes
            .into_iter()
            .map(|c| (c, None, describe(c, Running::Accepted)))
            .collect();
        item.insert("delete".into(), delete.render());
    }
    if verbs.head {
        let mut head = op("CheckExistence", format!("Whether a {full} exists."));
        head.responses = vec![(204, None, "Exists"), (404, None, "Absent")];
        item.insert("head".into(), head.render());
    }
    let mut out = vec![(descriptor.item_path(), Value::Object(item))];
    let list_query = |paged: bool, filters: &[&str]| {
        let mut params: Vec<Value> = filters
            .iter()
            .map(|f| query_param(f, false, "string"))
            .collect();
        if paged {
            params.push(query_param("$top", false, "integer"));
            params.push(query_param("$skipToken", false, "string"));
        }
        params
    };
    if let Some(listing) = &verbs.list {
        let id = if descriptor.type_path.len() == 1 && !descriptor.is_resource_group() {
            "ListByResourceGroup"
        } else {
            "List"
        };
        let mut list = op(
            id,
            format!("Lists the {full} resources under their parent."),
        );
        list.params = path_params(descriptor, all - 1);
        list.params
            .extend(list_query(listing.paged, listing.filters));
        list.responses.push((200, Some(list_schema.into()), "OK"));
        out.push((descriptor.list_path(), json!({"get": list.render()})));
    }
    if verbs.list_by_subscription {
        let filters = verbs.list.map(|l| l.filters).unwrap_or_default();
        let mut list = op(
            "ListBySubscription",
            format!("Lists the {full} resources of a subscription."),
        );
        list.params = path_params(descriptor, 1);
        list.params.extend(list_query(true, filters));
        list.responses.push((200, Some(list_schema.into()), "OK"));
        out.push((
            descriptor.subscription_list_path(),
            json!({"get": list.render()}),
        ));
    }
    for action in descriptor.actions {
        let returns = match action.returns {
            ActionReturns::Resource => schema.to_owned(),
            ActionReturns::Schema(s) => (s.name)(),
        };
        let mut post = op(action.name, action.summary.to_owned());
        post.id = action.name;
        post.responses.push((200, Some(returns), "OK"));
        let mut rendered = post.render();
        rendered["operationId"] = json!(format!("{}_{}", descriptor.tag, upper_first(action.name)));
        rendered["description"] = json!(format!(
            "Needs `{}`{}.",
            descriptor.action(action.rbac),
            if action.secret {
                "; answered with Cache-Control: no-store"
            } else {
                ""
            }
        ));
        out.push((
            format!("{}/{}", descriptor.item_path(), action.name),
            json!({"post": rendered}),
        ));
    }
    out
}

fn upper_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// A page of `item`: `{value: [...], nextLink}`.
fn list_schema(item: &str) -> Value {
    json!({"type": "object", "required": ["value"], "properties": {
        "value": {"type": "array", "items": reference(item)},
        "nextLink": {"type": "string", "description": "The absolute URL of the next page; absent on the last."}
    }})
}

/// Adds the paths and schemas of every type in `registry` to `doc`.
pub fn document(doc: &mut OpenApi, registry: &Registry) {
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    for descriptor in registry.descriptors() {
        let resource = descriptor.schema.resource;
        let name = (resource.name)();
        (resource.collect)(&mut schemas);
        for action in descriptor.actions {
            if let ActionReturns::Schema(s) = action.returns {
                (s.collect)(&mut schemas);
            }
        }
        let list_name = format!("{name}List");
        #[expect(
            clippy::expect_used,
            reason = "built from our own declarations; the OpenAPI test builds the document"
        )]
        let list: RefOr<Schema> =
            serde_json::from_value(list_schema(&name)).expect("a list schema is a schema");
        schemas.push((list_name.clone(), list));
        for (path, item) in paths_of(descriptor, &name, &list_name) {
            #[expect(
                clippy::expect_used,
                reason = "built from our own declarations; the OpenAPI test builds the document"
            )]
            let item: PathItem =
                serde_json::from_value(item).expect("generated path items are valid");
            match doc.paths.paths.get_mut(&path) {
                Some(existing) => existing.merge_operations(item),
                None => {
                    doc.paths.paths.insert(path, item);
                }
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
}
