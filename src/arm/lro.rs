//! Long-running operations: their monitor URLs and how a status reads.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ErrorDetail;
use crate::store::operation;

use crate::lifecycle::OperationStatus as Status;

pub const IN_PROGRESS: &str = Status::InProgress.as_str();
pub const SUCCEEDED: &str = Status::Succeeded.as_str();
pub const FAILED: &str = Status::Failed.as_str();
pub const CANCELED: &str = Status::Canceled.as_str();

/// Where a client follows an operation. Subscription-scoped so it outlives the resource.
#[derive(Debug, Clone)]
pub struct OperationRef {
    pub id: String,
    pub subscription: String,
    pub namespace: String,
    pub location: String,
    pub api_version: String,
}

impl OperationRef {
    pub fn from_row(row: &operation::Model, subscription: &str) -> Self {
        Self {
            id: row.id.clone(),
            subscription: subscription.to_owned(),
            namespace: row.namespace.clone(),
            location: row.location.clone(),
            api_version: row.api_version.clone(),
        }
    }

    fn is_resource_group_operation(&self) -> bool {
        self.namespace.eq_ignore_ascii_case("Microsoft.Resources")
    }

    /// The `Azure-AsyncOperation` URL. Resource-group operations have none: ARM answers them
    /// with `Location` only, and clients would read a status monitor as JSON.
    pub fn status_url(&self, base: &str) -> Option<String> {
        if self.is_resource_group_operation() {
            return None;
        }
        Some(format!(
            "{base}/subscriptions/{}/providers/{}/locations/{}/operationStatuses/{}?api-version={}",
            self.subscription, self.namespace, self.location, self.id, self.api_version
        ))
    }

    /// The `Location` URL.
    pub fn result_url(&self, base: &str) -> String {
        if self.is_resource_group_operation() {
            return format!(
                "{base}/subscriptions/{}/operationresults/{}?api-version={}",
                self.subscription, self.id, self.api_version
            );
        }
        format!(
            "{base}/subscriptions/{}/providers/{}/locations/{}/operationResults/{}?api-version={}",
            self.subscription, self.namespace, self.location, self.id, self.api_version
        )
    }
}

/// The body of an `Azure-AsyncOperation` status monitor.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationStatus {
    pub id: String,
    pub name: String,
    /// InProgress, Succeeded, Failed or Canceled.
    pub status: String,
    pub start_time: String,
    pub end_time: Option<String>,
    pub percent_complete: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
    pub resource_id: String,
}

pub fn millis_to_rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl OperationStatus {
    pub fn from_row(row: &operation::Model, subscription: &str) -> Self {
        let done = row.status != IN_PROGRESS;
        Self {
            id: format!(
                "/subscriptions/{subscription}/providers/{}/locations/{}/operationStatuses/{}",
                row.namespace, row.location, row.id
            ),
            name: row.id.clone(),
            status: row.status.clone(),
            start_time: millis_to_rfc3339(row.started_at),
            end_time: row.ended_at.map(millis_to_rfc3339),
            percent_complete: if done { 100.0 } else { 0.0 },
            // While running, `error` holds the last attempt's failure, kept for the outcome.
            error: row.error.as_ref().filter(|_| done).and_then(error_of),
            resource_id: row.resource_id.clone(),
        }
    }
}

/// The stored failure: `{"status": 400, "code": …, "message": …}`.
pub fn error_of(value: &Value) -> Option<ErrorDetail> {
    serde_json::from_value(value.clone()).ok()
}

pub fn error_status(value: &Value) -> u16 {
    value
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(400)
}
