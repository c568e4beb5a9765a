//! The queries of `quotas`: one row per subscription, region and quota name, locked by a
//! quota decision so two writes racing for the last capacity take turns, and holding the
//! limit an administrator set; and of `quota_usages`, what each deployment holds of one: a
//! row from its write until it is deleted or its soft-deleted account purged.

use sea_orm::sea_query::{Condition, Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};

use super::quota::{ActiveModel, Column, Entity, Model};
use super::quota_usage;

/// A quota's name is unique within its resource provider: stored as `namespace/name`.
fn key(
    subscription_key: &str,
    location: &str,
    namespace: &str,
    name: &str,
) -> (String, String, String) {
    (
        subscription_key.to_owned(),
        location.to_owned(),
        format!("{namespace}/{name}").to_lowercase(),
    )
}

/// The quota row, created when absent and locked (`FOR UPDATE` on PostgreSQL; SQLite's writers
/// take turns anyway) until the caller's transaction ends.
pub async fn lock(
    tx: &impl ConnectionTrait,
    subscription_key: &str,
    location: &str,
    namespace: &str,
    name: &str,
) -> Result<Model, DbErr> {
    let (subscription, location, name) = key(subscription_key, location, namespace, name);
    Entity::insert(ActiveModel {
        subscription_key: Set(subscription.clone()),
        location: Set(location.clone()),
        name: Set(name.clone()),
        limit_override: Set(None),
    })
    .on_conflict(
        OnConflict::columns([Column::SubscriptionKey, Column::Location, Column::Name])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(tx)
    .await?;
    Entity::find_by_id((subscription, location, name))
        .lock_exclusive()
        .one(tx)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the quota row just written".into()))
}

/// Sets (or with `None` clears) an administrator's limit.
pub async fn set_limit(
    db: &impl ConnectionTrait,
    subscription_key: &str,
    location: &str,
    namespace: &str,
    name: &str,
    limit: Option<i64>,
) -> Result<(), DbErr> {
    let (subscription, location, name) = key(subscription_key, location, namespace, name);
    Entity::insert(ActiveModel {
        subscription_key: Set(subscription),
        location: Set(location),
        name: Set(name),
        limit_override: Set(limit),
    })
    .on_conflict(
        OnConflict::columns([Column::SubscriptionKey, Column::Location, Column::Name])
            .update_column(Column::LimitOverride)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The limits administrators set in a subscription and region for a provider's quotas, by
/// lower-cased quota name.
pub async fn overrides(
    db: &impl ConnectionTrait,
    subscription_key: &str,
    location: &str,
    namespace: &str,
) -> Result<Vec<(String, i64)>, DbErr> {
    let prefix = format!("{}/", namespace.to_lowercase());
    Ok(Entity::find()
        .filter(Column::SubscriptionKey.eq(subscription_key))
        .filter(Column::Location.eq(location))
        .filter(Column::Name.starts_with(&prefix))
        .filter(Column::LimitOverride.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .filter_map(|row| {
            Some((
                row.name.strip_prefix(&prefix)?.to_owned(),
                row.limit_override?,
            ))
        })
        .collect())
}

/// What a deployment holds of a quota.
pub struct Held<'a> {
    pub resource_key: &'a str,
    pub account_key: &'a str,
    pub subscription_key: &'a str,
    pub location: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub amount: i64,
}

/// The usage rows of a subscription in a region, for one provider's quotas.
fn in_region(
    subscription_key: &str,
    location: &str,
    namespace: &str,
) -> sea_orm::Select<quota_usage::Entity> {
    quota_usage::Entity::find()
        .filter(quota_usage::Column::SubscriptionKey.eq(subscription_key))
        .filter(quota_usage::Column::Location.eq(location))
        .filter(quota_usage::Column::Name.starts_with(format!("{}/", namespace.to_lowercase())))
}

/// The capacity of quota `name` held by everything but `except`; call it holding the quota's
/// [`lock`] so that the answer stays true until the caller's write commits.
pub async fn held_by_others(
    tx: &impl ConnectionTrait,
    subscription_key: &str,
    location: &str,
    namespace: &str,
    name: &str,
    except: &str,
) -> Result<i64, DbErr> {
    let (subscription, location, name) = key(subscription_key, location, namespace, name);
    let of_quota = || {
        Condition::all()
            .add(quota_usage::Column::SubscriptionKey.eq(subscription.clone()))
            .add(quota_usage::Column::Location.eq(location.clone()))
            .add(quota_usage::Column::Name.eq(name.clone()))
    };
    let total: Option<i64> = quota_usage::Entity::find()
        .select_only()
        .expr(Expr::cust(
            "CAST(COALESCE(SUM(quota_usages.amount), 0) AS BIGINT)",
        ))
        .filter(of_quota())
        .filter(quota_usage::Column::ResourceKey.ne(except))
        .into_tuple()
        .one(tx)
        .await?;
    Ok(total.unwrap_or(0))
}

/// Records what a deployment holds (replacing what it held before, of any quota).
pub async fn hold(tx: &impl ConnectionTrait, held: &Held<'_>) -> Result<(), DbErr> {
    let (subscription, location, name) = key(
        held.subscription_key,
        held.location,
        held.namespace,
        held.name,
    );
    quota_usage::Entity::insert(quota_usage::ActiveModel {
        resource_key: Set(held.resource_key.to_owned()),
        account_key: Set(held.account_key.to_owned()),
        subscription_key: Set(subscription),
        location: Set(location),
        name: Set(name),
        amount: Set(held.amount),
    })
    .on_conflict(
        OnConflict::column(quota_usage::Column::ResourceKey)
            .update_columns([
                quota_usage::Column::AccountKey,
                quota_usage::Column::SubscriptionKey,
                quota_usage::Column::Location,
                quota_usage::Column::Name,
                quota_usage::Column::Amount,
            ])
            .to_owned(),
    )
    .exec_without_returning(tx)
    .await?;
    Ok(())
}

/// The capacity held per quota name (lower-cased, without the namespace) in a subscription
/// and region, of everything or of one account's deployments.
pub async fn held(
    db: &impl ConnectionTrait,
    subscription_key: &str,
    location: &str,
    namespace: &str,
    account_key: Option<&str>,
) -> Result<Vec<(String, i64)>, DbErr> {
    let prefix = format!("{}/", namespace.to_lowercase());
    let mut rows = in_region(subscription_key, location, namespace);
    if let Some(account) = account_key {
        rows = rows.filter(quota_usage::Column::AccountKey.eq(account));
    }
    let totals: Vec<(String, i64)> = rows
        .select_only()
        .column(quota_usage::Column::Name)
        .expr(Expr::cust(
            "CAST(COALESCE(SUM(quota_usages.amount), 0) AS BIGINT)",
        ))
        .group_by(quota_usage::Column::Name)
        .into_tuple()
        .all(db)
        .await?;
    Ok(totals
        .into_iter()
        .map(|(name, total)| {
            (
                name.strip_prefix(&prefix).unwrap_or(&name).to_owned(),
                total,
            )
        })
        .collect())
}

/// Forgets what the deployment at `resource_key` held (it is deleted, or holds no quota).
pub async fn release(tx: &impl ConnectionTrait, resource_key: &str) -> Result<(), DbErr> {
    quota_usage::Entity::delete_by_id(resource_key.to_owned())
        .exec(tx)
        .await?;
    Ok(())
}

/// Forgets what the deployments of a purged account held.
pub async fn release_account(tx: &impl ConnectionTrait, account_key: &str) -> Result<(), DbErr> {
    quota_usage::Entity::delete_many()
        .filter(quota_usage::Column::AccountKey.eq(account_key))
        .exec(tx)
        .await?;
    Ok(())
}
