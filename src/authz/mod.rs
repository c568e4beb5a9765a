//! Who is calling and what they may do.
//!
//! Authentication is [`crate::identity`]'s (the [`Caller`] extractor); authorization is the
//! [`Authorizer`] trait the engine calls for every operation, so handlers cannot forget it. The
//! implementation is role-based ([`Rbac`]): casbin over role definitions and assignments, with
//! conditions. Which scopes a row inherits access from is [`read_filter`]'s one definition.

pub mod assignments;
pub mod condition;
pub mod definitions;
pub mod index;
pub mod policy;
pub mod rbac;
pub mod read_filter;
pub mod roles;
pub mod scope;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use sea_orm::DatabaseConnection;
use serde::Serialize;

use crate::arm::id::ResourceId;
use crate::error::ArmError;
use crate::identity::Caller;
use crate::store::{authz_reads, subscription};

pub use assignments::{Removal, remove_for_deleted};
pub use policy::{Grant, Policy};
pub use rbac::Rbac;

/// What an authorization is about: the tenant root, or a resource (a subscription and a
/// resource group are resources here).
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Root,
    Resource(&'a ResourceId),
}

impl Target<'_> {
    pub fn display(&self) -> String {
        match self {
            Target::Root => "/".into(),
            Target::Resource(id) => id.display(),
        }
    }

    /// The canonical scope key: the lower-cased id, or `/`.
    pub fn key(&self) -> String {
        match self {
            Target::Root => "/".into(),
            Target::Resource(id) => id.key(),
        }
    }
}

/// One authorization question: may `caller` perform `action` at `target`?
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub caller: &'a Caller,
    pub action: &'a str,
    pub target: Target<'a>,
}

impl<'a> Ask<'a> {
    pub fn new(caller: &'a Caller, action: &'a str, target: Target<'a>) -> Self {
        Self {
            caller,
            action,
            target,
        }
    }

    /// The 403 `AuthorizationFailed` that answers no.
    pub fn denied(&self) -> ArmError {
        ArmError::authorization_failed(
            &self.caller.principal_id,
            self.action,
            &self.target.display(),
        )
    }
}

/// What a list may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readable {
    /// The caller may read the list's scope: every row.
    All,
    /// Only rows at, or reached from (as group, parent or hub), a scope where one of these
    /// subjects holds one of these roles without a condition. The query filters on it with a
    /// subquery over the assignments, so the number of assignments does not bound the query.
    Assigned {
        subjects: Vec<String>,
        roles: Vec<String>,
    },
}

/// Decides whether a caller may perform an action at a scope.
#[async_trait]
pub trait Authorizer: Send + Sync {
    /// Allows with the grant that allowed, or answers 403 `AuthorizationFailed` (404 for an
    /// unknown subscription).
    async fn authorize(&self, ask: Ask<'_>) -> Result<Grant, ArmError>;

    /// For a list at `ask.target`: everything, or the scopes below it the caller may read; 403
    /// when neither.
    async fn readable(&self, ask: Ask<'_>) -> Result<Readable, ArmError>;
}

/// A subscription as the authorizer and the subscriptions API see it.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionInfo {
    pub subscription_id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub state: String,
}

impl From<subscription::Model> for SubscriptionInfo {
    fn from(row: subscription::Model) -> Self {
        Self {
            subscription_id: row.subscription_id,
            tenant_id: row.tenant_id,
            display_name: row.display_name,
            state: row.state,
        }
    }
}

/// Subscription to tenant, cached: a subscription never changes tenant.
#[derive(Clone)]
pub struct SubscriptionDirectory {
    db: DatabaseConnection,
    cache: Arc<RwLock<HashMap<String, SubscriptionInfo>>>,
}

impl SubscriptionDirectory {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            cache: Arc::default(),
        }
    }

    /// The same directory (and cache) reading through another pool.
    pub fn with_db(&self, db: DatabaseConnection) -> Self {
        Self {
            db,
            cache: self.cache.clone(),
        }
    }

    pub async fn find(&self, subscription_id: &str) -> Result<Option<SubscriptionInfo>, ArmError> {
        let key = format!("/subscriptions/{}", subscription_id.to_lowercase());
        if let Some(found) = self.cache.read().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(Some(found));
        }
        let Some(row) = authz_reads::subscription(&self.db, &key).await? else {
            return Ok(None);
        };
        let info = SubscriptionInfo::from(row);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(key, info.clone());
        }
        Ok(Some(info))
    }
}
