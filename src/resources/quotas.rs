//! The platform administrator's quota limits: `PUT
//! /admin/subscriptions/{s}/quotas/{namespace}/{location}/{name}` with `{"limit": N}` (or
//! `null` to go back to the default) and `kiln quota set`. The one quota mechanism: a
//! provider's types read the limit where they count usage (Cognitive Services deployments
//! today).

use actix_web::{HttpResponse, put, web};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use crate::arm::http::JsonBody;
use crate::arm::id::ResourceId;
use crate::config::regions::normalize_location;
use crate::error::{ArmError, ErrorCode, ErrorResponse};
use crate::identity::Caller;
use crate::lifecycle::subscription_not_found;
use crate::resources::subscriptions::PlatformAdmin;
use crate::store::{quotas, subscriptions};

/// Sets an administrator's limit; `None` goes back to the quota name's default.
pub async fn set_limit(
    db: &DatabaseConnection,
    subscription_id: &str,
    namespace: &str,
    location: &str,
    name: &str,
    limit: Option<i64>,
) -> Result<(), ArmError> {
    let subscription_key = ResourceId::subscription(subscription_id).subscription_key();
    if subscriptions::find(db, &subscription_key).await?.is_none() {
        return Err(subscription_not_found(subscription_id));
    }
    if limit.is_some_and(|l| l < 0) {
        return Err(ArmError::new(
            ErrorCode::InvalidRequestContent,
            "The limit must be a whole number of at least 0, or null for the default.",
        )
        .with_target("limit"));
    }
    quotas::set_limit(
        db,
        &subscription_key,
        &normalize_location(location),
        namespace,
        name,
        limit,
    )
    .await?;
    Ok(())
}

/// Sets a quota limit of a subscription in a region. Platform administrators only.
#[utoipa::path(tag = "Admin", request_body = Value,
    params(("subscriptionId" = String, Path), ("namespace" = String, Path), ("location" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "The limit as set"), (status = "4XX", body = ErrorResponse)))]
#[put("/admin/subscriptions/{subscriptionId}/quotas/{namespace}/{location}/{name}")]
pub async fn admin_set_quota(
    caller: Caller,
    path: web::Path<(String, String, String, String)>,
    body: JsonBody,
    admin: web::Data<PlatformAdmin>,
    db: web::Data<DatabaseConnection>,
) -> Result<HttpResponse, ArmError> {
    admin.require(&caller, "Kiln.Admin/quotas/write")?;
    let (subscription, namespace, location, name) = &*path;
    let limit = match body.0.get("limit") {
        Some(Value::Null) => None,
        Some(value) => Some(value.as_i64().ok_or_else(|| {
            ArmError::new(
                ErrorCode::InvalidRequestContent,
                "The limit must be a whole number or null.",
            )
            .with_target("limit")
        })?),
        None => {
            return Err(ArmError::new(
                ErrorCode::InvalidRequestContent,
                "The request body needs limit: a whole number, or null for the default.",
            )
            .with_target("limit"));
        }
    };
    set_limit(&db, subscription, namespace, location, name, limit).await?;
    Ok(HttpResponse::Ok().json(json!({
        "subscriptionId": subscription,
        "namespace": namespace,
        "location": normalize_location(location),
        "name": name,
        "limit": limit,
    })))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(admin_set_quota);
}
