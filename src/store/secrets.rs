//! The queries of the `resource_secrets` table: one sealed secret per resource, stored and
//! read by `secrets::store`, and re-wrapped in batches by `kiln keys rotate`.
//!
//! Rows hold ciphertext only; sealing and opening stay in `crate::secrets`.

use sea_orm::sea_query::{Expr, OnConflict, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::{now_millis, resource_secret};

/// The stored shape of a sealed secret; `crate::secrets` seals and opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The id of the master key that wrapped `wrapped_key`.
    pub master_key_id: String,
    /// nonce ‖ AES-256-GCM(master key, data key).
    pub wrapped_key: String,
    /// nonce ‖ AES-256-GCM(data key, plaintext).
    pub ciphertext: String,
}

/// Stores `sealed` as the secret of `resource_key`, replacing what was there.
pub async fn upsert(
    db: &impl ConnectionTrait,
    resource_key: &str,
    sealed: Sealed,
) -> Result<(), DbErr> {
    resource_secret::Entity::insert(resource_secret::ActiveModel {
        resource_key: Set(resource_key.to_owned()),
        master_key_id: Set(sealed.master_key_id),
        wrapped_key: Set(sealed.wrapped_key),
        ciphertext: Set(sealed.ciphertext),
        updated_at: Set(now_millis()),
    })
    .on_conflict(
        OnConflict::column(resource_secret::Column::ResourceKey)
            .update_columns([
                resource_secret::Column::MasterKeyId,
                resource_secret::Column::WrappedKey,
                resource_secret::Column::Ciphertext,
                resource_secret::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The secret row of `resource_key`, if any.
pub async fn find(
    db: &impl ConnectionTrait,
    resource_key: &str,
) -> Result<Option<resource_secret::Model>, DbErr> {
    resource_secret::Entity::find_by_id(resource_key.to_owned())
        .one(db)
        .await
}

pub async fn delete(db: &impl ConnectionTrait, resource_key: &str) -> Result<(), DbErr> {
    resource_secret::Entity::delete_by_id(resource_key.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// Rows whose data key another master key than `active_key_id` wraps.
fn not_under(active_key_id: &str) -> SimpleExpr {
    resource_secret::Column::MasterKeyId.ne(active_key_id)
}

/// Up to `limit` rows not under `active_key_id` whose keys sort after `after`, in key
/// order: a rotation pages through them with the last key it saw.
pub async fn page_not_under(
    db: &impl ConnectionTrait,
    active_key_id: &str,
    after: &str,
    limit: u64,
) -> Result<Vec<resource_secret::Model>, DbErr> {
    resource_secret::Entity::find()
        .filter(not_under(active_key_id))
        .filter(resource_secret::Column::ResourceKey.gt(after))
        .order_by_asc(resource_secret::Column::ResourceKey)
        .limit(limit)
        .all(db)
        .await
}

/// How many rows are not under `active_key_id`.
pub async fn count_not_under(db: &impl ConnectionTrait, active_key_id: &str) -> Result<u64, DbErr> {
    resource_secret::Entity::find()
        .filter(not_under(active_key_id))
        .count(db)
        .await
}

/// Replaces the wrapping of `resource_key`'s data key with `new`'s if the row is still
/// wrapped as `old` says (a concurrent write re-sealed it otherwise); true when replaced.
/// The ciphertext stays: the data key is the same.
pub async fn replace_wrapping(
    db: &impl ConnectionTrait,
    resource_key: &str,
    old: &Sealed,
    new: Sealed,
) -> Result<bool, DbErr> {
    let updated = resource_secret::Entity::update_many()
        .col_expr(
            resource_secret::Column::MasterKeyId,
            Expr::value(new.master_key_id),
        )
        .col_expr(
            resource_secret::Column::WrappedKey,
            Expr::value(new.wrapped_key),
        )
        .col_expr(
            resource_secret::Column::UpdatedAt,
            Expr::value(now_millis()),
        )
        .filter(resource_secret::Column::ResourceKey.eq(resource_key))
        .filter(resource_secret::Column::MasterKeyId.eq(old.master_key_id.as_str()))
        .filter(resource_secret::Column::WrappedKey.eq(old.wrapped_key.as_str()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// The ids of the master keys some row is wrapped by.
pub async fn master_key_ids_in_use(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    resource_secret::Entity::find()
        .select_only()
        .column(resource_secret::Column::MasterKeyId)
        .distinct()
        .into_tuple::<String>()
        .all(db)
        .await
}
