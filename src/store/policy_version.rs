//! The policy version (`authz_state`, one row): bumped in every transaction that changes role
//! definitions or assignments, so replicas know when to reload their policy.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::authz_state;

/// The only row's id.
const ROW: i32 = 1;

/// The current version; 0 before the first change.
pub async fn read(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(authz_state::Entity::find_by_id(ROW)
        .one(db)
        .await?
        .map_or(0, |row| row.version))
}

/// Bumps the version inside the caller's transaction and returns the new one.
pub async fn bump(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    authz_state::Entity::update_many()
        .col_expr(
            authz_state::Column::Version,
            Expr::col(authz_state::Column::Version).add(1),
        )
        .filter(authz_state::Column::Id.eq(ROW))
        .exec(db)
        .await?;
    read(db).await
}
