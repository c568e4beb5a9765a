//! The authentication step of every request: validates the bearer token, if any, and leaves
//! the outcome in the request's extensions for the [`Caller`](super::Caller) extractor.
//!
//! A middleware rather than the extractor itself because validation may have to wait (for a
//! provider's new keys) and extractors are synchronous. Requests without a token pass through
//! untouched: public endpoints (the token endpoint, discovery, metadata) need none, and the
//! extractor answers 401 wherever a caller is required.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

use super::caller::Caller;
use super::origin::request_origin;
use super::validator::{AuthError, TokenValidator};

/// The outcome of validating the request's token.
#[derive(Debug, Clone)]
pub struct Authentication(pub Result<Caller, AuthError>);

pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let header = req
        .headers()
        .get("authorization")
        .map(|v| v.to_str().map(str::to_owned));
    let outcome = match (header, req.app_data::<web::Data<Arc<TokenValidator>>>()) {
        (None, _) => Err(AuthError::Missing),
        (Some(Err(_)), _) => Err(AuthError::NotBearer),
        (Some(Ok(header)), Some(validator)) => {
            let origin = request_origin(req.request());
            let outcome = validator.validate(Some(&header), &origin).await;
            if let Err(err) = &outcome {
                tracing::debug!(reason = %err, "bearer token refused");
            }
            outcome
        }
        (Some(Ok(_)), None) => {
            tracing::error!("no token validator configured");
            Err(AuthError::Malformed)
        }
    };
    req.extensions_mut().insert(Authentication(outcome));
    next.call(req).await
}
