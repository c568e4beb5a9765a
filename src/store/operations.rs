//! Queries on `operations`: the asynchronous operations status monitors report and workers
//! drive. A worker changes an operation only while it holds its lease (`lease_owner`,
//! `lease_until`); an ownerless lease in the future is a retry's backoff.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, UpdateMany,
};
use serde_json::Value;

use super::operation::{Column, Entity, Model};
use super::{keys, updated_one};
use crate::lifecycle::states::OperationStatus;

const IN_PROGRESS: &str = OperationStatus::InProgress.as_str();

/// What starts an operation on a resource.
#[derive(Debug, Clone)]
pub struct NewOperation<'a> {
    pub subscription_key: String,
    pub resource_key: String,
    pub resource_id: String,
    pub namespace: &'a str,
    pub location: Option<&'a str>,
    /// `PUT`, `PATCH` or `DELETE`.
    pub verb: &'a str,
    pub target_generation: i64,
    /// The fingerprint of the request, for recognizing its retry; empty for the sweeper's.
    pub request_hash: &'a str,
    pub api_version: &'a str,
    pub caller: &'a str,
    pub correlation_id: String,
    pub traceparent: Option<String>,
    pub started_at: i64,
    pub deadline_at: i64,
}

/// Inserts a running operation and answers its row.
pub async fn start(tx: &impl ConnectionTrait, new: NewOperation<'_>) -> Result<Model, DbErr> {
    let row = Model {
        id: uuid::Uuid::new_v4().to_string(),
        subscription_key: new.subscription_key,
        resource_key: new.resource_key,
        resource_id: new.resource_id,
        namespace: new.namespace.to_owned(),
        location: new.location.unwrap_or("global").to_owned(),
        verb: new.verb.to_owned(),
        status: IN_PROGRESS.into(),
        target_generation: new.target_generation,
        request_hash: new.request_hash.to_owned(),
        api_version: new.api_version.to_owned(),
        caller: new.caller.to_owned(),
        correlation_id: new.correlation_id,
        traceparent: new.traceparent,
        error: None,
        attempts: 0,
        lease_owner: None,
        lease_until: None,
        deadline_at: new.deadline_at,
        started_at: new.started_at,
        ended_at: None,
    };
    Entity::insert(super::operation::ActiveModel::from(row.clone()).reset_all())
        .exec_without_returning(tx)
        .await?;
    Ok(row)
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(db).await
}

/// The running operation of the resource at `resource_key` (there is at most one).
pub async fn running_for(
    db: &impl ConnectionTrait,
    resource_key: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::ResourceKey.eq(resource_key.to_owned()))
        .filter(Column::Status.eq(IN_PROGRESS))
        .one(db)
        .await
}

/// Which of `resource_keys` have a running operation.
pub async fn running_among(
    db: &impl ConnectionTrait,
    resource_keys: Vec<String>,
) -> Result<Vec<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::ResourceKey)
        .filter(Column::Status.eq(IN_PROGRESS))
        .filter(Column::ResourceKey.is_in(resource_keys))
        .into_tuple()
        .all(db)
        .await
}

/// Nobody holds the lease; with `waiting_retry_too`, a retry's backoff does not hold it
/// either (a redelivered event may drive the operation at once).
fn claimable(now: i64, waiting_retry_too: bool) -> Condition {
    let mut free = Condition::any()
        .add(Column::LeaseUntil.is_null())
        .add(Column::LeaseUntil.lt(now));
    if waiting_retry_too {
        free = free.add(Column::LeaseOwner.is_null());
    }
    free
}

/// Up to `limit` running operations nobody holds, oldest first.
pub async fn due(db: &impl ConnectionTrait, now: i64, limit: u64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Status.eq(IN_PROGRESS))
        .filter(claimable(now, false))
        .order_by_asc(Column::StartedAt)
        .limit(limit)
        .all(db)
        .await
}

/// Who takes a lease, until when.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub until: i64,
}

/// An update of the operation `id` while it runs.
fn while_running(id: &str) -> UpdateMany<Entity> {
    Entity::update_many()
        .filter(Column::Id.eq(id.to_owned()))
        .filter(Column::Status.eq(IN_PROGRESS))
}

/// An update of the operation `id` while it runs and `owner` holds its lease.
fn while_held(id: &str, owner: &str) -> UpdateMany<Entity> {
    while_running(id).filter(Column::LeaseOwner.eq(owner.to_owned()))
}

/// Takes the lease of a running operation nobody holds, counting the attempt.
pub async fn claim(
    db: &impl ConnectionTrait,
    id: &str,
    lease: Lease<'_>,
    now: i64,
    waiting_retry_too: bool,
) -> Result<bool, DbErr> {
    let claim = with_lease(while_running(id), lease)
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(claimable(now, waiting_retry_too));
    updated_one(db, claim).await
}

fn with_lease(update: UpdateMany<Entity>, lease: Lease<'_>) -> UpdateMany<Entity> {
    update
        .col_expr(Column::LeaseOwner, Expr::value(lease.owner))
        .col_expr(Column::LeaseUntil, Expr::value(lease.until))
}

/// Takes the lease of a running operation whoever holds it (to fail a dead-lettered one).
pub async fn take_over(
    db: &impl ConnectionTrait,
    id: &str,
    lease: Lease<'_>,
) -> Result<bool, DbErr> {
    updated_one(db, with_lease(while_running(id), lease)).await
}

/// Ends a running operation held by `owner`; `false` when the lease was lost.
pub async fn end(
    tx: &impl ConnectionTrait,
    id: &str,
    owner: &str,
    status: &str,
    error: Option<Value>,
    now: i64,
) -> Result<bool, DbErr> {
    let end = ending(while_held(id, owner), status, error, now)
        .col_expr(Column::LeaseUntil, Expr::value(Option::<i64>::None));
    updated_one(tx, end).await
}

/// `update` setting the status an operation ends with, when, and with what error.
fn ending(
    update: UpdateMany<Entity>,
    status: &str,
    error: Option<Value>,
    now: i64,
) -> UpdateMany<Entity> {
    update
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::EndedAt, Expr::value(now))
        .col_expr(Column::Error, Expr::value(error))
}

/// Keeps a failed attempt's error and keeps workers away until `retry_at` (an ownerless lease).
pub async fn defer(
    db: &impl ConnectionTrait,
    id: &str,
    owner: &str,
    error: Value,
    retry_at: i64,
) -> Result<(), DbErr> {
    while_held(id, owner)
        .col_expr(Column::Error, Expr::value(error))
        .col_expr(Column::LeaseUntil, Expr::value(retry_at))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .exec(db)
        .await?;
    Ok(())
}

/// Settles the other running operations on the resource at `key`, below it, or at `also`
/// (what a delete removes with it): a pending delete of them is done, a pending write
/// canceled with `canceled`.
pub async fn settle_removed(
    tx: &impl ConnectionTrait,
    except: &str,
    key: &str,
    also: &[String],
    canceled: Value,
    now: i64,
) -> Result<(), DbErr> {
    let others = || {
        Condition::all()
            .add(Column::Status.eq(IN_PROGRESS))
            .add(Column::Id.ne(except.to_owned()))
            .add(
                keys::at_or_below(Column::ResourceKey, key)
                    .add(Column::ResourceKey.is_in(also.to_vec())),
            )
    };
    for (deletes, status, error) in [
        (true, OperationStatus::Succeeded.as_str(), None),
        (false, OperationStatus::Canceled.as_str(), Some(canceled)),
    ] {
        let verb = Column::Verb.eq("DELETE");
        ending(Entity::update_many(), status, error, now)
            .filter(others())
            .filter(if deletes { verb } else { verb.not() })
            .exec(tx)
            .await?;
    }
    Ok(())
}

/// Running operations that hold a lease nobody will finish.
#[derive(Debug, Clone, Copy)]
pub enum Stale {
    /// The holder's lease ran out before this time (the worker died).
    LeaseExpiredBefore(i64),
    /// Past the operation's deadline while still leased.
    PastDeadline(i64),
}

/// Locks up to `limit` stale operations and clears their leases; answers them as they were.
pub async fn release_stale(
    tx: &impl ConnectionTrait,
    which: Stale,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let condition = match which {
        Stale::LeaseExpiredBefore(before) => Condition::all()
            .add(Column::LeaseOwner.is_not_null())
            .add(Column::LeaseUntil.lt(before)),
        Stale::PastDeadline(now) => Condition::all()
            .add(Column::DeadlineAt.lt(now))
            .add(Column::LeaseUntil.gte(now)),
    };
    let ops = Entity::find()
        .filter(Column::Status.eq(IN_PROGRESS))
        .filter(condition)
        .limit(limit)
        .lock_exclusive()
        .all(tx)
        .await?;
    let ids: Vec<String> = ops.iter().map(|o| o.id.clone()).collect();
    Entity::update_many()
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .filter(Column::Id.is_in(ids))
        .filter(Column::Status.eq(IN_PROGRESS))
        .exec(tx)
        .await?;
    Ok(ops)
}
