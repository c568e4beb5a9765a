//! The queries of `reserved_names`: names unique across the service within a realm (an
//! account's custom subdomain), each held by one resource.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::now_millis;
use super::reserved_name::{ActiveModel, Column, Entity};

/// Claims `name_key` in `realm` for `owner_key`. Returns the holder afterwards: `owner_key`
/// when the claim stands (new or already its own), another key when someone holds it. On
/// PostgreSQL a concurrent claim waits for the first to commit or roll back, so exactly one
/// of two racing claims wins; the insert never aborts the caller's transaction.
pub async fn claim(
    db: &impl ConnectionTrait,
    realm: &str,
    name_key: &str,
    owner_key: &str,
) -> Result<String, DbErr> {
    Entity::insert(ActiveModel {
        realm: Set(realm.to_owned()),
        name_key: Set(name_key.to_owned()),
        owner_key: Set(owner_key.to_owned()),
        created_at: Set(now_millis()),
    })
    .on_conflict(
        OnConflict::columns([Column::Realm, Column::NameKey])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(holder(db, realm, name_key)
        .await?
        .unwrap_or_else(|| owner_key.to_owned()))
}

/// Who holds `name_key` in `realm`, if anyone.
pub async fn holder(
    db: &impl ConnectionTrait,
    realm: &str,
    name_key: &str,
) -> Result<Option<String>, DbErr> {
    Ok(Entity::find_by_id((realm.to_owned(), name_key.to_owned()))
        .one(db)
        .await?
        .map(|row| row.owner_key))
}

/// Frees every name `owner_key` holds in `realm`.
pub async fn release(db: &impl ConnectionTrait, realm: &str, owner_key: &str) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::Realm.eq(realm))
        .filter(Column::OwnerKey.eq(owner_key))
        .exec(db)
        .await?;
    Ok(())
}
