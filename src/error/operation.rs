//! The error a failed or canceled operation keeps (`operations.error`): the ARM error detail
//! its status monitor shows, and the status its `Location` monitor answers with.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ErrorCode, ErrorDetail};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationError {
    /// The HTTP status of the failure (409 for a provisioning failure, as ARM answers).
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl OperationError {
    /// A failure with one of Kiln's codes, answered as 409 Conflict like ARM's failed
    /// provisioning, unless the code means a server error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = if code.status().is_server_error() {
            code.status().as_u16()
        } else {
            409
        };
        Self::with_status(status, code.as_str(), message)
    }

    /// A failure with a code a provisioner chose (types declared outside Kiln have their own).
    pub fn with_status(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// As stored in `operations.error`.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// A stored error, if it has this shape.
    pub fn from_value(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }

    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code.clone(),
            message: self.message.clone(),
            target: None,
            details: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_errors_keep_their_status_code_and_message() {
        let failed = OperationError::new(ErrorCode::OperationTimedOut, "too slow");
        assert_eq!(failed.to_value()["status"], 409);
        assert_eq!(OperationError::from_value(&failed.to_value()), Some(failed));
        let crashed = OperationError::new(ErrorCode::ProvisionerFailed, "boom");
        assert_eq!(crashed.status, 500);
    }
}
