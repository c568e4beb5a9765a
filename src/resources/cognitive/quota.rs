//! Quota: per subscription, region and quota name (Azure's, per sku family and model), the
//! limit and the current usage — the capacities deployed there, soft-deleted accounts
//! included. A write that would go over is `400 InsufficientQuota`; two writes racing for the
//! last capacity take turns on the quota's row, so exactly one wins. What each deployment
//! holds is a row of `quota_usages`, written in the transaction of its write, so a decision
//! sums one index range.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::NAMESPACE;
use crate::arm::hooks::{Removal, RemovalHook};
use crate::arm::registry::PrepareContext;
use crate::config::TypeSettings;
use crate::error::{ArmError, ErrorCode};
use crate::store::{quotas, resource};

/// Takes `capacity` of quota `name` for the deployment being prepared, or refuses.
pub(super) async fn reserve(
    cx: &PrepareContext<'_>,
    account: &resource::Model,
    name: &str,
    capacity: i64,
    settings: &TypeSettings,
) -> Result<(), ArmError> {
    let location = account.location.as_deref().unwrap_or_default();
    let row = quotas::lock(cx.tx, &account.subscription_key, location, NAMESPACE, name).await?;
    let default = settings.quota_defaults.get(name);
    let limit = row.limit_override.or(default.map(|d| d.limit)).unwrap_or(0);
    let localized = default.map_or(name, |d| d.localized_name.as_str());
    let deployment_key = cx.id.key();
    let current = quotas::held_by_others(
        cx.tx,
        &account.subscription_key,
        location,
        NAMESPACE,
        name,
        &deployment_key,
    )
    .await?;
    if current + capacity > limit {
        let available = (limit - current).max(0);
        return Err(ArmError::new(
            ErrorCode::InsufficientQuota,
            format!(
                "This operation require {capacity} new capacity in quota {localized}, which is bigger than the current available capacity {available}. The current quota usage is {current} and the quota limit is {limit} for quota {localized}."
            ),
        ));
    }
    quotas::hold(
        cx.tx,
        &quotas::Held {
            resource_key: &deployment_key,
            account_key: &account.id_key,
            subscription_key: &account.subscription_key,
            location,
            namespace: NAMESPACE,
            name,
            amount: capacity,
        },
    )
    .await?;
    Ok(())
}

/// The deployment being prepared holds no quota (its sku counts against none).
pub(super) async fn hold_none(cx: &PrepareContext<'_>) -> Result<(), ArmError> {
    quotas::release(cx.tx, &cx.id.key()).await?;
    Ok(())
}

/// `{value: [Usage]}` of a subscription in a region: every quota name Kiln knows.
pub(super) async fn usages(
    db: &impl ConnectionTrait,
    settings: &TypeSettings,
    subscription_key: &str,
    location: &str,
    only_account: Option<&str>,
) -> Result<Value, ArmError> {
    let totals = quotas::held(db, subscription_key, location, NAMESPACE, only_account).await?;
    let overrides = quotas::overrides(db, subscription_key, location, NAMESPACE).await?;
    let value: Vec<Value> = settings
        .quota_defaults
        .all()
        .iter()
        .map(|quota| {
            let limit = overrides
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&quota.name))
                .map_or(quota.limit, |(_, l)| *l);
            let current: i64 = totals
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(&quota.name))
                .map(|(_, c)| c)
                .sum();
            json!({
                "name": {"value": quota.name, "localizedValue": quota.localized_name},
                "currentValue": current,
                "limit": limit,
                "unit": quota.unit,
                "quotaPeriod": null,
                "status": "Included",
            })
        })
        .collect();
    Ok(json!({ "value": value }))
}

/// A deleted deployment gives its capacity back. Only the deleted resource itself: what goes
/// below a (soft-)deleted account keeps holding quota until the account is purged.
pub struct QuotaGoesWithDeployment;

#[async_trait::async_trait]
impl RemovalHook for QuotaGoesWithDeployment {
    async fn removed(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        removal: &Removal<'_>,
    ) -> Result<(), sea_orm::DbErr> {
        quotas::release(tx, removal.key).await
    }
}
