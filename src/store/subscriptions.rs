//! Queries on `tenants` and `subscriptions`.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use super::subscription::{Column, Entity, Model};
use super::tenant;

/// The key of a subscription: its id path, lower-cased.
pub fn key_of(subscription_id: &str) -> String {
    format!("/subscriptions/{}", subscription_id.to_lowercase())
}

pub async fn find(db: &impl ConnectionTrait, key: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(key.to_owned()).one(db).await
}

/// The subscriptions of `tenant_id` in key order, only those at `only` when given.
pub async fn in_tenant(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    only: Option<Vec<String>>,
) -> Result<Vec<Model>, DbErr> {
    let mut query = Entity::find().filter(Column::TenantId.eq(tenant_id.to_owned()));
    if let Some(keys) = only {
        query = query.filter(Column::Key.is_in(keys));
    }
    query.order_by_asc(Column::Key).all(db).await
}

/// Creates the tenant unless it exists.
pub async fn ensure_tenant(
    tx: &impl ConnectionTrait,
    id: &str,
    display_name: &str,
    now: i64,
) -> Result<(), DbErr> {
    if tenant::Entity::find_by_id(id.to_owned())
        .one(tx)
        .await?
        .is_some()
    {
        return Ok(());
    }
    tenant::Entity::insert(tenant::ActiveModel {
        id: Set(id.to_owned()),
        display_name: Set(display_name.to_owned()),
        created_at: Set(now),
    })
    .exec_without_returning(tx)
    .await?;
    Ok(())
}

/// Inserts a subscription unless one with its key exists; `false` when one did.
pub async fn insert(tx: &impl ConnectionTrait, row: &Model) -> Result<bool, DbErr> {
    if find(tx, &row.key).await?.is_some() {
        return Ok(false);
    }
    let active: super::subscription::ActiveModel = row.clone().into();
    Entity::insert(active).exec_without_returning(tx).await?;
    Ok(true)
}
