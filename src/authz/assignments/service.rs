//! The role assignments service the routes call: put, get, delete and the lists with their
//! `$filter`.

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use super::shape::{RoleAssignment, not_found, render};
use super::validate::{NewAssignment, invalid};
use super::write::{Written, stored_assignment, write};
use crate::authz::policy::{Change, Policy};
use crate::authz::scope::AuthzScope;
use crate::error::{ArmError, ErrorCode};
use crate::identity::Caller;
use crate::store::assignments::{self as stored, AssignmentQuery};
use crate::store::{policy_version, role_assignment};

/// The domain service the routes call.
#[derive(Clone)]
pub struct RoleAssignments {
    pub db: DatabaseConnection,
    pub policy: Arc<Policy>,
}

/// `$filter` of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFilter {
    /// At, above and below the scope.
    All,
    /// `atScope()`: at or above.
    AtScope,
    /// `principalId eq '…'` (or `assignedTo('…')`): that principal, at, above or below.
    Principal(String),
}

impl ListFilter {
    pub fn parse(raw: Option<&str>) -> Result<Self, ArmError> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(Self::All);
        };
        if raw.eq_ignore_ascii_case("atScope()") {
            return Ok(Self::AtScope);
        }
        let quoted = |rest: &str| {
            rest.trim()
                .strip_prefix('\'')
                .and_then(|r| r.strip_suffix('\''))
                .and_then(|g| uuid::Uuid::parse_str(g).ok())
                .map(|g| g.to_string())
        };
        let lower = raw.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("principalid eq ")
            && let Some(id) = quoted(rest)
        {
            return Ok(Self::Principal(id));
        }
        if let Some(rest) = lower
            .strip_prefix("assignedto(")
            .and_then(|r| r.strip_suffix(')'))
            && let Some(id) = quoted(rest)
        {
            return Ok(Self::Principal(id));
        }
        Err(invalid(
            ErrorCode::InvalidFilter,
            format!(
                "The $filter '{raw}' is not supported. Use atScope(), principalId eq '{{guid}}' or assignedTo('{{guid}}')."
            ),
        ))
    }
}

impl RoleAssignments {
    pub async fn put(&self, caller: &Caller, new: NewAssignment) -> Result<Written, ArmError> {
        let tx = self.db.begin().await?;
        // The scope is checked, and held, in the assignment's own transaction: a group being
        // deleted refuses it (409), and a delete that starts now waits and then cascades it.
        // Checked before the transaction, an assignment raced past the cascade and survived
        // into a group created later under the same name.
        if let Some(id) = new
            .scope
            .resource
            .as_ref()
            .filter(|id| id.resource_group.is_some())
        {
            crate::lifecycle::require_live(&tx, id, crate::lifecycle::Holder::Scope).await?;
        }
        let mut written = write(&tx, &caller.principal_id, new).await?;
        tx.commit().await?;
        if let Some((change, version)) = written.change.take() {
            self.policy.committed(change, version).await?;
        }
        Ok(written)
    }

    pub async fn get(&self, scope: &AuthzScope, name: &str) -> Result<RoleAssignment, ArmError> {
        self.find(&self.db, scope, name)
            .await?
            .map(|row| render(&row))
            .ok_or_else(|| not_found(name))
    }

    async fn find(
        &self,
        db: &impl ConnectionTrait,
        scope: &AuthzScope,
        name: &str,
    ) -> Result<Option<role_assignment::Model>, ArmError> {
        let Some(name) = uuid::Uuid::parse_str(name).ok().map(|u| u.to_string()) else {
            return Ok(None);
        };
        Ok(stored::find(db, &name)
            .await?
            .filter(|row| row.scope_key == scope.key))
    }

    /// Deletes; `None` when there was nothing (204).
    pub async fn delete(
        &self,
        scope: &AuthzScope,
        name: &str,
    ) -> Result<Option<RoleAssignment>, ArmError> {
        let tx = self.db.begin().await?;
        let Some(row) = self.find(&tx, scope, name).await? else {
            return Ok(None);
        };
        if stored::delete(&tx, &row.name_key).await? == 0 {
            return Ok(None);
        }
        let version = policy_version::bump(&tx).await?;
        tx.commit().await?;
        self.policy
            .committed(Change::Removed(stored_assignment(&row)), version)
            .await?;
        Ok(Some(render(&row)))
    }

    /// The assignments of a list: `walk` is the list scope's keys from itself up to the root.
    pub async fn list(
        &self,
        scope: &AuthzScope,
        walk: &[String],
        filter: &ListFilter,
    ) -> Result<Vec<RoleAssignment>, ArmError> {
        let (below, principal) = match filter {
            ListFilter::AtScope => (None, None),
            ListFilter::All => (Some(scope.key.as_str()), None),
            ListFilter::Principal(p) => (Some(scope.key.as_str()), Some(p.as_str())),
        };
        let query = AssignmentQuery {
            at: walk,
            below,
            principal,
        };
        let rows = stored::list(&self.db, query).await?;
        Ok(rows.iter().map(render).collect())
    }
}
