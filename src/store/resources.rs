//! Queries on `resources`: one row per ARM resource of any type, resource groups included.
//! Keys are lower-cased ids; writes that replace a row check the generation they read, so a
//! concurrent writer is noticed instead of overwritten.

use sea_orm::sea_query::{Expr, IntoCondition, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, UpdateMany,
};
use serde_json::Value;

use super::resource::{ActiveModel, Column, Entity, Model};
use super::{keys, updated_one};

/// How a read inside a transaction holds the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    /// FOR UPDATE on PostgreSQL: writers of one resource take turns.
    Update,
    /// FOR KEY SHARE: the lightest lock that still conflicts with the FOR UPDATE a delete
    /// takes, for writes that need the row to stay.
    KeyShare,
}

/// A fresh ETag: every write of a row gets a new one.
pub fn new_etag() -> String {
    format!("\"{}\"", uuid::Uuid::new_v4().simple())
}

pub async fn find(db: &impl ConnectionTrait, key: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(key.to_owned()).one(db).await
}

/// The row at `key` when it is of `type_key`: a row of another type at the same key is not
/// the resource a path names.
pub async fn find_of_type(
    db: &impl ConnectionTrait,
    key: &str,
    type_key: &str,
) -> Result<Option<Model>, DbErr> {
    Ok(find(db, key).await?.filter(|row| row.type_key == type_key))
}

pub async fn exists(db: &impl ConnectionTrait, key: &str) -> Result<bool, DbErr> {
    Ok(find(db, key).await?.is_some())
}

pub async fn lock(
    tx: &impl ConnectionTrait,
    key: &str,
    how: RowLock,
) -> Result<Option<Model>, DbErr> {
    let query = Entity::find_by_id(key.to_owned());
    match how {
        RowLock::Update => query.lock_exclusive(),
        RowLock::KeyShare => query.lock(LockType::KeyShare),
    }
    .one(tx)
    .await
}

pub async fn by_keys(db: &impl ConnectionTrait, keys: Vec<String>) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::IdKey.is_in(keys))
        .all(db)
        .await
}

/// Inserts a new row; `false` when a row with its key exists already (a concurrent create won).
pub async fn insert(tx: &impl ConnectionTrait, row: &Model) -> Result<bool, DbErr> {
    let active: ActiveModel = row.clone().into();
    match Entity::insert(active).exec_without_returning(tx).await {
        Ok(_) => Ok(true),
        Err(err)
            if matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// Replaces every column of the row (the key stays) if it is still at `read_generation`.
pub async fn replace(
    tx: &impl ConnectionTrait,
    row: &Model,
    read_generation: i64,
) -> Result<bool, DbErr> {
    let mut active = ActiveModel::from(row.clone()).reset_all();
    active.not_set(Column::IdKey);
    let update = Entity::update_many().set(active);
    updated_one(tx, at_generation(update, &row.id_key, read_generation)).await
}

/// `update` limited to the row at `key` while it is still at `generation`.
fn at_generation(update: UpdateMany<Entity>, key: &str, generation: i64) -> UpdateMany<Entity> {
    update
        .filter(Column::IdKey.eq(key.to_owned()))
        .filter(Column::Generation.eq(generation))
}

/// A resource whose delete now runs as an operation, if it is still at `read_generation`.
pub async fn mark_deleting(
    tx: &impl ConnectionTrait,
    row: &Model,
    generation: i64,
    etag: &str,
    now: i64,
) -> Result<bool, DbErr> {
    let update = Entity::update_many()
        .col_expr(
            Column::ProvisioningState,
            Expr::value(crate::lifecycle::states::ProvisioningState::Deleting.as_str()),
        )
        .col_expr(Column::Generation, Expr::value(generation))
        .col_expr(Column::Etag, Expr::value(etag))
        .col_expr(Column::UpdatedAt, Expr::value(now));
    updated_one(tx, at_generation(update, &row.id_key, row.generation)).await
}

/// What a finished provisioning attempt writes, if the row is still at `generation`.
pub struct Settled<'a> {
    pub key: &'a str,
    pub generation: i64,
    pub state: &'a str,
    /// On success: a new ETag, and the generation becomes the observed one. A failure keeps
    /// both.
    pub etag: Option<String>,
    /// The new body, when the provisioner produced properties.
    pub body: Option<Value>,
}

/// Sets the state (and what came with it) of the row at `generation`; `false` when a newer
/// write replaced it meanwhile.
pub async fn settle(tx: &impl ConnectionTrait, settled: Settled<'_>) -> Result<bool, DbErr> {
    let mut update =
        Entity::update_many().col_expr(Column::ProvisioningState, Expr::value(settled.state));
    if let Some(etag) = settled.etag {
        update = update
            .col_expr(Column::ObservedGeneration, Expr::value(settled.generation))
            .col_expr(Column::Etag, Expr::value(etag));
    }
    if let Some(body) = settled.body {
        update = update.col_expr(Column::Body, Expr::value(body));
    }
    updated_one(tx, at_generation(update, settled.key, settled.generation)).await
}

pub async fn delete(tx: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    Entity::delete_by_id(key.to_owned()).exec(tx).await?;
    Ok(())
}

/// Deletes the row at `key`, every row below it and the rows at `also`; answers the ids of
/// the deleted rows other than `key`'s own.
pub async fn delete_tree(
    tx: &impl ConnectionTrait,
    key: &str,
    also: &[String],
) -> Result<Vec<String>, DbErr> {
    let gone = || keys::at_or_below(Column::IdKey, key).add(Column::IdKey.is_in(also.to_vec()));
    let others: Vec<String> = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(gone())
        .filter(Column::IdKey.ne(key.to_owned()))
        .into_tuple()
        .all(tx)
        .await?;
    Entity::delete_many().filter(gone()).exec(tx).await?;
    Ok(others)
}

/// Every row strictly below `key`.
pub async fn below(db: &impl ConnectionTrait, key: &str) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(keys::below(Column::IdKey, key))
        .all(db)
        .await
}

/// The rows of `type_key` directly under any of `parents` (one query for a page of them).
pub async fn children_of_any(
    db: &impl ConnectionTrait,
    parents: Vec<String>,
    type_key: &str,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::ParentKey.is_in(parents))
        .filter(Column::TypeKey.eq(type_key))
        .all(db)
        .await
}

/// The rows managed by (created and removed with) any of `owners`.
pub async fn managed_by(
    db: &impl ConnectionTrait,
    owners: Vec<String>,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::ManagedByKey.is_in(owners))
        .all(db)
        .await
}

/// (what it depends on, id) of every row that depends on one of `keys`.
pub async fn depending_on_any(
    db: &impl ConnectionTrait,
    keys: Vec<String>,
) -> Result<Vec<(Option<String>, String)>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::DependsOnKey)
        .column(Column::Id)
        .filter(Column::DependsOnKey.is_in(keys))
        .into_tuple()
        .all(db)
        .await
}

/// Up to `limit` ids of rows that depend on the row at `key` (a hub's projects).
pub async fn dependents_of(
    db: &impl ConnectionTrait,
    key: &str,
    limit: u64,
) -> Result<Vec<String>, DbErr> {
    ids_where(db, Column::DependsOnKey.eq(key.to_owned()), limit).await
}

/// Up to `limit` ids of rows outside the subtree of `key` that depend on a row inside it: what
/// keeps a resource group from being deleted.
pub async fn depended_on_from_outside(
    db: &impl ConnectionTrait,
    key: &str,
    limit: u64,
) -> Result<Vec<String>, DbErr> {
    let from_outside =
        keys::below(Column::DependsOnKey, key).add(keys::not_below(Column::IdKey, key));
    ids_where(db, from_outside, limit).await
}

/// Up to `limit` ids of the rows that meet `which`.
async fn ids_where(
    db: &impl ConnectionTrait,
    which: impl IntoCondition,
    limit: u64,
) -> Result<Vec<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(which)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Up to `limit` keys of rows in one of `states`.
pub async fn keys_in_states(
    db: &impl ConnectionTrait,
    states: Vec<&str>,
    limit: u64,
) -> Result<Vec<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::IdKey)
        .filter(Column::ProvisioningState.is_in(states))
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Resources a transaction removes, for what goes with them (the removal hook).
#[derive(Debug, Clone, Copy)]
pub struct Removal<'a> {
    /// The key of the resource deleted.
    pub key: &'a str,
    /// Whether everything below `key` went with it.
    pub subtree: bool,
    /// Other resources removed with it (what it managed).
    pub also_at: &'a [String],
    /// The principals of the system-assigned identities that went away (lower-cased).
    pub principals: &'a [String],
}

/// Which rows a list reads, in key order.
#[derive(Debug, Default, Clone)]
pub struct RowQuery {
    pub parent_key: Option<String>,
    pub subscription_key: Option<String>,
    pub type_key: Option<String>,
    pub kind_key: Option<String>,
    pub top_level_only: bool,
    /// Only the rows the caller may read (the authorizer's filter).
    pub readable: Option<Condition>,
    /// Rows after this key (keyset paging).
    pub after: Option<String>,
    pub limit: Option<u64>,
}

pub async fn list(db: &impl ConnectionTrait, query: RowQuery) -> Result<Vec<Model>, DbErr> {
    let mut select = Entity::find();
    let equal = [
        (Column::ParentKey, query.parent_key),
        (Column::SubscriptionKey, query.subscription_key),
        (Column::TypeKey, query.type_key),
        (Column::KindKey, query.kind_key),
    ];
    for (column, value) in equal {
        if let Some(value) = value {
            select = select.filter(column.eq(value));
        }
    }
    if query.top_level_only {
        select = select.filter(Column::TopLevel.eq(true));
    }
    if let Some(readable) = query.readable {
        select = select.filter(readable);
    }
    if let Some(after) = query.after {
        select = select.filter(Column::IdKey.gt(after));
    }
    select = select.order_by_asc(Column::IdKey);
    if let Some(limit) = query.limit {
        select = select.limit(limit);
    }
    select.all(db).await
}
