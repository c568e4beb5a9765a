//! Reading the activity log through ARM's own endpoint:
//! `GET /subscriptions/{s}/providers/Microsoft.Insights/eventtypes/management/values`.

use actix_web::{HttpResponse, get, web};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use crate::arm::http::{self, PagedCall};
use crate::arm::id::ResourceId;
use crate::arm::lro::millis_to_rfc3339;
use crate::arm::read::{DEFAULT_PAGE, MAX_PAGE, decode_token, encode_token};
use crate::error::{ArmError, ErrorCode, ErrorResponse};
use crate::store::activity::{self, LogQuery};

/// The activity log's api-versions are Microsoft.Insights' `eventtypes`.
pub const EVENTS_TYPE: &str = "Microsoft.Insights/eventtypes";

/// Reading the activity log.
pub const READ: &str = "Microsoft.Insights/eventtypes/values/read";

#[derive(Default)]
struct Filter {
    resource_uri: Option<String>,
    correlation_id: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
}

fn quoted(value: &str) -> Option<&str> {
    value.trim().strip_prefix('\'')?.strip_suffix('\'')
}

fn timestamp(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(quoted(value)?)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// `eventTimestamp ge '…' and eventTimestamp le '…' and resourceUri eq '…' and correlationId eq '…'`.
fn parse_filter(raw: Option<&str>) -> Result<Filter, ArmError> {
    let mut filter = Filter::default();
    let Some(raw) = raw else { return Ok(filter) };
    let invalid = |clause: &str| {
        ArmError::new(
            ErrorCode::InvalidFilterInQueryString,
            format!(
                "The $filter clause '{clause}' is not supported. Supported: eventTimestamp ge/le '<RFC 3339>', resourceUri eq \
                 '<id>', correlationId eq '<id>', joined by 'and'."
            ),
        )
    };
    for clause in raw.split(" and ").map(str::trim).filter(|c| !c.is_empty()) {
        let mut parts = clause.splitn(3, ' ');
        let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(clause));
        };
        match (
            field.to_ascii_lowercase().as_str(),
            op.to_ascii_lowercase().as_str(),
        ) {
            ("resourceuri", "eq") => {
                filter.resource_uri =
                    Some(quoted(value).ok_or_else(|| invalid(clause))?.to_lowercase())
            }
            ("correlationid", "eq") => {
                filter.correlation_id =
                    Some(quoted(value).ok_or_else(|| invalid(clause))?.to_owned())
            }
            ("eventtimestamp", "ge") => {
                filter.from = Some(timestamp(value).ok_or_else(|| invalid(clause))?)
            }
            ("eventtimestamp", "le") => {
                filter.to = Some(timestamp(value).ok_or_else(|| invalid(clause))?)
            }
            _ => return Err(invalid(clause)),
        }
    }
    Ok(filter)
}

fn view(row: &activity::Model, subscription: &str) -> Value {
    let provider = row.operation_name.split('/').next().unwrap_or_default();
    json!({
        "id": format!("{}/events/{}", row.resource_id, row.event_id),
        "eventDataId": row.event_id,
        "caller": row.caller,
        "correlationId": row.correlation_id,
        "operationId": row.operation_id,
        "operationName": {"value": row.operation_name, "localizedValue": row.operation_name},
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "level": if row.status == "Failed" { "Error" } else { "Informational" },
        "resourceId": row.resource_id,
        "resourceProviderName": {"value": provider, "localizedValue": provider},
        "status": {"value": row.status, "localizedValue": row.status},
        "subStatus": {"value": row.status_code.to_string(), "localizedValue": row.status_code.to_string()},
        "httpRequest": {"method": row.method},
        "eventTimestamp": millis_to_rfc3339(row.at),
        "submissionTimestamp": millis_to_rfc3339(row.at),
        "subscriptionId": subscription,
    })
}

/// The activity log of a subscription, oldest first: every write with its caller, operation,
/// status and correlation id.
#[utoipa::path(tag = "ActivityLog",
    params(("subscriptionId" = String, Path), ("api-version" = String, Query), ("$filter" = Option<String>, Query), ("$top" = Option<u64>, Query), ("$skipToken" = Option<String>, Query)),
    responses((status = 200, description = "`{value: [EventData], nextLink}`"), (status = "4XX", body = ErrorResponse)))]
#[get("/subscriptions/{subscriptionId}/providers/Microsoft.Insights/eventtypes/management/values")]
pub async fn list_events(
    (req, hreq, path, engine): PagedCall<String>,
    db: web::Data<DatabaseConnection>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context_for(EVENTS_TYPE)?;
    let sub = ResourceId::subscription(&path);
    engine.authorize(&cx, &sub, READ).await?;
    let filter = parse_filter(req.param("$filter"))?;
    let limit = req.top()?.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let after = match req.skip_token() {
        Some(token) => Some(decode_token(token)?.parse::<i64>().map_err(|_| {
            ArmError::new(
                ErrorCode::InvalidSkipToken,
                "The continuation token ($skipToken) is invalid.",
            )
        })?),
        None => None,
    };
    let query = LogQuery {
        subscription_key: sub.subscription_key(),
        resource_key: filter.resource_uri,
        correlation_id: filter.correlation_id,
        from: filter.from,
        to: filter.to,
        after,
        limit: limit + 1,
    };
    let mut rows = activity::list(db.get_ref(), query).await?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        rows.last()
            .map(|r| req.next_link(&hreq, &encode_token(&r.seq.to_string())))
    } else {
        None
    };
    Ok(http::list(
        rows.iter().map(|r| view(r, &path)).collect(),
        next,
    ))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_events);
}
