//! `kiln keys rotate`: re-wraps every data key under the active master key, in batches, each
//! in its own transaction, while the service keeps serving. Only the small wrapped keys change;
//! the secrets' ciphertexts stay as they are. Each row is updated only if it is still the one
//! read (a concurrent write re-seals it under the active key anyway), so a rotation can be
//! stopped and run again at any point.

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

use super::SecretError;
use super::keyring::{self, KeySource, MasterKeys};
use super::sealed::{self, Sealed};
use crate::store::{now_millis, resource_secret};

pub const DEFAULT_BATCH: u64 = 100;

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotateReport {
    /// The id of the master key every secret is wrapped by now.
    pub active_key_id: String,
    pub rewrapped: u64,
    /// Rows still wrapped by another key (written meanwhile by a replica with an older
    /// configuration): run the rotation again.
    pub remaining: u64,
}

/// Re-wraps every row not under the active key.
pub async fn rewrap_all(
    db: &DatabaseConnection,
    keys: &MasterKeys,
    batch: u64,
) -> Result<RotateReport, SecretError> {
    let active = keys.current()?.active.id.clone();
    let mut rewrapped = 0;
    let mut after = String::new();
    loop {
        let rows = resource_secret::Entity::find()
            .filter(resource_secret::Column::MasterKeyId.ne(active.clone()))
            .filter(resource_secret::Column::ResourceKey.gt(after.clone()))
            .order_by_asc(resource_secret::Column::ResourceKey)
            .limit(batch.max(1))
            .all(db)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.resource_key.clone();
        let tx = db.begin().await?;
        for row in rows {
            let key = row.resource_key.clone();
            let old = Sealed::from(row);
            let Some(new) = sealed::rewrap(keys, &key, &old)? else {
                continue;
            };
            let updated = resource_secret::Entity::update_many()
                .col_expr(
                    resource_secret::Column::MasterKeyId,
                    Expr::value(new.master_key_id),
                )
                .col_expr(
                    resource_secret::Column::WrappedKey,
                    Expr::value(new.wrapped_key),
                )
                .col_expr(
                    resource_secret::Column::UpdatedAt,
                    Expr::value(now_millis()),
                )
                .filter(resource_secret::Column::ResourceKey.eq(key))
                .filter(resource_secret::Column::MasterKeyId.eq(old.master_key_id))
                .filter(resource_secret::Column::WrappedKey.eq(old.wrapped_key))
                .exec(&tx)
                .await?;
            rewrapped += updated.rows_affected;
        }
        tx.commit().await?;
    }
    let remaining = resource_secret::Entity::find()
        .filter(resource_secret::Column::MasterKeyId.ne(active.clone()))
        .count(db)
        .await?;
    Ok(RotateReport {
        active_key_id: active,
        rewrapped,
        remaining,
    })
}

/// How long a keyring-file rotation waits before its second pass, so a server that wrapped
/// a secret with the old key just before it noticed the new keyring is caught too.
const SETTLE: Duration = Duration::from_secs(2);

/// The whole rotation for a key source.
///
/// * `KILN_MASTER_KEY` (+ `KILN_MASTER_KEY_PREVIOUS`): the operator already made the new key
///   current everywhere; this re-wraps the rows, after which the previous keys can go.
/// * The keyring file: a new key is put first in the file (running servers read the file
///   again when it changes and wrap new secrets with it), the rows are re-wrapped, and once no
///   row needs them the old keys are removed from the file.
pub async fn rotate(
    db: &DatabaseConnection,
    source: &KeySource,
    batch: u64,
) -> Result<RotateReport, SecretError> {
    match source {
        KeySource::Configured { .. } => {
            let keys = MasterKeys::load(source.clone())?;
            rewrap_all(db, &keys, batch).await
        }
        KeySource::File(path) => {
            // Creates the file when this is the first use.
            MasterKeys::load(source.clone())?;
            let mut texts = keyring::file_keys(path)?;
            let new = keyring::generate_base64();
            texts.insert(0, new.clone());
            keyring::write_file(path, &texts)?;
            let keys = MasterKeys::load(source.clone())?;
            let mut report = rewrap_all(db, &keys, batch).await?;
            tokio::time::sleep(SETTLE).await;
            let second = rewrap_all(db, &keys, batch).await?;
            report.rewrapped += second.rewrapped;
            report.remaining = second.remaining;
            if report.remaining == 0 {
                keyring::write_file(path, &[new])?;
            }
            Ok(report)
        }
    }
}
