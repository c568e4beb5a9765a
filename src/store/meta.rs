//! `meta`: small named values every replica and every CLI command must agree on (the
//! bootstrap tenant, subscription and administrator, the sealed dev key, the issuer base).

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

use super::meta_kv::{ActiveModel, Column, Entity};

/// The HTTPS base URL the server last listened on, used by `kiln token` for the issuer.
pub const ISSUER_BASE: &str = "issuer_base";

pub async fn get(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, DbErr> {
    Ok(Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|m| m.value))
}

fn row(key: &str, value: &str) -> ActiveModel {
    ActiveModel {
        key: Set(key.into()),
        value: Set(value.into()),
    }
}

/// Sets `key`, replacing what it held.
pub async fn put(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<(), DbErr> {
    Entity::insert(row(key, value))
        .on_conflict(
            OnConflict::column(Column::Key)
                .update_column(Column::Value)
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Sets `key` unless it holds a value already; `false` when it did (another replica won).
pub async fn put_new(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<bool, DbErr> {
    let inserted = Entity::insert(row(key, value))
        .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}
