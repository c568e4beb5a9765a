//! Storing assignments in the caller's transaction together with the policy version, and the
//! change the policy applies once the transaction is committed.

use std::sync::Arc;

use sea_orm::ConnectionTrait;

use super::shape::{RoleAssignment, render, role_definition_id};
use super::validate::{NewAssignment, invalid};
use crate::authz::condition::Condition;
use crate::authz::policy::{Assignment, Change};
use crate::error::{ArmError, ErrorCode};
use crate::store::assignments::{self as stored, AssignmentUpdate, Removal};
use crate::store::{now_millis, policy_version, role_assignment};

/// The policy's view of a row, with its condition already parsed.
pub(super) fn to_assignment(
    row: &role_assignment::Model,
    condition: Option<Arc<Condition>>,
) -> Assignment {
    Assignment {
        name: row.name_key.clone(),
        subject: row.principal_id.clone(),
        role: row.role_definition_key.clone(),
        scope: row.scope_key.clone(),
        condition,
    }
}

/// The policy's view of a stored row. A condition that no longer parses is dropped: the
/// link it belongs to is being removed, and the snapshot ignored the assignment anyway.
pub(super) fn stored_assignment(row: &role_assignment::Model) -> Assignment {
    let condition = row
        .condition
        .as_deref()
        .and_then(|t| Condition::parse(t).ok())
        .map(Arc::new);
    to_assignment(row, condition)
}

/// Azure's fixed limit: assignments at a subscription, its groups and resources together.
pub const ASSIGNMENTS_PER_SUBSCRIPTION: u64 = 4000;

fn exists_error() -> ArmError {
    ArmError::new(
        ErrorCode::RoleAssignmentExists,
        "The role assignment already exists.",
    )
}

/// Outcome of a write, for the status code: 201 created, 200 replaced.
pub struct Written {
    pub assignment: RoleAssignment,
    pub created: bool,
    pub change: Option<(Change, i64)>,
}

/// Inserts or replaces an assignment in `tx`, bumping the policy version. The caller commits
/// and then hands `change` to the policy.
pub async fn write(
    tx: &impl ConnectionTrait,
    by: &str,
    new: NewAssignment,
) -> Result<Written, ArmError> {
    let now = now_millis();
    let existing = stored::find(tx, &new.name).await?;
    let (condition, condition_text) = match new.condition {
        Some((c, text)) => (Some(c), Some(text)),
        None => (None, None),
    };
    if let Some(old) = existing {
        if old.scope_key != new.scope.key
            || old.principal_id != new.principal_id
            || old.role_definition_key != new.role
        {
            return Err(invalid(
                ErrorCode::RoleAssignmentUpdateNotPermitted,
                "Tenant ID, application ID, principal ID, role definition and scope are not allowed to be updated.",
            ));
        }
        let changes = AssignmentUpdate {
            principal_type: new.principal_type,
            description: new.description,
            condition_version: condition_text.as_ref().map(|_| "2.0".to_owned()),
            condition: condition_text,
            updated_on: now,
            updated_by: by.to_owned(),
        };
        let row = stored::update(tx, old.clone(), changes).await?;
        let version = policy_version::bump(tx).await?;
        // The old link (with its condition token) goes, the new one comes: a rebuild-free swap.
        let removed = stored_assignment(&old);
        let added = to_assignment(&row, condition);
        return Ok(Written {
            assignment: render(&row),
            created: false,
            change: Some((Change::Replaced(removed, added), version)),
        });
    }
    let duplicate = stored::find_triple(tx, &new.scope.key, &new.role, &new.principal_id).await?;
    if duplicate.is_some() {
        return Err(exists_error());
    }
    // The tenant root is in no subscription: its assignments count toward none.
    if let Some(subscription) = new.scope.resource.as_ref().map(|id| id.subscription_key())
        && stored::count_in_subscription(tx, &subscription).await? >= ASSIGNMENTS_PER_SUBSCRIPTION
    {
        return Err(invalid(
            ErrorCode::RoleAssignmentLimitExceeded,
            "No more role assignments can be created.",
        ));
    }
    let row = role_assignment::Model {
        name_key: new.name.clone(),
        id: new.scope.child_id("roleAssignments", &new.name),
        scope_key: new.scope.key.clone(),
        scope: new.scope.display.clone(),
        role_definition_key: new.role.clone(),
        role_definition_id: role_definition_id(&new.scope, &new.role),
        principal_id: new.principal_id,
        principal_type: new.principal_type,
        condition_version: condition_text.as_ref().map(|_| "2.0".to_owned()),
        condition: condition_text,
        description: new.description,
        created_on: now,
        updated_on: now,
        created_by: by.to_owned(),
        updated_by: by.to_owned(),
    };
    stored::insert(tx, row.clone())
        .await
        .map_err(|err| match err.sql_err() {
            // A concurrent PUT of the same triple, or of the same name, won.
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => exists_error(),
            _ => err.into(),
        })?;
    let version = policy_version::bump(tx).await?;
    Ok(Written {
        assignment: render(&row),
        created: true,
        change: Some((Change::Added(to_assignment(&row, condition)), version)),
    })
}

/// Deletes, in the transaction that deletes a resource, the assignments it takes with it
/// (see [`Removal`]), and bumps the policy version when there were any: a resource
/// created later under the same name must not inherit them. Returns how many went.
pub async fn remove_for_deleted(
    tx: &impl ConnectionTrait,
    removed: &Removal<'_>,
) -> Result<u64, sea_orm::DbErr> {
    let deleted = stored::delete_removed(tx, removed).await?;
    if deleted > 0 {
        policy_version::bump(tx).await?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, scope_key: &str, principal: &str) -> role_assignment::Model {
        role_assignment::Model {
            name_key: name.into(),
            id: format!("{scope_key}/providers/Microsoft.Authorization/roleAssignments/{name}"),
            scope_key: scope_key.into(),
            scope: scope_key.into(),
            role_definition_key: crate::authz::roles::OWNER.into(),
            role_definition_id: String::new(),
            principal_id: principal.into(),
            principal_type: "User".into(),
            condition: None,
            condition_version: None,
            description: None,
            created_on: 0,
            updated_on: 0,
            created_by: String::new(),
            updated_by: String::new(),
        }
    }

    #[tokio::test]
    async fn a_deleted_resource_takes_its_assignments_and_its_identities_with_it() {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        crate::store::migrate(&db).await.unwrap();
        let hub = "/subscriptions/s/resourcegroups/g/providers/m/workspaces/hub";
        let rows = [
            row("at", hub, "u1"),
            row("below", &format!("{hub}/connections/c"), "u1"),
            row("beside", &format!("{hub}2"), "u1"),
            row(
                "also",
                "/subscriptions/s/resourcegroups/g/providers/m/vaults/v",
                "u1",
            ),
            row("identity", "/subscriptions/s", "hub-identity"),
            row("kept", "/subscriptions/s", "u1"),
        ];
        for r in rows {
            stored::insert(&db, r).await.unwrap();
        }
        let before = policy_version::read(&db).await.unwrap();
        let also_at = ["/subscriptions/s/resourcegroups/g/providers/m/vaults/v".to_owned()];
        let principals = ["hub-identity".to_owned()];
        let removed = Removal {
            key: hub,
            subtree: true,
            also_at: &also_at,
            principals: &principals,
        };
        assert_eq!(remove_for_deleted(&db, &removed).await.unwrap(), 4);
        assert_eq!(policy_version::read(&db).await.unwrap(), before + 1);
        for (name, kept) in [("at", false), ("below", false), ("also", false)] {
            assert_eq!(
                stored::find(&db, name).await.unwrap().is_some(),
                kept,
                "{name}"
            );
        }
        for name in ["beside", "kept"] {
            assert!(stored::find(&db, name).await.unwrap().is_some(), "{name}");
        }
        // Nothing left to remove: no new policy version.
        assert_eq!(remove_for_deleted(&db, &removed).await.unwrap(), 0);
        assert_eq!(policy_version::read(&db).await.unwrap(), before + 1);
        // Without `subtree` only the key itself goes.
        stored::insert(&db, row("again", hub, "u2")).await.unwrap();
        stored::insert(&db, row("under", &format!("{hub}/x"), "u2"))
            .await
            .unwrap();
        let at_only = Removal {
            key: hub,
            subtree: false,
            also_at: &[],
            principals: &[],
        };
        assert_eq!(remove_for_deleted(&db, &at_only).await.unwrap(), 1);
        assert!(stored::find(&db, "under").await.unwrap().is_some());
    }
}
