//! The generic ARM engine: authorize, validate, and write a resource, its operation, its
//! outbox event and its activity-log row in one transaction. HTTP handlers call it; so will
//! template deployments, without HTTP.

use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::envelope::{self, Spec};
use super::id::{PathVocabulary, ResourceId};
use super::lro::{self, OperationRef};
use super::registry::{PrepareContext, Registry, Rendered, ResourceKind};
use crate::activity::{self, ActivityEntry};
use crate::authz::{Authorizer, SubscriptionDirectory, Target, subscription_not_found};
use crate::config::WorkerSettings;
use crate::error::ArmError;
use crate::events;
use crate::identity::Caller;
use crate::lifecycle::{self, Holder, Outcome, ProvisioningState, Verb};
use crate::secrets::MasterKeys;
use crate::store::{now_millis, operation, resource, role_assignment};

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

/// A PUT or PATCH on its way into the transaction.
struct Write<'a> {
    verb: Verb,
    body: &'a Value,
    pre: &'a Preconditions,
    /// The caller's authorization on each resource the body links to; required on create.
    links: Vec<Result<(), ArmError>>,
}

#[derive(Clone)]
pub struct Engine {
    pub db: DatabaseConnection,
    pub registry: Arc<Registry>,
    pub authorizer: Arc<dyn Authorizer>,
    pub subscriptions: SubscriptionDirectory,
    pub vocabulary: Arc<PathVocabulary>,
    /// Wakes the in-process worker when an operation is committed.
    pub wake: Arc<Notify>,
    /// Wakes the outbox relay when events are committed.
    pub outbox_wake: Arc<Notify>,
    pub worker: WorkerSettings,
    /// The master keys sealed secrets are written and read under.
    pub keys: Arc<MasterKeys>,
}

fn etag() -> String {
    format!("\"{}\"", uuid::Uuid::new_v4().simple())
}

fn strip_weak(tag: &str) -> &str {
    tag.trim().trim_start_matches("W/")
}

pub fn not_found(id: &ResourceId) -> ArmError {
    match (&id.provider, &id.resource_group) {
        (Some(_), Some(group)) => ArmError::not_found(
            "ResourceNotFound",
            format!(
                "The Resource '{}/{}' under resource group '{group}' was not found. For more details please go to \
                 https://aka.ms/ARMResourceNotFoundFix",
                id.type_name(),
                id.name()
            ),
        ),
        (None, Some(group)) => group_not_found(group),
        _ => subscription_not_found(&id.subscription),
    }
}

fn group_not_found(group: &str) -> ArmError {
    ArmError::not_found(
        "ResourceGroupNotFound",
        format!("Resource group '{group}' could not be found."),
    )
}

fn check_preconditions(
    pre: &Preconditions,
    existing: Option<&resource::Model>,
    id: &ResourceId,
) -> Result<(), ArmError> {
    if let Some(wanted) = pre.if_match.as_deref() {
        match existing {
            None => {
                return Err(ArmError::precondition_failed(format!(
                    "Resource '{}' does not exist.",
                    id.display()
                )));
            }
            Some(row)
                if wanted.trim() != "*"
                    && !wanted.split(',').any(|t| strip_weak(t) == row.etag) =>
            {
                return Err(ArmError::precondition_failed(format!(
                    "Etag provided in if-match header {wanted} does not match etag {} of resource {}.",
                    row.etag,
                    id.display()
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(unwanted) = pre.if_none_match.as_deref()
        && let Some(row) = existing
        && (unwanted.trim() == "*" || unwanted.split(',').any(|t| strip_weak(t) == row.etag))
    {
        return Err(ArmError::precondition_failed(format!(
            "Resource '{}' already exists with etag {}.",
            id.display(),
            row.etag
        )));
    }
    Ok(())
}

impl Engine {
    /// The same engine on another connection pool.
    pub fn with_db(&self, db: DatabaseConnection) -> Self {
        Self {
            subscriptions: self.subscriptions.with_db(db.clone()),
            db,
            ..self.clone()
        }
    }

    pub fn kind_of(&self, id: &ResourceId) -> Result<&Arc<dyn ResourceKind>, ArmError> {
        self.registry.get(&id.type_key()).ok_or_else(|| {
            ArmError::not_found(
                "InvalidResourceType",
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
            .authorize(&cx.caller, action, Target::Resource(id))
            .await
            .map(|_| ())
    }

    async fn tenant_of(&self, subscription: &str) -> Result<String, ArmError> {
        Ok(self
            .subscriptions
            .find(subscription)
            .await?
            .ok_or_else(|| subscription_not_found(subscription))?
            .tenant_id)
    }

    /// The enclosing resource must exist (and not be going away) before a write below it.
    async fn check_parent(
        &self,
        tx: &DatabaseTransaction,
        id: &ResourceId,
    ) -> Result<(), ArmError> {
        let Some(parent) = id.parent() else {
            return Ok(());
        };
        if parent.resource_group.is_none() {
            return Ok(()); // the subscription: the authorizer has checked it exists
        }
        crate::lifecycle::require_live(tx, &parent, Holder::Parent)
            .await
            .map(|_| ())
    }

    pub async fn put(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        body: &Value,
        pre: &Preconditions,
    ) -> Result<WriteResult, ArmError> {
        let kind = self.kind_of(id)?;
        self.authorize(cx, id, &kind.descriptor().action("write"))
            .await?;
        self.refuse_write_through(kind.as_ref(), cx, id).await?;
        // What the caller may link to is decided here, whether the write needs it is decided
        // from the row locked inside the transaction: a create needs every link, a replace keeps
        // its (immutable) links. Deciding it from a read before the transaction let a create
        // that raced a delete through without the check.
        let mut links = Vec::new();
        // A link out of the subscription is the type's own validation error.
        for (target, action) in kind
            .linked(body, &self.vocabulary)
            .into_iter()
            .filter(|(t, _)| t.subscription.eq_ignore_ascii_case(&id.subscription))
        {
            links.push(self.authorize(cx, &target, &action).await);
        }
        let spec = envelope::parse_put(body)?;
        let write = Write {
            verb: Verb::Put,
            body,
            pre,
            links,
        };
        let result = self.write(cx, id, write, |_| Ok(spec)).await;
        self.log_refusal(cx, id, "write", "PUT", &result).await;
        result
    }

    pub async fn patch(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        body: &Value,
        pre: &Preconditions,
    ) -> Result<WriteResult, ArmError> {
        let kind = self.kind_of(id)?;
        self.authorize(cx, id, &kind.descriptor().action("write"))
            .await?;
        self.refuse_write_through(kind.as_ref(), cx, id).await?;
        let body = &kind.patch_body(body);
        let write = Write {
            verb: Verb::Patch,
            body,
            pre,
            links: Vec::new(),
        };
        let result = self
            .write(cx, id, write, |existing| match existing {
                Some(spec) => envelope::apply_patch(spec, body),
                None => Err(not_found(id)),
            })
            .await;
        self.log_refusal(cx, id, "write", "PATCH", &result).await;
        result
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
        let own = resource::Entity::find_by_id(id.key()).one(&self.db).await?;
        if own.is_none()
            && let Some(shown) = kind.read_through(self, cx, id).await?
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

    async fn write(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        write: Write<'_>,
        make_spec: impl FnOnce(Option<&Spec>) -> Result<Spec, ArmError>,
    ) -> Result<WriteResult, ArmError> {
        let Write {
            verb,
            body,
            pre,
            links,
        } = write;
        let kind = self.kind_of(id)?.clone();
        let descriptor = kind.descriptor();
        if !(descriptor.name_valid)(id.name()) {
            return Err(ArmError::bad_request(
                "InvalidResourceName",
                format!(
                    "The resource name '{}' is invalid. {}",
                    id.name(),
                    descriptor.name_rule
                ),
            ));
        }
        let tenant_id = self.tenant_of(&id.subscription).await?;
        let request_hash = envelope::fingerprint(verb.method(), body);
        let key = id.key();
        let tx = self.db.begin().await?;
        self.check_parent(&tx, id).await?;
        // FOR UPDATE on PostgreSQL: concurrent writers of one resource take turns.
        let existing = resource::Entity::find_by_id(key.clone())
            .lock_exclusive()
            .one(&tx)
            .await?;
        if verb == Verb::Patch && existing.is_none() {
            return Err(not_found(id)); // PATCH never creates, whatever the preconditions say
        }
        let running = in_flight(&tx, existing.as_ref()).await?;
        if let (Some(running), Some(row)) = (&running, &existing)
            && verb == Verb::Put
            && running.verb == "PUT"
            && running.request_hash == request_hash
        {
            // An identical retry of the in-flight PUT answers like the first one (even with
            // `If-None-Match: *`, which the first one satisfied).
            let operation = OperationRef::from_row(running, &id.subscription);
            let row = row.clone();
            tx.commit().await?;
            return self
                .finish(row, false, WriteOutcome::Accepted(operation))
                .await;
        }
        check_preconditions(pre, existing.as_ref(), id)?;
        if running.is_some() {
            return Err(ArmError::another_operation(&id.display()));
        }
        if existing.is_none()
            && let Some(denied) = links.into_iter().find_map(Result::err)
        {
            return Err(denied);
        }

        let existing_spec = existing
            .as_ref()
            .map(|row| envelope::from_body(row.location.as_deref(), &row.body));
        let mut spec = make_spec(existing_spec.as_ref())?;
        if descriptor.tracked {
            match (
                &spec.location,
                existing.as_ref().and_then(|r| r.location.as_deref()),
            ) {
                (None, None) => {
                    return Err(ArmError::bad_request(
                        "LocationRequired",
                        "The location property is required for this definition.",
                    )
                    .with_target("location"));
                }
                (None, Some(old)) => spec.location = Some(old.to_owned()),
                (Some(new), Some(old)) if new != old => {
                    return Err(ArmError::bad_request(
                        "InvalidResourceLocation",
                        format!(
                            "The resource '{}' already exists in location '{old}'. A resource with the same name cannot be \
                             created in location '{new}'.",
                            id.name()
                        ),
                    )
                    .with_target("location"));
                }
                _ => {}
            }
        } else {
            spec.location = None;
            spec.tags = None;
        }
        spec.identity = complete_identity(spec.identity.take(), existing_spec.as_ref(), &tenant_id);
        let cxp = PrepareContext {
            tx: &tx,
            id,
            caller: &cx.caller,
            tenant_id: &tenant_id,
            vocabulary: &self.vocabulary,
            keys: &self.keys,
        };
        let prepared = kind.prepare(&cxp, spec, existing_spec.as_ref()).await?;
        // What is stored is what the document publishes.
        let properties = Value::Object(prepared.spec.properties.clone());
        (descriptor.schema.check_properties.0)(&properties).map_err(|problem| {
            ArmError::bad_request(
                "InvalidRequestContent",
                format!("The request content was invalid: {problem}"),
            )
        })?;

        let now = now_millis();
        let created = existing.is_none();
        let system_data = system_data(&cx.caller, existing.as_ref(), now);
        let generation = existing.as_ref().map_or(0, |r| r.generation) + 1;
        let (state, observed) = if descriptor.provisioned {
            (
                ProvisioningState::of_write(created),
                existing.as_ref().map_or(0, |r| r.observed_generation),
            )
        } else {
            (ProvisioningState::Succeeded, generation)
        };
        let row = resource::Model {
            id_key: key.clone(),
            id: id.display(),
            subscription_key: id.subscription_key(),
            group_key: id.group_id().map(|g| g.key()).unwrap_or_default(),
            parent_key: id.parent().map(|p| p.key()).unwrap_or_default(),
            type_key: id.type_key(),
            name: id.name().to_owned(),
            kind_key: prepared.spec.kind.as_deref().map(str::to_lowercase),
            location: prepared.spec.location.clone(),
            top_level: id.is_top_level(),
            depends_on_key: prepared.depends_on.clone(),
            managed_by_key: existing.as_ref().and_then(|r| r.managed_by_key.clone()),
            body: envelope::to_body(&prepared.spec, &system_data),
            etag: etag(),
            provisioning_state: state.as_str().to_owned(),
            generation,
            observed_generation: observed,
            created_at: existing.as_ref().map_or(now, |r| r.created_at),
            updated_at: now,
        };
        store_row(&tx, &row, existing.as_ref()).await?;
        if let Some(companion) = prepared.companion {
            companion.store(&tx).await?;
        }

        let operation = if descriptor.provisioned {
            Some(
                self.start_operation(
                    &tx,
                    cx,
                    id,
                    verb.method(),
                    generation,
                    &request_hash,
                    row.location.as_deref(),
                )
                .await?,
            )
        } else {
            None
        };
        let (event, status, status_code) = match (&operation, created) {
            (Some(_), _) => (events::PROVISIONING_REQUESTED, lifecycle::ACCEPTED, 202),
            (None, true) => (events::WRITE_SUCCESS, lro::SUCCEEDED, 201),
            (None, false) => (events::WRITE_SUCCESS, lro::SUCCEEDED, 200),
        };
        let outcome = Outcome {
            event,
            status,
            status_code,
            verb,
            generation,
            operation_id: operation.as_ref().map(|o| o.id.as_str()),
            caller: &cx.caller.principal_id,
            correlation_id: &cx.correlation_id,
            traceparent: cx.traceparent.as_deref(),
        };
        lifecycle::record(&tx, id, &outcome).await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        let outcome = match operation {
            Some(op) => {
                self.wake.notify_one();
                WriteOutcome::Accepted(op)
            }
            None => WriteOutcome::Completed,
        };
        self.finish(row, created, outcome).await
    }

    async fn finish(
        &self,
        row: resource::Model,
        created: bool,
        outcome: WriteOutcome,
    ) -> Result<WriteResult, ArmError> {
        let etag = row.etag.clone();
        let resource = self.render_one(row).await?;
        Ok(WriteResult {
            created,
            outcome,
            resource,
            etag,
        })
    }

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
        let deadline =
            now + i64::try_from(self.worker.operation_deadline.as_millis()).unwrap_or(i64::MAX / 2);
        let namespace = id
            .provider
            .as_ref()
            .map_or("Microsoft.Resources", |p| p.namespace.as_str())
            .to_owned();
        let row = operation::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            subscription_key: Set(id.subscription_key()),
            resource_key: Set(id.key()),
            resource_id: Set(id.display()),
            namespace: Set(namespace),
            location: Set(location.unwrap_or("global").to_owned()),
            verb: Set(verb.to_owned()),
            status: Set(lro::IN_PROGRESS.into()),
            target_generation: Set(generation),
            request_hash: Set(request_hash.to_owned()),
            api_version: Set(cx.api_version.clone()),
            caller: Set(cx.caller.principal_id.clone()),
            correlation_id: Set(cx.correlation_id.clone()),
            traceparent: Set(cx.traceparent.clone()),
            error: Set(None),
            attempts: Set(0),
            lease_owner: Set(None),
            lease_until: Set(None),
            deadline_at: Set(deadline),
            started_at: Set(now),
            ended_at: Set(None),
        };
        let model = operation::Entity::insert(row)
            .exec_with_returning(tx)
            .await?;
        Ok(OperationRef::from_row(&model, &id.subscription))
    }

    pub async fn delete(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        pre: &Preconditions,
    ) -> Result<DeleteResult, ArmError> {
        let kind = self.kind_of(id)?.clone();
        self.authorize(cx, id, &kind.descriptor().action("delete"))
            .await?;
        self.refuse_write_through(kind.as_ref(), cx, id).await?;
        let result = self.delete_authorized(cx, id, pre, kind.as_ref()).await;
        self.log_refusal(cx, id, "delete", "DELETE", &result).await;
        result
    }

    async fn delete_authorized(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        pre: &Preconditions,
        kind: &dyn ResourceKind,
    ) -> Result<DeleteResult, ArmError> {
        let key = id.key();
        let tx = self.db.begin().await?;
        // FOR UPDATE: a concurrent write below this resource (which holds FOR SHARE on it) either
        // commits first and is seen by `check_delete`, or waits and then sees `Deleting`.
        let row = resource::Entity::find_by_id(key.clone())
            .lock_exclusive()
            .one(&tx)
            .await?
            .filter(|r| r.type_key == id.type_key());
        let Some(row) = row else {
            // An absent resource in an existing group is a successful no-op (204).
            if let Some(group) = id.group_id().filter(|_| id.provider.is_some())
                && resource::Entity::find_by_id(group.key())
                    .one(&tx)
                    .await?
                    .is_none()
            {
                return Err(group_not_found(group.name()));
            }
            return Ok(DeleteResult::Absent);
        };
        check_preconditions(pre, Some(&row), id)?;
        if let Some(running) = in_flight(&tx, Some(&row)).await? {
            if running.verb == "DELETE" {
                return Ok(DeleteResult::Accepted(OperationRef::from_row(
                    &running,
                    &id.subscription,
                )));
            }
            return Err(ArmError::another_operation(&id.display()));
        }
        kind.check_delete(&tx, &row).await?;
        if kind
            .descriptor()
            .verbs
            .delete
            .as_ref()
            .is_some_and(|d| d.default.at_once)
        {
            return self.delete_now(tx, cx, id, &row).await;
        }
        let generation = row.generation + 1;
        let operation = self
            .start_operation(
                &tx,
                cx,
                id,
                "DELETE",
                generation,
                "",
                row.location.as_deref(),
            )
            .await?;
        let updated = resource::Entity::update_many()
            .col_expr(
                resource::Column::ProvisioningState,
                Expr::value(ProvisioningState::Deleting.as_str()),
            )
            .col_expr(resource::Column::Generation, Expr::value(generation))
            .col_expr(resource::Column::Etag, Expr::value(etag()))
            .col_expr(resource::Column::UpdatedAt, Expr::value(now_millis()))
            .filter(resource::Column::IdKey.eq(key.clone()))
            .filter(resource::Column::Generation.eq(row.generation))
            .exec(&tx)
            .await?;
        if updated.rows_affected != 1 {
            return Err(ArmError::another_operation(&id.display()));
        }
        let outcome = Outcome {
            event: events::PROVISIONING_REQUESTED,
            status: lifecycle::ACCEPTED,
            status_code: 202,
            verb: Verb::Delete,
            generation,
            operation_id: Some(&operation.id),
            caller: &cx.caller.principal_id,
            correlation_id: &cx.correlation_id,
            traceparent: cx.traceparent.as_deref(),
        };
        lifecycle::record(&tx, id, &outcome).await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        self.wake.notify_one();
        Ok(DeleteResult::Accepted(operation))
    }

    /// Deletes a resource that has nothing provisioned behind it at once (200). What the type
    /// keeps beside the row goes with it (foreign keys), and so do role assignments at it: a
    /// resource created later under the same name must not inherit them.
    async fn delete_now(
        &self,
        tx: DatabaseTransaction,
        cx: &CallContext,
        id: &ResourceId,
        row: &resource::Model,
    ) -> Result<DeleteResult, ArmError> {
        resource::Entity::delete_by_id(row.id_key.clone())
            .exec(&tx)
            .await?;
        let assignments = role_assignment::Entity::delete_many()
            .filter(role_assignment::Column::ScopeKey.eq(row.id_key.clone()))
            .exec(&tx)
            .await?;
        if assignments.rows_affected > 0 {
            crate::authz::policy::bump_version(&tx).await?;
        }
        let outcome = Outcome {
            event: events::DELETE_SUCCESS,
            status: lro::SUCCEEDED,
            status_code: 200,
            verb: Verb::Delete,
            generation: row.generation + 1,
            operation_id: None,
            caller: &cx.caller.principal_id,
            correlation_id: &cx.correlation_id,
            traceparent: cx.traceparent.as_deref(),
        };
        lifecycle::record(&tx, id, &outcome).await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        Ok(DeleteResult::Deleted)
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

/// The running operation of a resource. Only a resource in a non-terminal state has one, so
/// the common case (absent or settled) costs no query.
async fn in_flight(
    tx: &DatabaseTransaction,
    row: Option<&resource::Model>,
) -> Result<Option<operation::Model>, ArmError> {
    let Some(row) = row.filter(|r| !is_terminal(&r.provisioning_state)) else {
        return Ok(None);
    };
    Ok(operation::Entity::find()
        .filter(operation::Column::ResourceKey.eq(row.id_key.clone()))
        .filter(operation::Column::Status.eq(lro::IN_PROGRESS))
        .one(tx)
        .await?)
}

pub use crate::lifecycle::is_terminal;

/// Inserts a new row, or replaces the row we read if nobody changed it meanwhile.
async fn store_row(
    tx: &DatabaseTransaction,
    row: &resource::Model,
    existing: Option<&resource::Model>,
) -> Result<(), ArmError> {
    let conflict = || {
        ArmError::conflict(
            "Conflict",
            format!(
                "The resource '{}' was changed concurrently. Retry the request.",
                row.id
            ),
        )
    };
    match existing {
        None => {
            let active: resource::ActiveModel = row.clone().into();
            resource::Entity::insert(active)
                .exec_without_returning(tx)
                .await
                .map_err(|err| {
                    if matches!(
                        err.sql_err(),
                        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                    ) {
                        conflict()
                    } else {
                        err.into()
                    }
                })?;
        }
        Some(old) => {
            // Every column is written; the key stays as it is.
            let mut active = resource::ActiveModel::from(row.clone()).reset_all();
            active.not_set(resource::Column::IdKey);
            let updated = resource::Entity::update_many()
                .set(active)
                .filter(resource::Column::IdKey.eq(row.id_key.clone()))
                .filter(resource::Column::Generation.eq(old.generation))
                .exec(tx)
                .await?;
            if updated.rows_affected != 1 {
                return Err(conflict());
            }
        }
    }
    Ok(())
}

/// A system-assigned identity gets a principal (kept across replaces) in the subscription's tenant.
fn complete_identity(
    identity: Option<Value>,
    existing: Option<&Spec>,
    tenant_id: &str,
) -> Option<Value> {
    let mut identity = identity?;
    let system = identity
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("SystemAssigned"));
    if system {
        let principal = existing
            .and_then(|s| s.identity.as_ref())
            .and_then(|i| i.get("principalId"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        identity["principalId"] = json!(principal);
        identity["tenantId"] = json!(tenant_id);
    }
    Some(identity)
}

fn system_data(caller: &Caller, existing: Option<&resource::Model>, now: i64) -> Value {
    let at = lro::millis_to_rfc3339(now);
    let created = existing.and_then(|r| r.body.get("systemData")).cloned();
    let mut data = created.unwrap_or_else(|| {
        json!({"createdBy": caller.display_name, "createdByType": caller.system_data_type(), "createdAt": at})
    });
    data["lastModifiedBy"] = json!(caller.display_name);
    data["lastModifiedByType"] = json!(caller.system_data_type());
    data["lastModifiedAt"] = json!(at);
    data
}

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
