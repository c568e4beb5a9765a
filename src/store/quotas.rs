//! The queries of `quotas`: one row per subscription, region and quota name, locked by a
//! quota decision so two writes racing for the last capacity take turns, and holding the
//! limit an administrator set.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};

use super::quota::{ActiveModel, Column, Entity, Model};

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
