//! `Microsoft.Resources/tags/default`: the tags of a subscription, resource group or resource,
//! read and written on their own (`az tag create/update/list --resource-id`, `az resource
//! tag`), authorized as `Microsoft.Resources/tags/*`. A resource's write goes through the
//! engine as a PATCH of its `tags` and answers once the resource's operation (if it has one)
//! is done: the tags API is synchronous. A subscription's tags are kept on its row.

use std::time::Duration;

use actix_web::{HttpResponse, delete, get, patch, put, web};
use serde_json::{Map, Value, json};

use crate::arm::engine::{CallContext, Engine, Preconditions, WriteOutcome, WriteVerb};
use crate::arm::http::{ArmRequest, JsonBody};
use crate::arm::id::{PathVocabulary, ResourceId};
use crate::error::{ArmError, ErrorCode, ErrorResponse};
use crate::lifecycle::subscription_not_found;
use crate::store::subscriptions;
use sea_orm::DatabaseConnection;

pub const READ: &str = "Microsoft.Resources/tags/read";
pub const WRITE: &str = "Microsoft.Resources/tags/write";
pub const DELETE: &str = "Microsoft.Resources/tags/delete";

const TYPE: &str = "Microsoft.Resources/tags";

/// How long a tags write waits for the resource's operation.
const WAIT: Duration = Duration::from_secs(30);

/// The fixed path segments of these routes.
pub const WORDS: [&str; 2] = ["tags", "default"];

/// What a handler extracts (actix extracts a tuple in order).
type Call = (
    ArmRequest,
    web::Path<String>,
    web::Data<Engine>,
    web::Data<DatabaseConnection>,
    web::Data<std::sync::Arc<PathVocabulary>>,
);

/// The resource group, resource or subscription the scope names, and the call context at a
/// tags api-version.
fn target(
    req: &ArmRequest,
    raw: &str,
    vocabulary: &PathVocabulary,
) -> Result<(CallContext, ResourceId), ArmError> {
    let version = req.version_for(TYPE)?;
    let scope = format!("/{}", raw.trim_matches('/'));
    let id = ResourceId::parse(&scope, vocabulary).ok_or_else(|| {
        ArmError::new(
            ErrorCode::InvalidResourceId,
            format!(
                "The scope '{scope}' of the tags is not a subscription, resource group or resource id."
            ),
        )
    })?;
    Ok((req.context_unchecked(&version), id))
}

/// The tags at `id` now: a subscription's from its row, a resource's from the resource.
async fn current_tags(
    engine: &Engine,
    db: &DatabaseConnection,
    cx: &CallContext,
    id: &ResourceId,
) -> Result<Value, ArmError> {
    if id.resource_group.is_some() {
        return Ok(engine.get(cx, id).await?.0["tags"].clone());
    }
    engine.authorize(cx, id, READ).await?;
    subscriptions::tags(db, &id.subscription_key())
        .await?
        .ok_or_else(|| subscription_not_found(&id.subscription))
}

fn view(id: &ResourceId, tags: &Value) -> Value {
    let tags = if tags.is_object() {
        tags.clone()
    } else {
        json!({})
    };
    json!({
        "id": format!("{}/providers/{TYPE}/default", id.display()),
        "name": "default",
        "type": TYPE,
        "properties": {"tags": tags},
    })
}

/// The `properties.tags` of a tags request body.
fn requested_tags(body: &Value) -> Result<Map<String, Value>, ArmError> {
    match body.pointer("/properties/tags") {
        Some(Value::Object(tags)) => Ok(tags.clone()),
        None | Some(Value::Null) => Ok(Map::new()),
        Some(_) => Err(ArmError::invalid_content(
            "properties.tags must be an object of tag names to values.",
        )
        .with_target("properties.tags")),
    }
}

/// Writes `tags` as the tags at `id` and answers them once settled: a resource's through
/// the engine (a PATCH of its `tags`), a subscription's on its row.
async fn write_tags(
    engine: &Engine,
    db: &DatabaseConnection,
    cx: &CallContext,
    id: &ResourceId,
    tags: Map<String, Value>,
    action: &str,
) -> Result<Value, ArmError> {
    let body = json!({ "tags": tags });
    if id.resource_group.is_none() {
        engine.authorize(cx, id, action).await?;
        // The limits every resource's tags have.
        crate::arm::envelope::parse_tags(&body["tags"])?;
        if !subscriptions::set_tags(db, &id.subscription_key(), body["tags"].clone()).await? {
            return Err(subscription_not_found(&id.subscription));
        }
        return Ok(body["tags"].clone());
    }
    let result = engine
        .write(
            WriteVerb::Patch,
            cx,
            id,
            &body,
            &Preconditions::default(),
            Some(action),
        )
        .await?;
    let resource = match result.outcome {
        WriteOutcome::Completed => result.resource,
        WriteOutcome::Accepted(op) => {
            engine.wait_for(&op.id, WAIT).await?;
            engine.get(cx, id).await?.0
        }
    };
    Ok(resource["tags"].clone())
}

/// The tags of a subscription, resource group or resource.
#[utoipa::path(tag = "Tags", params(("scope" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "TagsResource"), (status = "4XX", body = ErrorResponse)))]
#[get("/{scope:.*}/providers/Microsoft.Resources/tags/default")]
pub async fn get_tags((req, path, engine, db, vocabulary): Call) -> Result<HttpResponse, ArmError> {
    let (cx, id) = target(&req, &path, &vocabulary)?;
    let tags = current_tags(&engine, &db, &cx, &id).await?;
    Ok(HttpResponse::Ok().json(view(&id, &tags)))
}

/// Replaces every tag of a subscription, resource group or resource.
#[utoipa::path(tag = "Tags", params(("scope" = String, Path), ("api-version" = String, Query)),
    request_body = Value,
    responses((status = 200, description = "TagsResource"), (status = "4XX", body = ErrorResponse)))]
#[put("/{scope:.*}/providers/Microsoft.Resources/tags/default")]
pub async fn put_tags(
    (req, path, engine, db, vocabulary): Call,
    body: JsonBody,
) -> Result<HttpResponse, ArmError> {
    let (cx, id) = target(&req, &path, &vocabulary)?;
    let tags = requested_tags(&body.0)?;
    let written = write_tags(&engine, &db, &cx, &id, tags, WRITE).await?;
    Ok(HttpResponse::Ok().json(view(&id, &written)))
}

/// Merges, replaces or deletes tags (`operation`: `Merge`, `Replace` or `Delete`).
#[utoipa::path(tag = "Tags", params(("scope" = String, Path), ("api-version" = String, Query)),
    request_body = Value,
    responses((status = 200, description = "TagsResource"), (status = "4XX", body = ErrorResponse)))]
#[patch("/{scope:.*}/providers/Microsoft.Resources/tags/default")]
pub async fn patch_tags(
    (req, path, engine, db, vocabulary): Call,
    body: JsonBody,
) -> Result<HttpResponse, ArmError> {
    let (cx, id) = target(&req, &path, &vocabulary)?;
    let requested = requested_tags(&body.0)?;
    let operation = body.0["operation"].as_str().unwrap_or_default().to_owned();
    let current = current_tags(&engine, &db, &cx, &id).await?;
    let mut tags = current.as_object().cloned().unwrap_or_default();
    let same_name = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match operation.to_ascii_lowercase().as_str() {
        "merge" => {
            for (name, value) in requested {
                tags.retain(|k, _| !same_name(k, &name));
                tags.insert(name, value);
            }
        }
        "replace" => tags = requested,
        // Deletes the named tags; a value, when given, must match.
        "delete" => tags.retain(|k, v| {
            !requested.iter().any(|(name, value)| {
                same_name(k, name) && (value.as_str() == Some("") || value == v)
            })
        }),
        _ => {
            return Err(ArmError::invalid_content(format!(
                "The operation '{operation}' is not one of 'Merge', 'Replace' or 'Delete'."
            ))
            .with_target("operation"));
        }
    }
    let written = write_tags(&engine, &db, &cx, &id, tags, WRITE).await?;
    Ok(HttpResponse::Ok().json(view(&id, &written)))
}

/// Removes every tag of a subscription, resource group or resource.
#[utoipa::path(tag = "Tags", params(("scope" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "The tags are removed"), (status = "4XX", body = ErrorResponse)))]
#[delete("/{scope:.*}/providers/Microsoft.Resources/tags/default")]
pub async fn delete_tags(
    (req, path, engine, db, vocabulary): Call,
) -> Result<HttpResponse, ArmError> {
    let (cx, id) = target(&req, &path, &vocabulary)?;
    write_tags(&engine, &db, &cx, &id, Map::new(), DELETE).await?;
    Ok(HttpResponse::Ok().finish())
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_tags)
        .service(put_tags)
        .service(patch_tags)
        .service(delete_tags);
}
