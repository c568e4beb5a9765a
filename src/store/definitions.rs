//! The queries on `role_definitions` (custom roles; built-ins are not rows), written once.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::role_definition::{ActiveModel, Column, Entity, Model};

pub async fn find(db: &impl ConnectionTrait, name: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(name.to_owned()).one(db).await
}

/// Another role (not `name`) whose lower-cased role name is `role_name_key`.
pub async fn find_named_other_than(
    db: &impl ConnectionTrait,
    role_name_key: &str,
    name: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::RoleNameKey.eq(role_name_key))
        .filter(Column::NameKey.ne(name))
        .one(db)
        .await
}

pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().all(db).await
}

/// Inserts a new row. A unique violation comes back as the `DbErr` it is.
pub async fn insert(db: &impl ConnectionTrait, row: Model) -> Result<(), DbErr> {
    Entity::insert(ActiveModel::from(row))
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Replaces every column of an existing row.
pub async fn update(db: &impl ConnectionTrait, row: Model) -> Result<(), DbErr> {
    Entity::update(ActiveModel::from(row).reset_all())
        .exec(db)
        .await
        .map(|_| ())
}

pub async fn delete(db: &impl ConnectionTrait, name: &str) -> Result<u64, DbErr> {
    Ok(Entity::delete_by_id(name.to_owned())
        .exec(db)
        .await?
        .rows_affected)
}
