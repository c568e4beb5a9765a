//! Reads: a resource, keyset-paged lists, and operation monitors.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::api_versions;
use super::engine::{CallContext, Engine, not_found};
use super::id::ResourceId;
use super::lro::{self, OperationRef};
use super::registry::{ActionAnswer, ActionTarget, Listing, ResourceKind};
use crate::authz::read_filter::readable_rows;
use crate::authz::{Ask, Readable, Target};
use crate::error::{ArmError, ErrorCode};
use crate::store::resources::{self, RowQuery};
use crate::store::{operation, operations, resource};

pub const DEFAULT_PAGE: u64 = 100;
pub const MAX_PAGE: u64 = 1000;

/// Which rows a list walks.
#[derive(Debug, Clone)]
pub enum ListScope {
    /// Children of one resource (or top-level resources of a group) of one type.
    Parent {
        parent: ResourceId,
        type_key: String,
    },
    /// Every resource of one type in a subscription.
    Subscription {
        subscription: String,
        type_key: String,
    },
    /// The generic `…/resources` lists: top-level resources of any type.
    TopLevelInSubscription {
        subscription: String,
    },
    TopLevelInGroup {
        group: ResourceId,
    },
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub kind_key: Option<String>,
    pub type_key: Option<String>,
    /// Resources carrying this tag (names compare ignoring case), with this value if given.
    pub tag_name: Option<String>,
    pub tag_value: Option<String>,
    /// Resources in this (normalized) location.
    pub location: Option<String>,
    /// Resources directly in this resource group (its key).
    pub group_key: Option<String>,
}

impl ListFilter {
    /// Whether the filter reads more than the columns it queries by.
    fn on_body(&self) -> bool {
        self.tag_name.is_some() || self.location.is_some()
    }

    fn keeps(&self, row: &resource::Model) -> bool {
        let location_ok = self
            .location
            .as_ref()
            .is_none_or(|l| row.location.as_deref() == Some(l.as_str()));
        let tag_ok = self.tag_name.as_ref().is_none_or(|name| {
            row.body["tags"].as_object().is_some_and(|tags| {
                tags.iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case(name)
                        && self
                            .tag_value
                            .as_ref()
                            .is_none_or(|want| v.as_str() == Some(want))
                })
            })
        });
        location_ok && tag_ok
    }
}

/// The query parameters of a list request: paging and the declared filters (non-empty
/// values only).
#[derive(Debug, Default)]
pub struct ListParams {
    pub top: Option<u64>,
    pub skip_token: Option<String>,
    pub filters: Vec<(String, String)>,
}

impl ListParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        super::http::query_param(&self.filters, name)
    }
}

#[derive(Debug)]
pub struct Page {
    pub items: Vec<Value>,
    /// The continuation token of the next page, when there is one.
    pub next: Option<String>,
}

pub fn encode_token(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_key.as_bytes())
}

pub fn decode_token(token: &str) -> Result<String, ArmError> {
    URL_SAFE_NO_PAD
        .decode(token.trim().trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|key| !key.chars().any(char::is_control))
        .ok_or_else(|| {
            ArmError::new(
                ErrorCode::InvalidSkipToken,
                "The continuation token ($skipToken) is invalid.",
            )
        })
}

/// Whether `row` is stored under another parent than the path that shows it.
fn is_foreign(parent: Option<&ResourceId>, row: &resource::Model) -> bool {
    parent.is_some_and(|p| p.key() != row.parent_key)
}

impl Engine {
    pub async fn get(
        &self,
        cx: &CallContext,
        id: &ResourceId,
    ) -> Result<(Value, String), ArmError> {
        let kind = self.kind_of(id)?;
        self.authorize(cx, id, &kind.descriptor().action("read"))
            .await?;
        let row = self.resolve(kind.as_ref(), cx, id).await?;
        let etag = row.etag.clone();
        Ok((self.render_through(kind.as_ref(), id, row).await?, etag))
    }

    /// The row a path names: the one stored there (of its type: a row of another type at the
    /// same key is not this resource), or one the type shows there from elsewhere.
    pub(crate) async fn resolve(
        &self,
        kind: &dyn ResourceKind,
        cx: &CallContext,
        id: &ResourceId,
    ) -> Result<resource::Model, ArmError> {
        if let Some(row) = resources::find_of_type(&self.db, &id.key(), &id.type_key()).await? {
            return Ok(row);
        }
        if let Some(shown) = kind.read_through(self.lookup(cx, id)).await? {
            return Ok(shown);
        }
        Err(self.absent(id).await?)
    }

    /// Renders `row` as read through `id`: a resource stored under another parent is shown as
    /// its type shows it there.
    pub(crate) async fn render_through(
        &self,
        kind: &dyn ResourceKind,
        id: &ResourceId,
        row: resource::Model,
    ) -> Result<Value, ArmError> {
        let foreign = is_foreign(id.parent().as_ref(), &row);
        let mut json = self.render_one(row).await?;
        if foreign {
            kind.shown_through(&mut json);
        }
        Ok(json)
    }

    /// Runs a declared action on a resource, authorized by the action's own RBAC action.
    pub async fn action(
        &self,
        cx: &CallContext,
        id: &ResourceId,
        name: &str,
        body: &Value,
    ) -> Result<ActionAnswer, ArmError> {
        let kind = self.kind_of(id)?.clone();
        let Some(action) = kind.descriptor().action_decl(name) else {
            return Err(ArmError::new(
                ErrorCode::InvalidResourceType,
                format!(
                    "The action '{name}' is not served for '{}'.",
                    kind.descriptor().full_type()
                ),
            ));
        };
        if let Some(since) = action.since
            && api_versions::order(&cx.api_version) < api_versions::order(since)
        {
            let full_type = kind.descriptor().full_type();
            let having: Vec<&str> = api_versions::published(&full_type)
                .iter()
                .map(String::as_str)
                .filter(|v| api_versions::order(v) >= api_versions::order(since))
                .collect();
            return Err(api_versions::refusal(
                &format!("{full_type}/{name}"),
                &cx.api_version,
                &having.join(", "),
            ));
        }
        self.authorize(cx, id, &kind.descriptor().action(action.rbac))
            .await?;
        let row = self.resolve(kind.as_ref(), cx, id).await?;
        let rendered = self.render_through(kind.as_ref(), id, row.clone()).await?;
        let target = ActionTarget {
            id,
            row: &row,
            rendered,
            body,
            db: &self.db,
            keys: &self.keys,
        };
        let mut answer = kind.invoke(action, target).await?;
        if let Some(changed) = answer.changed.take() {
            let stored = self
                .store_action_change(cx, id, action.rbac, &row, changed)
                .await?;
            answer.body = Some(self.render_through(kind.as_ref(), id, stored).await?);
        }
        Ok(answer)
    }

    /// The 404 of an absent resource names the missing group when the group is what's missing.
    pub async fn absent(&self, id: &ResourceId) -> Result<ArmError, ArmError> {
        if let Some(group) = id.group_id().filter(|_| id.provider.is_some())
            && !resources::exists(&self.db, &group.key()).await?
        {
            return Ok(not_found(&group));
        }
        Ok(not_found(id))
    }

    /// Lists one page. `action` is the read action the caller needs at `scope_id`.
    pub async fn list(
        &self,
        cx: &CallContext,
        scope: &ListScope,
        filter: &ListFilter,
        action: &str,
        top: Option<u64>,
        skip_token: Option<&str>,
    ) -> Result<Page, ArmError> {
        let scope_id = match scope {
            ListScope::Parent { parent, .. } => parent.clone(),
            ListScope::TopLevelInGroup { group } => group.clone(),
            ListScope::Subscription { subscription, .. }
            | ListScope::TopLevelInSubscription { subscription } => {
                ResourceId::subscription(subscription)
            }
        };
        let readable = self
            .authorizer
            .readable(Ask::new(&cx.caller, action, Target::Resource(&scope_id)))
            .await?;
        if scope_id.resource_group.is_some()
            && !resources::exists(&self.db, &scope_id.key()).await?
        {
            return Err(self.absent(&scope_id).await?);
        }
        let limit = top.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let subscription_key =
            |subscription: &str| ResourceId::subscription(subscription).subscription_key();
        let placed = match scope {
            ListScope::Parent { parent, type_key } => RowQuery {
                parent_key: Some(parent.key()),
                type_key: Some(type_key.clone()),
                ..RowQuery::default()
            },
            ListScope::Subscription {
                subscription,
                type_key,
            } => RowQuery {
                subscription_key: Some(subscription_key(subscription)),
                type_key: Some(type_key.clone()),
                ..RowQuery::default()
            },
            ListScope::TopLevelInSubscription { subscription } => RowQuery {
                subscription_key: Some(subscription_key(subscription)),
                top_level_only: true,
                ..RowQuery::default()
            },
            ListScope::TopLevelInGroup { group } => RowQuery {
                parent_key: Some(group.key()),
                top_level_only: true,
                ..RowQuery::default()
            },
        };
        if let (Some(wanted), Some(own)) = (&filter.type_key, &placed.type_key)
            && wanted != own
        {
            return Ok(Page {
                items: vec![],
                next: None,
            });
        }
        if let (Some(wanted), Some(own)) = (&filter.group_key, &placed.parent_key)
            && wanted != own
        {
            return Ok(Page {
                items: vec![],
                next: None,
            });
        }
        let query = RowQuery {
            parent_key: placed.parent_key.clone().or(filter.group_key.clone()),
            type_key: filter.type_key.clone().or(placed.type_key.clone()),
            kind_key: filter.kind_key.clone(),
            readable: readable_rows(&readable),
            after: skip_token.map(decode_token).transpose()?,
            limit: Some(limit + 1),
            ..placed
        };
        let mut rows = if filter.on_body() {
            self.filtered_rows(query, filter, limit).await?
        } else {
            resources::list(&self.db, query).await?
        };
        let next = if rows.len() as u64 > limit {
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            rows.last().map(|r| encode_token(&r.id_key))
        } else {
            None
        };
        Ok(Page {
            items: self.render(rows).await?,
            next,
        })
    }

    /// Up to `limit + 1` rows of `query` that `filter` keeps, read in batches along the keys
    /// so a page stays a keyset page however few rows match.
    async fn filtered_rows(
        &self,
        mut query: RowQuery,
        filter: &ListFilter,
        limit: u64,
    ) -> Result<Vec<resource::Model>, ArmError> {
        let batch = MAX_PAGE;
        query.limit = Some(batch);
        let mut kept = Vec::new();
        loop {
            let rows = resources::list(&self.db, query.clone()).await?;
            let exhausted = (rows.len() as u64) < batch;
            query.after = rows.last().map(|r| r.id_key.clone());
            kept.extend(rows.into_iter().filter(|r| filter.keeps(r)));
            if exhausted || kept.len() as u64 > limit {
                kept.truncate(usize::try_from(limit + 1).unwrap_or(usize::MAX));
                return Ok(kept);
            }
        }
    }

    /// The list of one type under `parent`, as the type declares it: keyset pages, or all on
    /// one page with the rows its `listed_through` hook adds and its property filters.
    /// `params` are the request's query parameters.
    pub async fn list_children(
        &self,
        cx: &CallContext,
        kind: &dyn ResourceKind,
        parent: &ResourceId,
        params: &ListParams,
    ) -> Result<Page, ArmError> {
        let descriptor = kind.descriptor();
        let listing = descriptor.verbs.list.unwrap_or(Listing::PAGED);
        let filter = ListFilter {
            kind_key: params
                .get("kind")
                .filter(|_| listing.filters.contains(&"kind"))
                .map(str::to_lowercase),
            ..ListFilter::default()
        };
        let action = descriptor.action("read");
        let scope = ListScope::Parent {
            parent: parent.clone(),
            type_key: descriptor.type_key(),
        };
        if listing.paged {
            return self
                .list(
                    cx,
                    &scope,
                    &filter,
                    &action,
                    params.top,
                    params.skip_token.as_deref(),
                )
                .await;
        }
        let readable = self
            .authorizer
            .readable(Ask::new(&cx.caller, &action, Target::Resource(parent)))
            .await?;
        let Some(parent_row) = resources::find(&self.db, &parent.key()).await? else {
            return Err(self.absent(parent).await?);
        };
        let query = RowQuery {
            parent_key: Some(parent.key()),
            type_key: Some(descriptor.type_key()),
            kind_key: filter.kind_key.clone(),
            readable: readable_rows(&readable),
            ..RowQuery::default()
        };
        let mut rows = resources::list(&self.db, query).await?;
        // Rows shown from elsewhere need the parent itself readable.
        if listing.through_parent && matches!(readable, Readable::All) {
            let own: Vec<String> = rows.iter().map(|r| r.name.to_lowercase()).collect();
            let shown = kind.listed_through(self.lookup(cx, &parent_row)).await?;
            // A name the parent has itself is its own resource.
            rows.extend(
                shown
                    .into_iter()
                    .filter(|s| !own.contains(&s.name.to_lowercase())),
            );
        }
        for name in listing.filters.iter().filter(|f| **f != "kind") {
            if let Some(wanted) = params.get(name) {
                rows.retain(|r| property_matches(&r.body["properties"][*name], wanted));
            }
        }
        let foreign: Vec<bool> = rows.iter().map(|r| is_foreign(Some(parent), r)).collect();
        let mut items = self.render(rows).await?;
        for (item, foreign) in items.iter_mut().zip(foreign) {
            if foreign {
                kind.shown_through(item);
            }
        }
        Ok(Page { items, next: None })
    }

    /// An operation of a subscription, for its monitors. Only a caller who may read the
    /// subscription may read it; an unknown id, or one of another namespace, is 404.
    pub async fn operation(
        &self,
        cx: &CallContext,
        subscription: &str,
        namespace: Option<&str>,
        operation_id: &str,
    ) -> Result<operation::Model, ArmError> {
        let sub = ResourceId::subscription(subscription);
        let missing = || {
            ArmError::new(
                ErrorCode::OperationNotFound,
                format!("The operation '{operation_id}' could not be found."),
            )
        };
        let row = operations::find(&self.db, &operation_id.to_lowercase())
            .await?
            .ok_or_else(missing)?;
        if row.subscription_key != sub.subscription_key() {
            return Err(missing());
        }
        if namespace.is_some_and(|ns| !ns.eq_ignore_ascii_case(&row.namespace)) {
            return Err(missing());
        }
        // Whoever may read the resource may follow its operations.
        let target = ResourceId::parse(&row.resource_id, &self.vocabulary).unwrap_or(sub);
        let action = match self.registry.get(&target.type_key()) {
            Some(kind) => kind.descriptor().action("read"),
            None => format!("{}/read", target.type_name()),
        };
        self.authorize(cx, &target, &action).await?;
        Ok(row)
    }

    /// What the `Location` URL answers once an operation is over: the resource after a PUT or
    /// PATCH, nothing after a DELETE, or the failure.
    pub async fn operation_result(
        &self,
        row: &operation::Model,
    ) -> Result<OperationResult, ArmError> {
        match row.status.as_str() {
            lro::IN_PROGRESS => Ok(OperationResult::Running),
            lro::SUCCEEDED if row.verb == "DELETE" => Ok(OperationResult::Deleted),
            lro::SUCCEEDED => match resources::find(&self.db, &row.resource_key).await? {
                Some(res) => {
                    let etag = res.etag.clone();
                    Ok(OperationResult::Resource(self.render_one(res).await?, etag))
                }
                None => Ok(OperationResult::Deleted),
            },
            _ => {
                let error = row.error.clone().unwrap_or_default();
                let detail = lro::error_of(&error).unwrap_or(crate::error::ErrorDetail {
                    code: crate::error::ErrorCode::OperationFailed.into(),
                    message: format!("The operation ended as {}.", row.status),
                    target: None,
                    details: vec![],
                });
                let status = actix_web::http::StatusCode::from_u16(lro::error_status(&error))
                    .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
                Ok(OperationResult::Failed(ArmError::from_detail(
                    status, detail,
                )))
            }
        }
    }

    pub fn operation_ref(&self, row: &operation::Model, subscription: &str) -> OperationRef {
        OperationRef::from_row(row, subscription)
    }
}

pub enum OperationResult {
    Running,
    Resource(Value, String),
    Deleted,
    Failed(ArmError),
}

impl Engine {
    /// Waits until an operation is over (for clients that do not poll), up to `timeout`.
    pub async fn wait_for(
        &self,
        operation_id: &str,
        timeout: std::time::Duration,
    ) -> Result<(), ArmError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let row = operations::find(&self.db, operation_id).await?;
            if row.is_none_or(|r| r.status != lro::IN_PROGRESS)
                || tokio::time::Instant::now() >= deadline
            {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// A string property equals the query value ignoring case; a number or boolean, its text.
fn property_matches(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(v) => v.eq_ignore_ascii_case(wanted),
        Value::Number(number) => number.to_string() == wanted,
        Value::Bool(flag) => wanted == if *flag { "true" } else { "false" },
        _ => false,
    }
}
