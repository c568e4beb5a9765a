//! The regions Kiln offers, as `az account list-locations` reads them:
//! `GET /subscriptions/{s}/locations` and `GET /locations`, at Microsoft.Resources'
//! subscriptions api-versions. The set is the settings' (`KILN_REGIONS`).

use actix_web::{HttpResponse, get};
use serde_json::{Value, json};

use crate::arm::engine::Engine;
use crate::config::regions::Region;
use crate::error::{ArmError, ErrorResponse};
use crate::resources::providers::{OneParamCall, TenantCall, subscription_prefix};

const TYPE: &str = "Microsoft.Resources/locations";

/// One region under `prefix` (a subscription's id, or empty at the tenant).
fn view(prefix: &str, region: &Region) -> Value {
    let meta = &region.metadata;
    let paired: Vec<Value> = meta
        .paired_region
        .iter()
        .map(|name| json!({"name": name, "id": format!("{prefix}/locations/{name}")}))
        .collect();
    json!({
        "id": format!("{prefix}/locations/{}", region.name),
        "name": region.name,
        "type": "Region",
        "displayName": region.display_name,
        "regionalDisplayName": region.regional_display_name,
        "metadata": {
            "regionType": meta.region_type,
            "regionCategory": meta.region_category,
            "geography": meta.geography,
            "geographyGroup": meta.geography_group,
            "longitude": meta.longitude,
            "latitude": meta.latitude,
            "physicalLocation": meta.physical_location,
            "pairedRegion": paired,
        },
    })
}

fn list(engine: &Engine, prefix: &str) -> HttpResponse {
    let value: Vec<Value> = engine
        .registry
        .regions()
        .all()
        .iter()
        .map(|r| view(prefix, r))
        .collect();
    HttpResponse::Ok().json(json!({ "value": value }))
}

/// The regions a subscription may place resources in.
#[utoipa::path(tag = "Locations", params(("subscriptionId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "`{value: [Location]}`"), (status = "4XX", body = ErrorResponse)))]
#[get("/subscriptions/{subscriptionId}/locations")]
pub async fn list_locations(call: OneParamCall) -> Result<HttpResponse, ArmError> {
    let prefix = subscription_prefix(&call, TYPE).await?;
    Ok(list(&call.2, &prefix))
}

/// The regions Kiln offers, at the tenant.
#[utoipa::path(tag = "Locations", params(("api-version" = String, Query)),
    responses((status = 200, description = "`{value: [Location]}`"), (status = "4XX", body = ErrorResponse)))]
#[get("/locations")]
pub async fn list_tenant_locations((req, engine): TenantCall) -> Result<HttpResponse, ArmError> {
    req.version_for(TYPE)?;
    Ok(list(&engine, ""))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_locations).service(list_tenant_locations);
}
