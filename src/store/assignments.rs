//! The queries on `role_assignments`, written once: scoped finders taking any connection (a
//! pool or the caller's transaction) and typed arguments.

use sea_orm::sea_query::SelectStatement;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
};

use super::keys;
use super::role_assignment::{ActiveModel, Column, Entity, Model};

pub async fn find(db: &impl ConnectionTrait, name: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(name.to_owned()).one(db).await
}

/// The assignment of `role` to `principal` at exactly `scope_key`, if any: there is at most one.
pub async fn find_triple(
    db: &impl ConnectionTrait,
    scope_key: &str,
    role: &str,
    principal: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::ScopeKey.eq(scope_key))
        .filter(Column::RoleDefinitionKey.eq(role))
        .filter(Column::PrincipalId.eq(principal))
        .one(db)
        .await
}

/// Inserts a new row. A unique violation (the name, or the triple) comes back as the
/// `DbErr` it is, for the caller to tell apart with `sql_err()`.
pub async fn insert(db: &impl ConnectionTrait, row: Model) -> Result<(), DbErr> {
    Entity::insert(ActiveModel::from(row))
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// What a PUT of an existing assignment may change.
pub struct AssignmentUpdate {
    pub principal_type: String,
    pub description: Option<String>,
    pub condition: Option<String>,
    pub condition_version: Option<String>,
    pub updated_on: i64,
    pub updated_by: String,
}

/// Writes `changes` over `old`, returning the row as stored.
pub async fn update(
    db: &impl ConnectionTrait,
    old: Model,
    changes: AssignmentUpdate,
) -> Result<Model, DbErr> {
    let mut active = ActiveModel::from(old);
    active.principal_type = Set(changes.principal_type);
    active.description = Set(changes.description);
    active.condition = Set(changes.condition);
    active.condition_version = Set(changes.condition_version);
    active.updated_on = Set(changes.updated_on);
    active.updated_by = Set(changes.updated_by);
    active.update(db).await
}

/// Deletes by name; the number of rows deleted (0 or 1).
pub async fn delete(db: &impl ConnectionTrait, name: &str) -> Result<u64, DbErr> {
    Ok(Entity::delete_by_id(name.to_owned())
        .exec(db)
        .await?
        .rows_affected)
}

/// Which assignments a list shows.
pub struct AssignmentQuery<'a> {
    /// Scope keys whose assignments are shown (the list scope and those above it).
    pub at: &'a [String],
    /// Also those strictly below this scope key.
    pub below: Option<&'a str>,
    /// Only this principal's.
    pub principal: Option<&'a str>,
}

/// The assignments of a list, by scope key and then name.
pub async fn list(
    db: &impl ConnectionTrait,
    query: AssignmentQuery<'_>,
) -> Result<Vec<Model>, DbErr> {
    let mut scopes = Condition::any().add(Column::ScopeKey.is_in(query.at.iter().cloned()));
    if let Some(under) = query.below {
        scopes = scopes.add(keys::below(Column::ScopeKey, under));
    }
    let mut select = Entity::find().filter(scopes);
    if let Some(principal) = query.principal {
        select = select.filter(Column::PrincipalId.eq(principal));
    }
    select
        .order_by_asc(Column::ScopeKey)
        .order_by_asc(Column::NameKey)
        .all(db)
        .await
}

/// How many assignments a subscription holds: at its own scope and anywhere below it.
pub async fn count_in_subscription(
    db: &impl ConnectionTrait,
    subscription_key: &str,
) -> Result<u64, DbErr> {
    Entity::find()
        .filter(keys::at_or_below(Column::ScopeKey, subscription_key))
        .count(db)
        .await
}

/// How many assignments hold a role.
pub async fn count_with_role(db: &impl ConnectionTrait, role: &str) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::RoleDefinitionKey.eq(role))
        .count(db)
        .await
}

/// What a policy snapshot needs of an assignment.
pub struct PolicyRow {
    pub name: String,
    pub principal: String,
    pub role: String,
    pub scope_key: String,
    pub condition: Option<String>,
}

/// Every assignment, only the columns a policy snapshot reads.
pub async fn all_for_policy(db: &impl ConnectionTrait) -> Result<Vec<PolicyRow>, DbErr> {
    let rows: Vec<(String, String, String, String, Option<String>)> = Entity::find()
        .select_only()
        .column(Column::NameKey)
        .column(Column::PrincipalId)
        .column(Column::RoleDefinitionKey)
        .column(Column::ScopeKey)
        .column(Column::Condition)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(name, principal, role, scope_key, condition)| PolicyRow {
            name,
            principal,
            role,
            scope_key,
            condition,
        })
        .collect())
}

/// The scope keys where one of `subjects` holds one of `roles` without a condition, as a
/// subquery: a list filters its rows with it, so the number of assignments never bounds the
/// query's size.
pub fn granted_scopes(subjects: &[String], roles: &[String]) -> SelectStatement {
    Entity::find()
        .select_only()
        .column(Column::ScopeKey)
        .filter(Column::PrincipalId.is_in(subjects.iter().cloned()))
        .filter(Column::RoleDefinitionKey.is_in(roles.iter().cloned()))
        .filter(Column::Condition.is_null())
        .into_query()
}

pub use super::resources::Removal;

/// Deletes the assignments `of` names; the number deleted.
pub async fn delete_removed(db: &impl ConnectionTrait, of: &Removal<'_>) -> Result<u64, DbErr> {
    let mut which = Condition::any().add(Column::ScopeKey.eq(of.key));
    if of.subtree {
        which = which.add(keys::below(Column::ScopeKey, of.key));
    }
    if !of.also_at.is_empty() {
        which = which.add(Column::ScopeKey.is_in(of.also_at.iter().cloned()));
    }
    if !of.principals.is_empty() {
        which = which.add(Column::PrincipalId.is_in(of.principals.iter().cloned()));
    }
    Ok(Entity::delete_many()
        .filter(which)
        .exec(db)
        .await?
        .rows_affected)
}
