//! Lifecycle events as CloudEvents 1.0, written to the outbox in the transaction of the write
//! that caused them, and published by the relay.

pub mod broker;
pub mod rabbitmq;
pub mod relay;

use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;

use crate::arm::id::ResourceId;
use crate::store::outbox;

pub const PROVISIONING_REQUESTED: &str = "Kiln.Resource.ProvisioningRequested";
pub const WRITE_SUCCESS: &str = "Microsoft.Resources.ResourceWriteSuccess";
pub const WRITE_FAILURE: &str = "Microsoft.Resources.ResourceWriteFailure";
pub const DELETE_SUCCESS: &str = "Microsoft.Resources.ResourceDeleteSuccess";
pub const DELETE_FAILURE: &str = "Microsoft.Resources.ResourceDeleteFailure";

/// What an event says about its resource. Never secrets: ids, counters and who asked.
pub struct EventFacts<'a> {
    pub id: &'a ResourceId,
    pub generation: i64,
    pub operation_id: Option<&'a str>,
    pub operation_name: &'a str,
    pub caller: &'a str,
    pub correlation_id: &'a str,
    /// W3C trace context, as the CloudEvents distributed-tracing extension.
    pub traceparent: Option<&'a str>,
}

impl<'a> EventFacts<'a> {
    /// The facts of an event a worker or the sweeper writes for an operation.
    pub fn of_operation(
        op: &'a crate::store::operation::Model,
        id: &'a ResourceId,
        action: &'a str,
    ) -> Self {
        Self {
            id,
            generation: op.target_generation,
            operation_id: Some(&op.id),
            operation_name: action,
            caller: &op.caller,
            correlation_id: &op.correlation_id,
            traceparent: op.traceparent.as_deref(),
        }
    }
}

/// `microsoft.machinelearningservices.workspaces.provisioningrequested`: namespace, type path
/// with `/` as `.`, and the last segment of the event type, lower-cased.
pub fn routing_key(id: &ResourceId, event_type: &str) -> String {
    let event = event_type.rsplit('.').next().unwrap_or(event_type);
    format!("{}.{}", id.type_name().replace('/', "."), event).to_lowercase()
}

pub async fn enqueue(
    db: &impl ConnectionTrait,
    event_type: &str,
    facts: &EventFacts<'_>,
) -> Result<(), DbErr> {
    let event_id = uuid::Uuid::new_v4().to_string();
    let source = facts
        .id
        .group_id()
        .unwrap_or_else(|| ResourceId::subscription(&facts.id.subscription))
        .display();
    let mut payload = json!({
        "specversion": "1.0",
        "type": event_type,
        "source": source,
        "subject": facts.id.display(),
        "id": event_id,
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "datacontenttype": "application/json",
        "data": {
            "resourceUri": facts.id.display(),
            "subscriptionId": facts.id.subscription,
            "operationName": facts.operation_name,
            "generation": facts.generation,
            "operationId": facts.operation_id,
            "caller": facts.caller,
            "correlationId": facts.correlation_id,
        }
    });
    if let (Some(traceparent), Some(event)) = (facts.traceparent, payload.as_object_mut()) {
        event.insert("traceparent".into(), json!(traceparent));
    }
    outbox::append(
        db,
        outbox::NewEvent {
            event_id,
            resource_key: facts.id.key(),
            event_type: event_type.into(),
            routing_key: routing_key(facts.id, event_type),
            payload,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_follow_the_type_path() {
        let id = ResourceId::resource(
            "s",
            "g",
            "Microsoft.MachineLearningServices",
            &[("workspaces", "w"), ("connections", "c")],
        );
        assert_eq!(
            routing_key(&id, DELETE_SUCCESS),
            "microsoft.machinelearningservices.workspaces.connections.resourcedeletesuccess"
        );
        let ws = ResourceId::resource(
            "s",
            "g",
            "Microsoft.MachineLearningServices",
            &[("workspaces", "w")],
        );
        assert_eq!(
            routing_key(&ws, PROVISIONING_REQUESTED),
            "microsoft.machinelearningservices.workspaces.provisioningrequested"
        );
    }
}
