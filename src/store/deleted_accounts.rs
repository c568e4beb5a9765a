//! The queries of `deleted_accounts`: soft-deleted Cognitive Services accounts, kept with
//! what they held until they are purged (by a user, or by the sweeper past `purge_at`).

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::deleted_account::{ActiveModel, Column, Entity, Model};

/// Keeps `row`, replacing an earlier soft delete of the same account (a restored and
/// deleted again account has one record).
pub async fn keep(db: &impl ConnectionTrait, row: Model) -> Result<(), DbErr> {
    Entity::insert(ActiveModel::from(row))
        .on_conflict(
            OnConflict::column(Column::AccountKey)
                .update_columns([
                    Column::SubscriptionKey,
                    Column::Location,
                    Column::Archive,
                    Column::DeletedAt,
                    Column::PurgeAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn find(db: &impl ConnectionTrait, account_key: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(account_key.to_owned()).one(db).await
}

/// The soft-deleted accounts of a subscription, in key order.
pub async fn in_subscription(
    db: &impl ConnectionTrait,
    subscription_key: &str,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::SubscriptionKey.eq(subscription_key))
        .order_by_asc(Column::AccountKey)
        .all(db)
        .await
}

/// Up to `limit` accounts whose retention ended before `now`.
pub async fn expired(db: &impl ConnectionTrait, now: i64, limit: u64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::PurgeAt.lt(now))
        .order_by_asc(Column::PurgeAt)
        .limit(limit)
        .all(db)
        .await
}

/// Removes the record; `false` when it was not there.
pub async fn remove(db: &impl ConnectionTrait, account_key: &str) -> Result<bool, DbErr> {
    let result = Entity::delete_by_id(account_key.to_owned())
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}
