//! The provider-level endpoints of Microsoft.CognitiveServices that are not resources:
//! `POST /subscriptions/{s}/providers/Microsoft.CognitiveServices/checkDomainAvailability`
//! and `GET /subscriptions/{s}/providers/Microsoft.CognitiveServices/skus` (kinds × skus ×
//! the regions Kiln offers).

use actix_web::{HttpResponse, get, post, web};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use super::SUBDOMAIN_REALM;
use crate::arm::engine::Engine;
use crate::arm::http::{ArmRequest, JsonBody};
use crate::error::{ArmError, ErrorCode, ErrorResponse};
use crate::resources::providers::OneParamCall;
use crate::store::reserved_names;

/// The endpoints take the accounts' api-versions (they are in the same specification).
pub const TYPE: &str = "Microsoft.CognitiveServices/accounts";
pub const CHECK_DOMAIN: &str = "Microsoft.CognitiveServices/checkDomainAvailability/action";
pub const READ_SKUS: &str = "Microsoft.CognitiveServices/skus/read";

/// The kinds Kiln knows, each with the skus it offers (Azure's names). An account of another
/// kind is accepted with the sku it names.
const SKUS: &[(&str, &[(&str, &str)])] = &[
    ("AIServices", &[("S0", "Standard")]),
    ("OpenAI", &[("S0", "Standard")]),
    ("CognitiveServices", &[("S0", "Standard")]),
    ("ContentSafety", &[("F0", "Free"), ("S0", "Standard")]),
    ("ComputerVision", &[("F0", "Free"), ("S1", "Standard")]),
    ("FormRecognizer", &[("F0", "Free"), ("S0", "Standard")]),
    ("SpeechServices", &[("F0", "Free"), ("S0", "Standard")]),
    ("TextAnalytics", &[("F0", "Free"), ("S", "Standard")]),
    ("TextTranslation", &[("F0", "Free"), ("S1", "Standard")]),
];

/// The sku names a known kind offers; `None` for a kind Kiln does not list.
pub(super) fn skus_of_kind(kind: &str) -> Option<Vec<&'static str>> {
    SKUS.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(kind))
        .map(|(_, skus)| skus.iter().map(|(name, _)| *name).collect())
}

/// Whether a subdomain is free, as Azure answers it (200 either way).
#[utoipa::path(tag = "CognitiveServices",
    params(("subscriptionId" = String, Path), ("api-version" = String, Query)),
    request_body = Value,
    responses((status = 200, description = "DomainAvailability"), (status = "4XX", body = ErrorResponse)))]
#[post(
    "/subscriptions/{subscriptionId}/providers/Microsoft.CognitiveServices/checkDomainAvailability"
)]
pub async fn check_domain_availability(
    req: ArmRequest,
    path: web::Path<String>,
    engine: web::Data<Engine>,
    db: web::Data<DatabaseConnection>,
    body: JsonBody,
) -> Result<HttpResponse, ArmError> {
    req.version_for(TYPE)?;
    engine
        .readable_subscription(&req.caller, CHECK_DOMAIN, &path)
        .await?;
    let Some(name) = body.0.get("subdomainName").and_then(Value::as_str) else {
        return Err(ArmError::new(
            ErrorCode::InvalidRequestContent,
            "The request body needs subdomainName (and type: 'Microsoft.CognitiveServices/accounts').",
        )
        .with_target("subdomainName"));
    };
    let taken = reserved_names::holder(&**db, SUBDOMAIN_REALM, &name.to_lowercase())
        .await?
        .is_some();
    let reason = taken.then(|| {
        format!("Sub domain name '{name}' is already used. Please pick a different name.")
    });
    Ok(HttpResponse::Ok().json(json!({
        "isSubdomainAvailable": !taken,
        "reason": reason,
        "subdomainName": name,
        "type": body.0.get("type").cloned().unwrap_or_else(|| json!(TYPE)),
        "kind": body.0.get("kind"),
    })))
}

/// Every kind × sku, each offered in every region Kiln offers.
#[utoipa::path(tag = "CognitiveServices",
    params(("subscriptionId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "`{value: [ResourceSku]}`"), (status = "4XX", body = ErrorResponse)))]
#[get("/subscriptions/{subscriptionId}/providers/Microsoft.CognitiveServices/skus")]
pub async fn list_skus((req, path, engine): OneParamCall) -> Result<HttpResponse, ArmError> {
    req.version_for(TYPE)?;
    engine
        .readable_subscription(&req.caller, READ_SKUS, &path)
        .await?;
    let regions = engine.registry.regions().all();
    let mut value = Vec::new();
    for (kind, skus) in SKUS {
        for (name, tier) in *skus {
            for region in regions {
                // Azure spells the region upper-case here; az compares kinds exactly.
                let location = region.name.to_uppercase();
                value.push(json!({
                    "resourceType": "accounts",
                    "name": name,
                    "tier": tier,
                    "kind": kind,
                    "locations": [location],
                    "locationInfo": [{"location": location, "zones": []}],
                    "restrictions": [],
                }));
            }
        }
    }
    Ok(HttpResponse::Ok().json(json!({ "value": value })))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(check_domain_availability).service(list_skus);
}
