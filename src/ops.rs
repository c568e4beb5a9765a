//! Operational endpoints: liveness, readiness, metrics, and the OpenAPI document.

use actix_web::{HttpResponse, get, web};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::metrics::Metrics;

/// The process is up.
#[utoipa::path(tag = "Operations", responses((status = 200, description = "Alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The database answers.
#[utoipa::path(tag = "Operations", responses((status = 200, description = "Ready"), (status = 503, description = "Database unreachable")))]
#[get("/readyz")]
pub async fn readyz(db: web::Data<DatabaseConnection>) -> HttpResponse {
    match crate::store::ping(&db).await {
        Ok(_) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(json!({"status": "database unreachable"}))
        }
    }
}

/// Prometheus metrics: requests by route and status, latency, database pool.
#[utoipa::path(tag = "Operations", responses((status = 200, description = "Prometheus text format")))]
#[get("/metrics")]
pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    metrics.sample_pools();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.encode())
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
