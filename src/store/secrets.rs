//! The queries of the `resource_secrets` table: one sealed secret per resource, stored and
//! read by `secrets::store`, and re-wrapped in batches by `kiln keys rotate`.
//!
//! Rows hold ciphertext only; sealing and opening stay in `crate::secrets`.

use sea_orm::sea_query::{Expr, OnConflict, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::resource_secret::{ActiveModel, Column, Entity, Model};
use super::{now_millis, updated_one};

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
    Entity::insert(ActiveModel {
        resource_key: Set(resource_key.to_owned()),
        master_key_id: Set(sealed.master_key_id),
        wrapped_key: Set(sealed.wrapped_key),
        ciphertext: Set(sealed.ciphertext),
        updated_at: Set(now_millis()),
    })
    .on_conflict(
        OnConflict::column(Column::ResourceKey)
            .update_columns([
                Column::MasterKeyId,
                Column::WrappedKey,
                Column::Ciphertext,
                Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The secret row of `resource_key`, if any.
pub async fn find(db: &impl ConnectionTrait, resource_key: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(resource_key.to_owned()).one(db).await
}

pub async fn delete(db: &impl ConnectionTrait, resource_key: &str) -> Result<(), DbErr> {
    Entity::delete_by_id(resource_key.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// Rows whose data key another master key than `active_key_id` wraps.
fn not_under(active_key_id: &str) -> SimpleExpr {
    Column::MasterKeyId.ne(active_key_id)
}

/// Up to `limit` rows not under `active_key_id` whose keys sort after `after`, in key
/// order: a rotation pages through them with the last key it saw.
pub async fn page_not_under(
    db: &impl ConnectionTrait,
    active_key_id: &str,
    after: &str,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(not_under(active_key_id))
        .filter(Column::ResourceKey.gt(after))
        .order_by_asc(Column::ResourceKey)
        .limit(limit)
        .all(db)
        .await
}

/// How many rows are not under `active_key_id`.
pub async fn count_not_under(db: &impl ConnectionTrait, active_key_id: &str) -> Result<u64, DbErr> {
    Entity::find()
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
    let update = Entity::update_many()
        .col_expr(Column::MasterKeyId, Expr::value(new.master_key_id))
        .col_expr(Column::WrappedKey, Expr::value(new.wrapped_key))
        .col_expr(Column::UpdatedAt, Expr::value(now_millis()))
        .filter(Column::ResourceKey.eq(resource_key))
        .filter(Column::MasterKeyId.eq(old.master_key_id.as_str()))
        .filter(Column::WrappedKey.eq(old.wrapped_key.as_str()));
    updated_one(db, update).await
}

/// The ids of the master keys some row is wrapped by.
pub async fn master_key_ids_in_use(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::MasterKeyId)
        .distinct()
        .into_tuple::<String>()
        .all(db)
        .await
}
