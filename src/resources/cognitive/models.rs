//! What an account can deploy and what it has used: `GET …/accounts/{a}/models`,
//! `GET /subscriptions/{s}/providers/Microsoft.CognitiveServices/locations/{l}/models`, and
//! the usages (quota) of a region and of an account.

use actix_web::{HttpResponse, get, web};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use super::ACCOUNTS;
use super::quota;
use crate::arm::engine::Engine;
use crate::arm::http::ArmRequest;
use crate::arm::id::ResourceId;
use crate::config::regions::normalize_location;
use crate::error::{ArmError, ErrorCode, ErrorResponse};
use crate::store::resources;

/// The endpoints take the accounts' api-versions (they are in the same specification).
const TYPE: &str = "Microsoft.CognitiveServices/accounts";
pub const READ_LOCATION_MODELS: &str = "Microsoft.CognitiveServices/locations/models/read";
pub const READ_LOCATION_USAGES: &str = "Microsoft.CognitiveServices/locations/usages/read";
pub const READ_ACCOUNT_MODELS: &str = "Microsoft.CognitiveServices/accounts/models/read";
pub const READ_ACCOUNT_USAGES: &str = "Microsoft.CognitiveServices/accounts/usages/read";

/// The account at the path, if the caller may `action` on it.
async fn account_at(
    req: &ArmRequest,
    engine: &Engine,
    db: &DatabaseConnection,
    (subscription, group, name): &(String, String, String),
    action: &str,
) -> Result<crate::store::resource::Model, ArmError> {
    let cx = req.context_for(TYPE)?;
    let id = ResourceId::resource(subscription, group, super::NAMESPACE, &[("accounts", name)]);
    engine.authorize(&cx, &id, action).await?;
    match resources::find_of_type(db, &id.key(), &ACCOUNTS.type_key()).await? {
        Some(account) => Ok(account),
        None => Err(engine.absent(&id).await?),
    }
}

/// The one `$filter` the usages lists take (the spec's): `name.value eq 'OpenAI.Standard.gpt-4o'`.
fn usage_name_filter(raw: Option<&str>) -> Result<Option<String>, ArmError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let refused = || {
        ArmError::new(
            ErrorCode::InvalidFilter,
            format!("The $filter '{raw}' is not supported. Use name.value eq '<quota name>'."),
        )
    };
    let mut words = raw.splitn(3, ' ');
    let (Some(field), Some(op), Some(value)) = (words.next(), words.next(), words.next()) else {
        return Err(refused());
    };
    if !field.eq_ignore_ascii_case("name.value") || !op.eq_ignore_ascii_case("eq") {
        return Err(refused());
    }
    let value = value.trim();
    value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .map(|v| Some(v.to_owned()))
        .ok_or_else(refused)
}

/// `body` with only the usage named `name`, when there is a filter.
fn filtered(mut body: Value, name: Option<String>) -> Value {
    if let (Some(name), Some(value)) = (name, body["value"].as_array_mut()) {
        value.retain(|u| {
            u["name"]["value"]
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case(&name))
        });
    }
    body
}

type AccountCall = (
    ArmRequest,
    web::Path<(String, String, String)>,
    web::Data<Engine>,
    web::Data<DatabaseConnection>,
);

type LocationCall = (
    ArmRequest,
    web::Path<(String, String)>,
    web::Data<Engine>,
    web::Data<DatabaseConnection>,
);

/// The models an account can deploy: the catalog's for its kind and region.
#[utoipa::path(tag = "Models",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("accountName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "`{value: [AccountModel]}`"), (status = "4XX", body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.CognitiveServices/accounts/{accountName}/models"
)]
pub async fn list_account_models(
    (req, path, engine, db): AccountCall,
) -> Result<HttpResponse, ArmError> {
    let account = account_at(&req, &engine, &db, &path, READ_ACCOUNT_MODELS).await?;
    let catalog = &engine.registry.type_settings().model_catalog;
    let location = account.location.as_deref().unwrap_or_default();
    let value: Vec<Value> = catalog
        .offered(account.body["kind"].as_str(), location)
        .map(|e| e.shown_in(location)["model"].clone())
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "value": value })))
}

/// The models offered in a region, for every kind.
#[utoipa::path(tag = "Models",
    params(("subscriptionId" = String, Path), ("location" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "`{value: [Model]}`"), (status = "4XX", body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/providers/Microsoft.CognitiveServices/locations/{location}/models"
)]
pub async fn list_location_models(
    (req, path, engine, _db): LocationCall,
) -> Result<HttpResponse, ArmError> {
    req.version_for(TYPE)?;
    let (subscription, location) = &*path;
    engine
        .readable_subscription(&req.caller, READ_LOCATION_MODELS, subscription)
        .await?;
    let location = normalize_location(location);
    let value: Vec<Value> = engine
        .registry
        .type_settings()
        .model_catalog
        .offered(None, &location)
        .map(|e| e.shown_in(&location))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "value": value })))
}

/// The quotas of a subscription in a region: limit and current usage per quota name.
#[utoipa::path(tag = "Usages",
    params(("subscriptionId" = String, Path), ("location" = String, Path), ("api-version" = String, Query), ("$filter" = Option<String>, Query)),
    responses((status = 200, description = "`{value: [Usage]}`"), (status = "4XX", body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/providers/Microsoft.CognitiveServices/locations/{location}/usages"
)]
pub async fn list_location_usages(
    (req, path, engine, db): LocationCall,
) -> Result<HttpResponse, ArmError> {
    req.version_for(TYPE)?;
    let name = usage_name_filter(req.param("$filter"))?;
    let (subscription, location) = &*path;
    let found = engine
        .readable_subscription(&req.caller, READ_LOCATION_USAGES, subscription)
        .await?;
    let subscription_key = ResourceId::subscription(&found.subscription_id).subscription_key();
    let body = quota::usages(
        &**db,
        engine.registry.type_settings(),
        &subscription_key,
        &normalize_location(location),
        None,
    )
    .await?;
    Ok(HttpResponse::Ok().json(filtered(body, name)))
}

/// The quotas of the account's region, with what this account uses of each.
#[utoipa::path(tag = "Usages",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("accountName" = String, Path), ("api-version" = String, Query), ("$filter" = Option<String>, Query)),
    responses((status = 200, description = "`{value: [Usage]}`"), (status = "4XX", body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.CognitiveServices/accounts/{accountName}/usages"
)]
pub async fn list_account_usages(
    (req, path, engine, db): AccountCall,
) -> Result<HttpResponse, ArmError> {
    let account = account_at(&req, &engine, &db, &path, READ_ACCOUNT_USAGES).await?;
    let name = usage_name_filter(req.param("$filter"))?;
    let body = quota::usages(
        &**db,
        engine.registry.type_settings(),
        &account.subscription_key,
        account.location.as_deref().unwrap_or_default(),
        Some(&account.id_key),
    )
    .await?;
    Ok(HttpResponse::Ok().json(filtered(body, name)))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_account_models)
        .service(list_location_models)
        .service(list_location_usages)
        .service(list_account_usages);
}
