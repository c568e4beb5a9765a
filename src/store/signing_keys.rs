//! The queries of Kiln's token-signing keys: the `signing_keys` rows, and the meta row naming
//! the key Kiln signs with. Generating, sealing and re-wrapping the keys stay in
//! `identity::signing_keys`.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

use super::identity::signing_key;
use super::meta;

/// The meta row naming the key Kiln signs with.
const CURRENT_KID: &str = "token_signing_kid";

/// Every stored key, oldest first.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<signing_key::Model>, DbErr> {
    signing_key::Entity::find()
        .order_by_asc(signing_key::Column::CreatedAt)
        .all(db)
        .await
}

pub async fn insert(db: &impl ConnectionTrait, row: signing_key::Model) -> Result<(), DbErr> {
    super::identity::insert_whole(db, row.into_active_model()).await
}

/// Writes `kid`'s new private-key text if it is still `old` (nobody changed it meanwhile);
/// true when written.
pub async fn replace_private_key(
    db: &impl ConnectionTrait,
    kid: &str,
    old: &str,
    new: String,
) -> Result<bool, DbErr> {
    let update = signing_key::Entity::update_many()
        .col_expr(signing_key::Column::PrivateKey, Expr::value(new))
        .filter(signing_key::Column::Kid.eq(kid))
        .filter(signing_key::Column::PrivateKey.eq(old));
    super::updated_one(db, update).await
}

/// The id of the key Kiln signs with; `None` before the first key is named.
pub async fn current_kid(db: &impl ConnectionTrait) -> Result<Option<String>, DbErr> {
    meta::get(db, CURRENT_KID).await
}

/// Names `kid` the key to sign with unless a key is named already: the first replica to
/// name its key wins, and the row is never replaced.
pub async fn name_current_once(db: &impl ConnectionTrait, kid: &str) -> Result<(), DbErr> {
    meta::put_new(db, CURRENT_KID, kid).await?;
    Ok(())
}
