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

/// The tags of the subscription at `key` (`None` when there is no such subscription).
pub async fn tags(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<serde_json::Value>, DbErr> {
    Ok(find(db, key)
        .await?
        .map(|row| row.tags.unwrap_or_else(|| serde_json::json!({}))))
}

/// Replaces the tags of the subscription at `key`; `false` when there is none.
pub async fn set_tags(
    db: &impl ConnectionTrait,
    key: &str,
    tags: serde_json::Value,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::Tags, sea_orm::sea_query::Expr::value(tags))
        .filter(Column::Key.eq(key.to_owned()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
