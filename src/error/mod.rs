//! The one error type at the edge: an ARM error body with a stable PascalCase code.
//!
//! Every layer has its own thiserror enum; they convert into [`ArmError`] here, in one place,
//! so the mapping from cause to status code is readable as a table.

mod codes;
mod operation;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

pub use codes::ErrorCode;
pub use operation::OperationError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"error": {...}}`, the body of every error Kiln answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

/// ARM's `ErrorDetail`: also the `error` of a failed operation status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub details: Vec<ErrorDetail>,
}

#[derive(Debug, Clone)]
pub struct ArmError {
    pub status: StatusCode,
    /// Boxed: errors travel through every `Result`, so they stay small.
    pub detail: Box<ErrorDetail>,
    /// Extra response headers (`WWW-Authenticate`, `Retry-After`).
    pub headers: Vec<(&'static str, String)>,
    /// The database dropped the connection under a statement (not: no connection came).
    /// A read that failed so may be run again ([`read_on_a_live_connection`]).
    pub connection_lost: bool,
}

impl std::fmt::Display for ArmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.detail.code,
            self.detail.message
        )
    }
}

impl std::error::Error for ArmError {}

impl ArmError {
    /// An error with its code's status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::custom(code.status(), code.as_str(), message)
    }

    /// An error with the message its code means.
    pub fn of(code: ErrorCode) -> Self {
        Self::new(code, code.template())
    }

    /// A code answered with another status than its usual one, where Azure does so.
    pub fn with_status(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::custom(status, code.as_str(), message)
    }

    /// An error code of a type declared outside Kiln (Kiln's own codes are [`ErrorCode`]s).
    pub fn custom(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: Box::new(ErrorDetail {
                code: code.into(),
                message: message.into(),
                target: None,
                details: vec![],
            }),
            headers: vec![],
            connection_lost: false,
        }
    }

    /// An error whose body was written elsewhere (a failed operation's stored error).
    pub fn from_detail(status: StatusCode, detail: ErrorDetail) -> Self {
        Self {
            detail: Box::new(detail),
            ..Self::custom(status, "", "")
        }
    }

    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.detail.target = Some(target.into());
        self
    }

    pub fn with_detail(mut self, code: ErrorCode, message: impl Into<String>) -> Self {
        self.detail.details.push(ErrorDetail {
            code: code.into(),
            message: message.into(),
            target: None,
            details: vec![],
        });
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn invalid_content(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequestContent, message)
    }

    pub fn missing_api_version() -> Self {
        Self::of(ErrorCode::MissingApiVersionParameter)
    }

    pub fn unauthenticated(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(code, message).with_header(
            "WWW-Authenticate",
            "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\"",
        )
    }

    pub fn authorization_failed(principal: &str, action: &str, scope: &str) -> Self {
        Self::new(
            ErrorCode::AuthorizationFailed,
            format!(
                "The client '{principal}' with object id '{principal}' does not have authorization to perform action \
                 '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh \
                 your credentials."
            ),
        )
    }

    pub fn precondition_failed(message: impl Into<String>) -> Self {
        Self::of(ErrorCode::PreconditionFailed)
            .with_detail(ErrorCode::PreconditionFailedEtagMismatch, message)
    }

    pub fn another_operation(resource_id: &str) -> Self {
        Self::new(
            ErrorCode::AnotherOperationInProgress,
            format!(
                "Another operation is in progress on resource '{resource_id}'. Wait for it to complete and retry."
            ),
        )
    }

    /// A failure we did not expect: the cause goes to the log, never to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::of(ErrorCode::InternalServerError)
    }

    /// The database is away for a moment (see `store::transient`): retry.
    pub fn database_unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "database unavailable");
        Self::of(ErrorCode::DatabaseUnavailable).with_header("Retry-After", "1")
    }

    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "service unavailable");
        Self::of(ErrorCode::ServiceUnavailable).with_header("Retry-After", "1")
    }
}

impl ResponseError for ArmError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header(("x-ms-error-code", self.detail.code.as_str()));
        for (name, value) in &self.headers {
            response.insert_header((*name, value.as_str()));
        }
        response.json(ErrorResponse {
            error: (*self.detail).clone(),
        })
    }
}

impl From<sea_orm::DbErr> for ArmError {
    fn from(err: sea_orm::DbErr) -> Self {
        if crate::store::transient::is_transient(&err) {
            let mut unavailable = Self::database_unavailable(&err);
            unavailable.connection_lost = !matches!(err, sea_orm::DbErr::ConnectionAcquire(_));
            unavailable
        } else {
            Self::internal(&err)
        }
    }
}

impl From<sea_orm::TransactionError<ArmError>> for ArmError {
    fn from(err: sea_orm::TransactionError<ArmError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(arm) => arm,
        }
    }
}

/// Runs `read` again when the database dropped its connection under it, up to
/// [`READ_TRIES`] in all: a read commits nothing, so trying again is safe, and each failed try
/// retires the dead connection it got (a restart or failover leaves a pool with several), so
/// the client gets an answer instead of a 503 for connections the server closed. When no
/// connection came at all the database is down, and waiting again would only delay the 503.
pub async fn read_on_a_live_connection<T, F, Fut>(read: F) -> Result<T, ArmError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ArmError>>,
{
    let mut tries = 1;
    loop {
        match read().await {
            Err(err) if err.connection_lost && tries < READ_TRIES => {
                tracing::info!(error = %err, tries, "read again on another connection");
                tries += 1;
            }
            other => return other,
        }
    }
}

/// How many times a read meets a dropped connection before its 503 goes to the client.
pub const READ_TRIES: u32 = 4;
