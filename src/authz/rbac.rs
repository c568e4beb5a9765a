//! Role-based decisions for requests: the scope walk of a target, the tenant gate, and the
//! 403 a denial answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use sea_orm::DatabaseConnection;

use super::condition::AccessRequest;
use super::policy::{Grant, Policy, Query};
use super::read_filter::{self, Link};
use super::{Ask, Authorizer, Readable, SubscriptionDirectory, Target};
use crate::arm::id::ResourceId;
use crate::error::ArmError;
use crate::identity::Caller;
use crate::lifecycle::subscription_not_found;
use crate::store::authz_reads;

/// How long the resource a resource depends on (a project's hub) is remembered. It is fixed
/// for the life of a resource; the limit only bounds a delete-and-recreate elsewhere.
const DEPENDS_ON_TTL: Duration = Duration::from_secs(2);

pub struct Rbac {
    pub policy: Arc<Policy>,
    pub subscriptions: SubscriptionDirectory,
    db: DatabaseConnection,
    depends_on: Mutex<HashMap<String, (Instant, Option<String>)>>,
}

/// The caller's object id and groups, lower-cased: the subjects of `g` links.
pub fn subjects_of(caller: &Caller) -> Vec<String> {
    std::iter::once(&caller.principal_id)
        .chain(caller.groups.iter())
        .map(|s| s.to_lowercase())
        .collect()
}

impl Rbac {
    pub fn new(
        policy: Arc<Policy>,
        subscriptions: SubscriptionDirectory,
        db: DatabaseConnection,
    ) -> Self {
        Self {
            policy,
            subscriptions,
            db,
            depends_on: Mutex::default(),
        }
    }

    /// What each of `keys` depends on for authorization (a project's hub), for those that
    /// exist: remembered ones from the cache, the rest in one query.
    async fn depends_on(&self, keys: &[String]) -> Result<HashMap<String, String>, ArmError> {
        let mut found = HashMap::new();
        let mut unknown = Vec::new();
        {
            let cache = self.depends_on.lock();
            for key in keys {
                match cache.get(key) {
                    Some((at, hub)) if at.elapsed() < DEPENDS_ON_TTL => {
                        if let Some(hub) = hub {
                            found.insert(key.clone(), hub.clone());
                        }
                    }
                    _ => unknown.push(key.clone()),
                }
            }
        }
        if unknown.is_empty() {
            return Ok(found);
        }
        let rows = authz_reads::depends_on(&self.db, &unknown).await?;
        // Absent resources are not remembered: one may be created in the next instant.
        let mut cache = self.depends_on.lock();
        if cache.len() > 100_000 {
            cache.clear();
        }
        for (key, hub) in rows {
            cache.insert(key.clone(), (Instant::now(), hub.clone()));
            if let Some(hub) = hub {
                found.insert(key, hub);
            }
        }
        Ok(found)
    }

    /// The scope keys an assignment may sit at to reach `target` ([`read_filter::walk`]: the
    /// resource, its parent resources each followed by what it depends on, its resource
    /// group, its subscription, the tenant root). Ids are bounded in depth
    /// (`ResourceId::parse`), and what the levels depend on is read in one query.
    pub async fn walk(&self, target: &Target<'_>) -> Result<Vec<String>, ArmError> {
        let hubs = self
            .depends_on(&read_filter::resource_levels(target))
            .await?;
        Ok(read_filter::walk(target, &|key| hubs.get(key).cloned()))
    }

    /// The tenant gate: the subscription exists and belongs to the caller's tenant.
    pub async fn check_tenant(
        &self,
        caller: &Caller,
        action: &str,
        id: &ResourceId,
    ) -> Result<(), ArmError> {
        let Some(sub) = self.subscriptions.find(&id.subscription).await? else {
            return Err(subscription_not_found(&id.subscription));
        };
        if !sub.tenant_id.eq_ignore_ascii_case(&caller.tenant_id) {
            return Err(ArmError::authorization_failed(
                &caller.principal_id,
                action,
                &id.display(),
            ));
        }
        Ok(())
    }

    /// Like `authorize`, with request attributes for conditions.
    pub async fn authorize_with(
        &self,
        ask: Ask<'_>,
        request: &(dyn AccessRequest + Sync),
    ) -> Result<Grant, ArmError> {
        self.authorize_caller(ask, Some(request)).await
    }

    /// The tenant gate, then the decision; 403 when nothing grants.
    async fn authorize_caller(
        &self,
        ask: Ask<'_>,
        request: Option<&(dyn AccessRequest + Sync)>,
    ) -> Result<Grant, ArmError> {
        if let Target::Resource(id) = ask.target {
            self.check_tenant(ask.caller, ask.action, id).await?;
        }
        let subjects = subjects_of(ask.caller);
        self.decide_for(&subjects, ask.action, false, &ask.target, request)
            .await?
            .ok_or_else(|| ask.denied())
    }

    /// A decision for a principal that is not the caller (checkAccess), with attributes.
    pub async fn decide_for(
        &self,
        subjects: &[String],
        action: &str,
        data: bool,
        target: &Target<'_>,
        request: Option<&(dyn AccessRequest + Sync)>,
    ) -> Result<Option<Grant>, ArmError> {
        let walk = self.walk(target).await?;
        Ok(self.decide_on(subjects, action, data, &walk, request))
    }

    /// A decision on a walk already made (checkAccess decides many actions on one).
    pub fn decide_on(
        &self,
        subjects: &[String],
        action: &str,
        data: bool,
        walk: &[String],
        request: Option<&(dyn AccessRequest + Sync)>,
    ) -> Option<Grant> {
        self.policy.snapshot().decide(&Query {
            subjects,
            action,
            data,
            walk,
            request: request.map(|r| r as &dyn AccessRequest),
        })
    }
}

#[async_trait]
impl Authorizer for Rbac {
    async fn authorize(&self, ask: Ask<'_>) -> Result<Grant, ArmError> {
        self.authorize_caller(ask, None).await
    }

    async fn readable(&self, ask: Ask<'_>) -> Result<Readable, ArmError> {
        let Ask {
            caller,
            action,
            target: scope,
        } = ask;
        if let Target::Resource(id) = scope {
            self.check_tenant(caller, action, id).await?;
        }
        let subjects = subjects_of(caller);
        if self
            .decide_for(&subjects, action, false, &scope, None)
            .await?
            .is_some()
        {
            return Ok(Readable::All);
        }
        let snapshot = self.policy.snapshot();
        let roles = snapshot.roles_granting(action);
        // Something under the list's scope is readable: the list shows it.
        if !snapshot
            .granted_scopes_below(&subjects, action, &scope.key())
            .is_empty()
        {
            return Ok(Readable::Assigned { subjects, roles });
        }
        // Or a project in it is reached through a readable hub elsewhere.
        let reached = match scope {
            Target::Resource(_) => {
                let through_hub = Link::DependsOn.granted(&subjects, &roles);
                authz_reads::any_child_where(&self.db, &scope.key(), through_hub).await?
            }
            Target::Root => false,
        };
        if reached {
            Ok(Readable::Assigned { subjects, roles })
        } else {
            Err(ask.denied())
        }
    }
}
