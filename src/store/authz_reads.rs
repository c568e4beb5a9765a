//! What the authorizer reads besides the policy: the subscription a target is in, what
//! resources depend on (a project's hub), and whether a row under a scope is reached through
//! a condition the authorizer builds.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};

use super::{resource, subscription};

/// The subscription stored under `key` (`/subscriptions/{id}`, lower-cased).
pub async fn subscription(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<subscription::Model>, DbErr> {
    subscription::Entity::find_by_id(key.to_owned())
        .one(db)
        .await
}

/// (key, what it depends on) of those of `keys` that exist.
pub async fn depends_on(
    db: &impl ConnectionTrait,
    keys: &[String],
) -> Result<Vec<(String, Option<String>)>, DbErr> {
    resource::Entity::find()
        .select_only()
        .column(resource::Column::IdKey)
        .column(resource::Column::DependsOnKey)
        .filter(resource::Column::IdKey.is_in(keys.iter().cloned()))
        .into_tuple()
        .all(db)
        .await
}

/// Whether a resource directly in `scope_key` (its parent or its group) meets `condition`.
pub async fn any_child_where(
    db: &impl ConnectionTrait,
    scope_key: &str,
    condition: Condition,
) -> Result<bool, DbErr> {
    let in_scope = Condition::any()
        .add(resource::Column::ParentKey.eq(scope_key))
        .add(resource::Column::GroupKey.eq(scope_key));
    Ok(resource::Entity::find()
        .select_only()
        .column(resource::Column::IdKey)
        .filter(in_scope)
        .filter(condition)
        .into_tuple::<String>()
        .one(db)
        .await?
        .is_some())
}
