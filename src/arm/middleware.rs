//! What every request goes through: canonical path casing, request and correlation ids,
//! metrics; and the ARM answer for routes that do not exist.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::uri::PathAndQuery;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use tracing::Instrument;

use super::contract::AllowedMethods;
use super::http::CorrelationId;
use super::id::PathVocabulary;
use crate::error::{ArmError, ErrorCode};
use crate::metrics::Metrics;

fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}

fn rewrite_path(req: &mut ServiceRequest, vocabulary: &PathVocabulary) {
    let Some(path) = vocabulary.canonicalize_path(req.uri().path()) else {
        return;
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = req.uri().clone().into_parts();
    let Ok(pq) = PathAndQuery::try_from(path_and_query) else {
        return;
    };
    parts.path_and_query = Some(pq);
    let Ok(uri) = Uri::from_parts(parts) else {
        return;
    };
    req.match_info_mut().get_mut().update(&uri);
    req.head_mut().uri = uri;
}

/// The one middleware of the ARM surface.
pub async fn arm_edge(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    if let Some(vocabulary) = req.app_data::<web::Data<Arc<PathVocabulary>>>().cloned() {
        rewrite_path(&mut req, &vocabulary);
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let correlation = req
        .headers()
        .get("x-ms-correlation-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    let client_request_id = req.headers().get("x-ms-client-request-id").cloned();
    req.extensions_mut()
        .insert(CorrelationId(correlation.clone()));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let span = tracing::info_span!("request", %method, path = %req.path(), request_id = %request_id, correlation_id = %correlation);

    let mut res = match oversized(&req) {
        Some(refusal) => req
            .into_response(refusal.error_response())
            .map_into_right_body(),
        None => next
            .call(req)
            .instrument(span.clone())
            .await?
            .map_into_left_body(),
    };

    let headers = res.headers_mut();
    for (name, value) in [
        ("x-ms-request-id", header_value(&request_id)),
        ("x-ms-correlation-request-id", header_value(&correlation)),
    ] {
        if let Some(value) = value {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    // ARM's default, unless a handler chose stricter (listsecrets answers `no-store`).
    if !headers.contains_key(actix_web::http::header::CACHE_CONTROL) {
        headers.insert(
            actix_web::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        );
    }
    if let Some(client) = client_request_id {
        headers.insert(HeaderName::from_static("x-ms-client-request-id"), client);
    }
    let status = res.status().as_u16();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, status, started.elapsed());
    }
    tracing::info!(
        status,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "handled"
    );
    Ok(res)
}

/// The longest request target (path and query) Kiln reads: ARM ids stop at 2,048 characters,
/// and a filter or token past this is not one a client means.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes (names and values) one request may carry.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// A request too large to read further, refused before any handler parses it.
fn oversized(req: &ServiceRequest) -> Option<ArmError> {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(ArmError::new(
            ErrorCode::RequestUriTooLong,
            format!("The request URI is {target} bytes long; the limit is {MAX_URI_BYTES}."),
        ));
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    (headers > MAX_HEADER_BYTES).then(|| {
        ArmError::new(
            ErrorCode::RequestHeadersTooLarge,
            format!("The request headers are {headers} bytes; the limit is {MAX_HEADER_BYTES}."),
        )
    })
}

/// Unknown paths and methods get ARM error bodies rather than actix's empty ones.
pub async fn not_served(
    req: HttpRequest,
    vocabulary: web::Data<Arc<PathVocabulary>>,
    allowed: Option<web::Data<Arc<AllowedMethods>>>,
) -> HttpResponse {
    let path = req.path();
    if req.resource_map().has_resource(path) {
        let mut refusal = ArmError::new(
            ErrorCode::MethodNotAllowed,
            format!(
                "The HTTP method '{}' is not supported for the path '{path}'.",
                req.method()
            ),
        );
        // RFC 9110: a 405 says which methods the path has.
        if let Some(allow) = allowed.as_ref().and_then(|a| a.of_path(path)) {
            refusal = refusal.with_header("Allow", allow);
        }
        return refusal.error_response();
    }
    let segments: Vec<&str> = path.split('/').collect();
    if let Some(pos) = segments
        .iter()
        .position(|s| s.eq_ignore_ascii_case("providers"))
        && let Some(namespace) = segments.get(pos + 1).filter(|n| !n.is_empty())
    {
        if !vocabulary.contains(namespace) {
            return ArmError::with_status(
                actix_web::http::StatusCode::NOT_FOUND,
                ErrorCode::InvalidResourceNamespace,
                format!("The resource namespace '{namespace}' is invalid."),
            )
            .error_response();
        }
        return ArmError::new(
                ErrorCode::InvalidResourceType,
                format!("The resource type could not be found in the namespace '{namespace}' for the path '{path}'."),
            )
            .error_response();
    }
    ArmError::new(
        ErrorCode::NotFound,
        format!("No route matches the path '{path}'."),
    )
    .error_response()
}
