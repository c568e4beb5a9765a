//! The generic ARM engine: authorize, validate, and write a resource, its operation, its
//! outbox event and its activity-log row in one transaction. HTTP handlers call it; so will
//! template deployments, without HTTP.

use std::sync::Arc;
use std::time::Duration;

mod delete;
mod preconditions;
mod write;

pub use write::WriteVerb;

use sea_orm::{DatabaseConnection, DatabaseTransaction};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::hooks::RemovalHook;
use super::id::{PathVocabulary, ResourceId};
use super::lro::{self, OperationRef};
use super::registry::{Lookup, Registry, Rendered, ResourceKind};
use crate::activity::{self, ActivityEntry};
use crate::authz::{Ask, Authorizer, SubscriptionDirectory, SubscriptionInfo, Target};
use crate::error::{ArmError, ErrorCode};
use crate::events;
use crate::identity::Caller;
pub use crate::lifecycle::not_found;
use crate::lifecycle::subscription_not_found;
use crate::lifecycle::{Outcome, Verb, group_not_found};
use crate::secrets::MasterKeys;
use crate::store::operations::{self, NewOperation};
use crate::store::{millis, now_millis, resource, resources};

/// Who is asking, and how to address them back.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub caller: Caller,
    pub api_version: String,
    /// `scheme://host` for absolute URLs.
    pub base_url: String,
    pub correlation_id: String,
    /// W3C trace context of the request, carried into the operation and its events.
    pub traceparent: Option<String>,
}

/// `If-Match` / `If-None-Match` as sent.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

#[derive(Debug)]
pub enum WriteOutcome {
    /// Finished synchronously.
    Completed,
    /// An operation is running; follow it.
    Accepted(OperationRef),
}

#[derive(Debug)]
pub struct WriteResult {
    pub created: bool,
    pub outcome: WriteOutcome,
    pub resource: Value,
    pub etag: String,
}

#[derive(Debug)]
pub enum DeleteResult {
    /// Nothing was there (204).
    Absent,
    /// Deleted synchronously (200).
    Deleted,
    /// Deletion runs as an operation (202).
    Accepted(OperationRef),
}

/// What the engine works with is its own: the fields are seen by its reads (`arm/read.rs`) and
/// nowhere else, and callers are handed what they use. Only the registry, the immutable
/// catalogue of served types, is public.
#[derive(Clone)]
pub struct Engine {
    pub(super) db: DatabaseConnection,
    pub registry: Arc<Registry>,
    pub(super) authorizer: Arc<dyn Authorizer>,
    subscriptions: SubscriptionDirectory,
    pub(super) vocabulary: Arc<PathVocabulary>,
    handoff: Handoff,
    /// The master keys sealed secrets are written and read under.
    pub(super) keys: Arc<MasterKeys>,
    /// Runs in every transaction that removes resources.
    removal: Arc<dyn RemovalHook>,
}

/// What the engine decides with: the policy and the subscriptions it walks.
pub struct Access {
    pub authorizer: Arc<dyn Authorizer>,
    pub subscriptions: SubscriptionDirectory,
}

/// How the engine hands work on: whom it wakes when it commits, and how long an operation it
/// starts may run.
#[derive(Clone)]
pub struct Handoff {
    /// Wakes the in-process worker when an operation is committed.
    pub worker: Arc<Notify>,
    /// Wakes the outbox relay when events are committed.
    pub outbox: Arc<Notify>,
    /// When an operation must be finished by, from its start.
    pub operation_deadline: Duration,
}

/// How a request's step ends: its event, activity-log status and HTTP status.
type Ended = (&'static str, &'static str, u16);

/// A write or delete that an operation now carries on.
const ACCEPTED: Ended = (
    events::PROVISIONING_REQUESTED,
    crate::lifecycle::ACCEPTED,
    202,
);

impl CallContext {
    /// The outcome of a step this call took on a resource.
    fn outcome<'a>(
        &'a self,
        (event, status, status_code): Ended,
        verb: Verb,
        generation: i64,
        operation_id: Option<&'a str>,
    ) -> Outcome<'a> {
        Outcome {
            event,
            status,
            status_code,
            verb,
            generation,
            operation_id,
            caller: &self.caller.principal_id,
            correlation_id: &self.correlation_id,
            traceparent: self.traceparent.as_deref(),
        }
    }
}

impl Engine {
    pub fn new(
        db: DatabaseConnection,
        registry: Arc<Registry>,
        vocabulary: Arc<PathVocabulary>,
        access: Access,
        keys: Arc<MasterKeys>,
        removal: Arc<dyn RemovalHook>,
        handoff: Handoff,
    ) -> Self {
        Self {
            db,
            registry,
            authorizer: access.authorizer,
            subscriptions: access.subscriptions,
            vocabulary,
            handoff,
            keys,
            removal,
        }
    }

    /// Records `outcome` for `id` (its event and activity-log row), commits, and wakes the
    /// outbox relay.
    async fn commit(
        &self,
        tx: DatabaseTransaction,
        id: &ResourceId,
        outcome: &Outcome<'_>,
    ) -> Result<(), ArmError> {
        crate::lifecycle::record(&tx, id, outcome).await?;
        tx.commit().await?;
        self.handoff.outbox.notify_one();
        Ok(())
    }

    /// The same engine on another connection pool.
    pub fn with_db(&self, db: DatabaseConnection) -> Self {
        Self {
            subscriptions: self.subscriptions.with_db(db.clone()),
            db,
            ..self.clone()
        }
    }

    /// What a type's visibility hook is asked about `at` for the call `cx`.
    pub(crate) fn lookup<'a, At>(&'a self, cx: &'a CallContext, at: &'a At) -> Lookup<'a, At> {
        Lookup {
            db: &self.db,
            cx,
            at,
        }
    }

    pub fn kind_of(&self, id: &ResourceId) -> Result<&Arc<dyn ResourceKind>, ArmError> {
        self.registry.get(&id.type_key()).ok_or_else(|| {
            ArmError::new(
                ErrorCode::InvalidResourceType,
                format!("The resource type '{}' could not be found.", id.type_name()),
            )
        })
    }

    pub async fn authorize(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        action: &str,
    ) -> Result<(), ArmError> {
        self.authorizer
            .authorize(Ask::new(&cx.caller, action, Target::Resource(id)))
            .await
            .map(|_| ())
    }

    /// A subscription the caller may read (with `action` at it or anywhere in it, as a list
    /// shows it), from the directory the authorizer consults (cached), not another query.
    pub async fn readable_subscription(
        &self,
        caller: &Caller,
        action: &str,
        id: &str,
    ) -> Result<SubscriptionInfo, ArmError> {
        let scope = ResourceId::subscription(id);
        self.authorizer
            .readable(Ask::new(caller, action, Target::Resource(&scope)))
            .await?;
        self.subscriptions
            .find(id)
            .await?
            .ok_or_else(|| subscription_not_found(id))
    }

    async fn tenant_of(&self, subscription: &str) -> Result<String, ArmError> {
        Ok(self
            .subscriptions
            .find(subscription)
            .await?
            .ok_or_else(|| subscription_not_found(subscription))?
            .tenant_id)
    }

    /// A path that only shows a resource stored elsewhere (a hub connection shared into a
    /// project) is read-only. Only types declared to show such rows pay for the check.
    async fn refuse_write_through(
        &self,
        kind: &dyn ResourceKind,
        cx: &CallContext,
        id: &ResourceId,
    ) -> Result<(), ArmError> {
        let shows_others = kind
            .descriptor()
            .verbs
            .list
            .is_some_and(|listing| listing.through_parent);
        if !shows_others {
            return Ok(());
        }
        if !resources::exists(&self.db, &id.key()).await?
            && let Some(shown) = kind.read_through(self.lookup(cx, id)).await?
        {
            return Err(kind.read_only_through(&shown));
        }
        Ok(())
    }

    /// A write that the engine refused still leaves an activity-log row.
    async fn log_refusal<T>(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        verb: &str,
        method: &str,
        result: &Result<T, ArmError>,
    ) {
        let Err(err) = result else { return };
        if err.status.is_server_error() {
            return;
        }
        let action = self
            .kind_of(id)
            .map(|k| k.descriptor().action(verb))
            .unwrap_or_default();
        let entry = ActivityEntry {
            subscription_key: &id.subscription_key(),
            resource_key: &id.key(),
            resource_id: &id.display(),
            operation_name: &action,
            operation_id: None,
            status: lro::FAILED,
            status_code: err.status.as_u16(),
            caller: &cx.caller.principal_id,
            correlation_id: &cx.correlation_id,
            method,
        };
        if let Err(db) = activity::record(&self.db, &entry).await {
            tracing::warn!(error = %db, "could not record a refused write in the activity log");
        }
    }

    /// Starts the operation that carries a write or delete on, in its transaction.
    #[expect(
        clippy::too_many_arguments,
        reason = "the facts of one operation row; a struct would only name them twice"
    )]
    async fn start_operation(
        &self,
        tx: &DatabaseTransaction,
        cx: &CallContext,
        id: &ResourceId,
        verb: &str,
        generation: i64,
        request_hash: &str,
        location: Option<&str>,
    ) -> Result<OperationRef, ArmError> {
        let now = now_millis();
        let row = operations::start(
            tx,
            NewOperation {
                subscription_key: id.subscription_key(),
                resource_key: id.key(),
                resource_id: id.display(),
                namespace: id.namespace(),
                location,
                verb,
                target_generation: generation,
                request_hash,
                api_version: &cx.api_version,
                caller: &cx.caller.principal_id,
                correlation_id: cx.correlation_id.clone(),
                traceparent: cx.traceparent.clone(),
                started_at: now,
                deadline_at: now + millis(self.handoff.operation_deadline),
            },
        )
        .await?;
        Ok(OperationRef::from_row(&row, &id.subscription))
    }

    /// Renders stored rows as ARM resources, with each type's derived properties.
    pub async fn render(&self, rows: Vec<resource::Model>) -> Result<Vec<Value>, ArmError> {
        let mut batches: Vec<(String, Vec<Rendered>)> = Vec::new();
        for row in rows {
            let json = render_row(&self.registry, &row);
            let rendered = Rendered { row, json };
            match batches.last_mut() {
                Some((ty, batch)) if *ty == rendered.row.type_key => batch.push(rendered),
                _ => batches.push((rendered.row.type_key.clone(), vec![rendered])),
            }
        }
        let mut out = Vec::new();
        for (type_key, mut batch) in batches {
            if let Some(kind) = self.registry.get(&type_key) {
                kind.decorate(&self.db, &mut batch).await?;
            }
            out.extend(batch.into_iter().map(|r| r.json));
        }
        Ok(out)
    }

    pub async fn render_one(&self, row: resource::Model) -> Result<Value, ArmError> {
        Ok(self.render(vec![row]).await?.pop().unwrap_or(Value::Null))
    }
}

pub use crate::lifecycle::is_terminal;

/// The generic envelope of a stored row; types add derived properties in `decorate`.
pub fn render_row(registry: &Registry, row: &resource::Model) -> Value {
    let type_name = registry
        .get(&row.type_key)
        .map(|k| k.descriptor().full_type())
        .unwrap_or_else(|| row.type_key.clone());
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(row.id));
    out.insert("name".into(), json!(row.name));
    out.insert("type".into(), json!(type_name));
    if let Some(location) = &row.location {
        out.insert("location".into(), json!(location));
    }
    for member in ["tags", "kind", "sku", "identity", "managedBy", "systemData"] {
        if let Some(value) = row.body.get(member) {
            out.insert(member.into(), value.clone());
        }
    }
    out.insert("etag".into(), json!(row.etag));
    let mut properties = row
        .body
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    properties.insert("provisioningState".into(), json!(row.provisioning_state));
    out.insert("properties".into(), Value::Object(properties));
    Value::Object(out)
}
