//! The write path: PUT and PATCH, from the request to the committed row, its operation, its
//! event and its activity-log row.

use std::sync::Arc;

use sea_orm::{DatabaseTransaction, TransactionTrait};
use serde_json::{Value, json};

use super::preconditions::{check_preconditions, in_flight};
use super::{ACCEPTED, CallContext, Engine, Preconditions, WriteOutcome, WriteResult, not_found};
use crate::arm::envelope::{self, Spec};
use crate::arm::id::ResourceId;
use crate::arm::lro::{self, OperationRef};
use crate::arm::registry::{PrepareContext, ResourceKind};
use crate::arm::rows::{RowContent, row_of};
use crate::error::{ArmError, ErrorCode};
use crate::events;
use crate::identity::Caller;
use crate::lifecycle::{Holder, ProvisioningState, Verb};
use crate::store::resources::{self, RowLock};
use crate::store::{now_millis, resource};

/// A PUT or PATCH on its way into the transaction.
struct Write<'a> {
    verb: Verb,
    body: &'a Value,
    pre: &'a Preconditions,
    /// The caller's authorization on each resource the body links to; required on create.
    links: Vec<Result<(), ArmError>>,
}

impl<'a> Write<'a> {
    fn new(
        verb: Verb,
        body: &'a Value,
        pre: &'a Preconditions,
        links: Vec<Result<(), ArmError>>,
    ) -> Self {
        Self {
            verb,
            body,
            pre,
            links,
        }
    }
}

/// The two verbs that write a resource's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteVerb {
    Put,
    Patch,
}

impl WriteVerb {
    pub const fn method(self) -> &'static str {
        match self {
            Self::Put => "PUT",
            Self::Patch => "PATCH",
        }
    }
}

impl Engine {
    /// A PUT or PATCH of `body` at `id`, authorized as the type's `write`, or as `action`
    /// when given (the tags API's `Microsoft.Resources/tags/write`, which a Tag Contributor
    /// holds).
    pub async fn write(
        &self,
        verb: WriteVerb,
        cx: &CallContext,
        id: &ResourceId,
        body: &Value,
        pre: &Preconditions,
        action: Option<&str>,
    ) -> Result<WriteResult, ArmError> {
        let kind = self.admit_write(cx, id, action).await?;
        let result = match verb {
            WriteVerb::Put => {
                // What the caller may link to is decided here, whether the write needs it is
                // decided from the row locked inside the transaction: a create needs every link,
                // a replace keeps its (immutable) links. Deciding it from a read before the
                // transaction let a create that raced a delete through without the check.
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
                let write = Write::new(Verb::Put, body, pre, links);
                self.write_row(cx, id, write, |_| Ok(spec)).await
            }
            WriteVerb::Patch => {
                let body = &kind.patch_body(body);
                let write = Write::new(Verb::Patch, body, pre, Vec::new());
                self.write_row(cx, id, write, |existing| match existing {
                    Some(spec) => envelope::apply_patch(spec, body),
                    None => Err(not_found(id)),
                })
                .await
            }
        };
        self.log_refusal(cx, id, "write", verb.method(), &result)
            .await;
        result
    }

    /// The type of `id`, once the caller may write it and the type takes writes through ARM.
    async fn admit_write(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        action: Option<&str>,
    ) -> Result<&Arc<dyn ResourceKind>, ArmError> {
        let kind = self.kind_of(id)?;
        let action = action.map_or_else(|| kind.descriptor().action("write"), str::to_owned);
        self.authorize(cx, id, &action).await?;
        self.refuse_write_through(kind.as_ref(), cx, id).await?;
        Ok(kind)
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

    async fn write_row(
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
            return Err(ArmError::new(
                ErrorCode::InvalidResourceName,
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
        let existing = resources::lock(&tx, &key, RowLock::Update).await?;
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
                    return Err(ArmError::new(
                        ErrorCode::LocationRequired,
                        "The location property is required for this definition.",
                    )
                    .with_target("location"));
                }
                (None, Some(old)) => spec.location = Some(old.to_owned()),
                (Some(new), None) => {
                    let full_type =
                        (!descriptor.is_resource_group()).then(|| descriptor.full_type());
                    self.registry.regions().check(new, full_type.as_deref())?;
                }
                (Some(new), Some(old)) if new != old => {
                    return Err(ArmError::new(
                        ErrorCode::InvalidResourceLocation,
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
        }
        if !descriptor.tagged() {
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
            existing: existing_spec.as_ref(),
        };
        let prepared = kind.prepare(&cxp, spec).await?;
        // What is stored is what the document publishes.
        let properties = Value::Object(prepared.spec.properties.clone());
        (descriptor.schema.check_properties.0)(&properties).map_err(|problem| {
            ArmError::new(
                ErrorCode::InvalidRequestContent,
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
        let content = RowContent {
            kind: prepared.spec.kind.clone(),
            location: prepared.spec.location.clone(),
            depends_on_key: prepared.depends_on.clone(),
            managed_by_key: existing.as_ref().and_then(|r| r.managed_by_key.clone()),
            body: envelope::to_body(&prepared.spec, &system_data),
            provisioning_state: state.as_str(),
            generation,
            observed_generation: observed,
            created_at: existing.as_ref().map_or(now, |r| r.created_at),
            updated_at: now,
        };
        let row = row_of(id, content);
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
        let ended = match (&operation, created) {
            (Some(_), _) => ACCEPTED,
            (None, true) => (events::WRITE_SUCCESS, lro::SUCCEEDED, 201),
            (None, false) => (events::WRITE_SUCCESS, lro::SUCCEEDED, 200),
        };
        let operation_id = operation.as_ref().map(|o| o.id.as_str());
        let outcome = cx.outcome(ended, verb, generation, operation_id);
        self.commit(tx, id, &outcome).await?;
        let outcome = match operation {
            Some(op) => {
                self.handoff.worker.notify_one();
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
}

/// Inserts a new row, or replaces the row we read if nobody changed it meanwhile.
async fn store_row(
    tx: &DatabaseTransaction,
    row: &resource::Model,
    existing: Option<&resource::Model>,
) -> Result<(), ArmError> {
    let conflict = || {
        ArmError::new(
            ErrorCode::Conflict,
            format!(
                "The resource '{}' was changed concurrently. Retry the request.",
                row.id
            ),
        )
    };
    let stored = match existing {
        None => resources::insert(tx, row).await?,
        Some(old) => resources::replace(tx, row, old.generation).await?,
    };
    if !stored {
        return Err(conflict());
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

impl Engine {
    /// Stores the resource as an action left it (`pause` setting `deploymentState`), if it
    /// is still as the action read it: a new generation and etag, the caller in systemData,
    /// and the write's event and activity-log row in the same transaction.
    pub(crate) async fn store_action_change(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        rbac: &'static str,
        read: &resource::Model,
        mut changed: resource::Model,
    ) -> Result<resource::Model, ArmError> {
        let now = now_millis();
        let generation = read.generation + 1;
        changed.generation = generation;
        changed.observed_generation = read.observed_generation + 1;
        changed.etag = resources::new_etag();
        changed.updated_at = now;
        changed.body["systemData"] = system_data(&cx.caller, Some(read), now);
        let tx = self.db.begin().await?;
        if !resources::replace(&tx, &changed, read.generation).await? {
            return Err(ArmError::new(
                ErrorCode::Conflict,
                format!("'{}' changed while the action ran. Retry it.", id.display()),
            ));
        }
        let outcome = cx.outcome(
            (events::WRITE_SUCCESS, lro::SUCCEEDED, 200),
            Verb::Action(rbac),
            generation,
            None,
        );
        self.commit(tx, id, &outcome).await?;
        Ok(changed)
    }
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
