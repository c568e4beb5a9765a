//! Quota: per subscription, region and quota name (Azure's, per sku family and model), the
//! limit and the current usage — the capacities deployed there, soft-deleted accounts
//! included. A write that would go over is `400 InsufficientQuota`; two writes racing for the
//! last capacity take turns on the quota's row, so exactly one wins.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::deployments::DEPLOYMENTS;
use super::{NAMESPACE, deleted};
use crate::arm::registry::PrepareContext;
use crate::config::TypeSettings;
use crate::error::{ArmError, ErrorCode};
use crate::store::resources::{self, RowQuery};
use crate::store::{deleted_accounts, quotas, resource};

/// The quota name a deployment counts against and its capacity, by the catalog.
fn usage_of(
    settings: &TypeSettings,
    account: &resource::Model,
    deployment: &resource::Model,
) -> Option<(String, i64)> {
    let model = &deployment.body["properties"]["model"];
    let sku = &deployment.body["sku"];
    let entry = settings.model_catalog.find(
        account.body["kind"].as_str(),
        account.location.as_deref().unwrap_or_default(),
        model["format"].as_str()?,
        model["name"].as_str()?,
        model["version"].as_str(),
    )?;
    let location = account.location.as_deref().unwrap_or_default();
    let usage = entry
        .sku(sku["name"].as_str()?, location)?
        .usage_name
        .clone()?;
    Some((usage, sku["capacity"].as_i64().unwrap_or(0)))
}

/// Every (account, deployment) of a subscription in a region, live and soft-deleted.
async fn deployed(
    db: &impl ConnectionTrait,
    subscription_key: &str,
    location: &str,
) -> Result<Vec<(resource::Model, resource::Model)>, ArmError> {
    let rows = resources::list(
        db,
        RowQuery {
            subscription_key: Some(subscription_key.to_owned()),
            type_key: Some(DEPLOYMENTS.type_key()),
            ..RowQuery::default()
        },
    )
    .await?;
    let mut parents: Vec<String> = rows.iter().map(|r| r.parent_key.clone()).collect();
    parents.sort_unstable();
    parents.dedup();
    let accounts = resources::by_keys(db, parents).await?;
    let mut out: Vec<(resource::Model, resource::Model)> = rows
        .into_iter()
        .filter_map(|row| {
            let account = accounts.iter().find(|a| a.id_key == row.parent_key)?;
            (account.location.as_deref() == Some(location)).then(|| (account.clone(), row))
        })
        .collect();
    for record in deleted_accounts::in_subscription(db, subscription_key).await? {
        if record.location != location {
            continue;
        }
        let (account, children) = deleted::archived_rows(&record)?;
        let deployment_type = DEPLOYMENTS.type_key();
        out.extend(
            children
                .into_iter()
                .filter(|c| c.type_key == deployment_type)
                .map(|c| (account.clone(), c)),
        );
    }
    Ok(out)
}

/// Capacity used per quota name, leaving out `except` (the deployment being written).
async fn used(
    db: &impl ConnectionTrait,
    settings: &TypeSettings,
    subscription_key: &str,
    location: &str,
    except: Option<&str>,
) -> Result<Vec<(String, i64)>, ArmError> {
    let mut totals: Vec<(String, i64)> = Vec::new();
    for (account, deployment) in deployed(db, subscription_key, location).await? {
        if except == Some(deployment.id_key.as_str()) {
            continue;
        }
        let Some((name, capacity)) = usage_of(settings, &account, &deployment) else {
            continue;
        };
        match totals
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some((_, total)) => *total += capacity,
            None => totals.push((name, capacity)),
        }
    }
    Ok(totals)
}

fn total_of(totals: &[(String, i64)], name: &str) -> i64 {
    totals
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or(0, |(_, t)| *t)
}

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
    let totals = used(
        cx.tx,
        settings,
        &account.subscription_key,
        location,
        Some(&cx.id.key()),
    )
    .await?;
    let current = total_of(&totals, name);
    if current + capacity > limit {
        let available = (limit - current).max(0);
        return Err(ArmError::new(
            ErrorCode::InsufficientQuota,
            format!(
                "This operation require {capacity} new capacity in quota {localized}, which is bigger than the current available capacity {available}. The current quota usage is {current} and the quota limit is {limit} for quota {localized}."
            ),
        ));
    }
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
    let totals = match only_account {
        None => used(db, settings, subscription_key, location, None).await?,
        Some(account_key) => {
            let mut totals: Vec<(String, i64)> = Vec::new();
            for (account, deployment) in deployed(db, subscription_key, location).await? {
                if account.id_key != account_key {
                    continue;
                }
                if let Some((name, capacity)) = usage_of(settings, &account, &deployment) {
                    totals.push((name, capacity));
                }
            }
            totals
        }
    };
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
