//! What stands behind an account: its two keys (made once, sealed) and a system-assigned
//! identity when it asks for one. Removing an account is its soft delete: the provisioner
//! archives it with its projects and keys before the worker drops the rows, and its sweep
//! purges the archives whose retention has ended.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::TransactionTrait;
use serde_json::{Value, json};

use super::{deleted, keys};
use crate::config::TypeSettings;
use crate::error::ErrorCode;
use crate::provisioners::{Applied, ProvisionContext, ProvisionError, Provisioner};
use crate::resources::workspaces::tenant_of;
use crate::store::{deleted_accounts, resource};

/// Archives purged per sweep, at most.
const PURGE_BATCH: u64 = 64;

fn db_error(err: impl std::fmt::Display) -> ProvisionError {
    ProvisionError::retry(ErrorCode::DatabaseUnavailable, err.to_string())
}

/// A system-assigned identity for `row` when it asks for one and has none yet.
async fn system_identity(
    cx: &ProvisionContext<'_>,
    row: &resource::Model,
) -> Result<Option<Value>, ProvisionError> {
    let identity = &row.body["identity"];
    let wants = identity["type"]
        .as_str()
        .is_some_and(|t| t.to_ascii_lowercase().contains("systemassigned"));
    if !wants || identity["principalId"].is_string() {
        return Ok(None);
    }
    let mut created = identity.clone();
    created["principalId"] = json!(uuid::Uuid::new_v4().to_string());
    created["tenantId"] = json!(tenant_of(cx, row).await?);
    Ok(Some(created))
}

pub struct AccountProvisioner {
    pub settings: Arc<TypeSettings>,
}

#[async_trait]
impl Provisioner for AccountProvisioner {
    async fn apply(
        &self,
        cx: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<Applied, ProvisionError> {
        // A repeated attempt, an update or a restore finds the keys made: they stay.
        let existing = keys::load(cx.db, cx.keys, &row.id_key)
            .await
            .map_err(db_error)?;
        if existing.is_none() {
            keys::save(cx.db, cx.keys, &row.id_key, &keys::Keys::generate())
                .await
                .map_err(db_error)?;
        }
        Ok(Applied {
            identity: system_identity(cx, row).await?,
            ..Applied::default()
        })
    }

    /// The soft delete: what goes is archived first, so the rows can be dropped.
    async fn remove(
        &self,
        cx: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<(), ProvisionError> {
        let retention =
            i64::try_from(self.settings.soft_delete_retention.as_millis()).unwrap_or(i64::MAX);
        deleted::archive(cx.db, row, retention)
            .await
            .map_err(db_error)
    }

    async fn sweep(&self, cx: &ProvisionContext<'_>, now: i64) -> Result<u64, ProvisionError> {
        let expired = deleted_accounts::expired(cx.db, now, PURGE_BATCH)
            .await
            .map_err(db_error)?;
        let mut purged = 0;
        for record in expired {
            let tx = cx.db.begin().await.map_err(db_error)?;
            if deleted::purge(&tx, &record.account_key)
                .await
                .map_err(db_error)?
            {
                purged += 1;
            }
            tx.commit().await.map_err(db_error)?;
            tracing::info!(account = %record.account_key, "purged a soft-deleted account past its retention");
        }
        Ok(purged)
    }
}

/// A project's backend is its identity.
pub struct ProjectProvisioner;

#[async_trait]
impl Provisioner for ProjectProvisioner {
    async fn apply(
        &self,
        cx: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<Applied, ProvisionError> {
        Ok(Applied {
            identity: system_identity(cx, row).await?,
            ..Applied::default()
        })
    }

    async fn remove(
        &self,
        _cx: &ProvisionContext<'_>,
        _row: &resource::Model,
    ) -> Result<(), ProvisionError> {
        Ok(())
    }
}
