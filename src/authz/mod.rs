//! Who is calling and what they may do.
//!
//! Authentication is an actix extractor ([`Caller`]); authorization is the [`Authorizer`]
//! trait the engine calls for every operation, so handlers cannot forget it and the
//! role-based implementation replaces the tenant check without touching handlers.

pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use sea_orm::{DatabaseConnection, EntityTrait};
use serde::Serialize;

use crate::error::ArmError;
use crate::store::subscription;

pub use token::{Caller, PrincipalType, TokenIssuer, TokenValidator};

/// Decides whether a caller may perform an action at a scope.
#[async_trait]
pub trait Authorizer: Send + Sync {
    /// `scope` is a resource id (display form); the subscription is its second segment.
    async fn authorize(
        &self,
        caller: &Caller,
        action: &str,
        scope: &str,
        subscription_id: &str,
    ) -> Result<(), ArmError>;
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
        let Some(row) = subscription::Entity::find_by_id(key.clone())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let info = SubscriptionInfo::from(row);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(key, info.clone());
        }
        Ok(Some(info))
    }
}

/// The foundation's authorizer: a caller may act on the subscriptions of its own tenant, and
/// nowhere else. Role assignments replace it with casbin.
pub struct TenantAuthorizer {
    pub subscriptions: SubscriptionDirectory,
}

#[async_trait]
impl Authorizer for TenantAuthorizer {
    async fn authorize(
        &self,
        caller: &Caller,
        action: &str,
        scope: &str,
        subscription_id: &str,
    ) -> Result<(), ArmError> {
        let Some(sub) = self.subscriptions.find(subscription_id).await? else {
            return Err(subscription_not_found(subscription_id));
        };
        if !sub.tenant_id.eq_ignore_ascii_case(&caller.tenant_id) {
            return Err(ArmError::authorization_failed(
                &caller.principal_id,
                action,
                scope,
            ));
        }
        Ok(())
    }
}

pub fn subscription_not_found(subscription_id: &str) -> ArmError {
    ArmError::not_found(
        "SubscriptionNotFound",
        format!("The subscription '{subscription_id}' could not be found."),
    )
}
