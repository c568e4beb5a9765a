//! `kiln keys rotate`: re-wraps every data key under the active master key, in batches, each
//! in its own transaction, while the service keeps serving. Only the small wrapped keys change;
//! the secrets' ciphertexts stay as they are. Each row is updated only if it is still the one
//! read (a concurrent write re-seals it under the active key anyway), so a rotation can be
//! stopped and run again at any point.
//!
//! With a keyring file, one rotation runs at a time (a lock beside the file), and a key
//! leaves the file only once no row names it: a key removed while a secret still needs it
//! would lose that secret for good.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use sea_orm::{DatabaseConnection, TransactionTrait};

use thiserror::Error;

use crate::identity::signing_keys::SigningKeyError;
use crate::secrets::SecretError;

/// Why a rotation stopped: a sealing step, or Kiln's own signing keys.
#[derive(Debug, Error)]
pub enum RotationError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("the signing keys: {0}")]
    SigningKeys(#[from] SigningKeyError),
}

impl From<sea_orm::DbErr> for RotationError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Secret(err.into())
    }
}
use crate::secrets::keyring::{self, KeySource, MasterKeys};
use crate::secrets::sealed::{self, Sealed};
use crate::store::secrets as rows;

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
) -> Result<RotateReport, RotationError> {
    let active = keys.current()?.active.id.clone();
    let mut rewrapped = 0;
    let mut after = String::new();
    loop {
        let page = rows::page_not_under(db, &active, &after, batch.max(1)).await?;
        let Some(last) = page.last() else { break };
        after = last.resource_key.clone();
        let tx = db.begin().await?;
        for row in page {
            let key = row.resource_key.clone();
            let old = Sealed::from(row);
            let Some(new) = sealed::rewrap(keys, &key, &old)? else {
                continue;
            };
            rewrapped += u64::from(rows::replace_wrapping(&tx, &key, &old, new).await?);
        }
        tx.commit().await?;
    }
    let mut remaining = rows::count_not_under(db, &active).await?;
    // Kiln's own keys are sealed the same way: the token-signing keys and the dev key.
    let (signing, signing_left) = crate::identity::signing_keys::rewrap_all(db, keys).await?;
    let (dev, dev_left) = crate::identity::dev_key::rewrap(db, keys).await?;
    rewrapped += signing + dev;
    remaining += signing_left + dev_left;
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
/// * The keyring file: under the rotation lock, a new key is put first in the file (running
///   servers read the file again when it changes and wrap new secrets with it), the rows are
///   re-wrapped, and the old keys no row names any more are removed from the file.
pub async fn rotate(
    db: &DatabaseConnection,
    source: &KeySource,
    batch: u64,
) -> Result<RotateReport, RotationError> {
    match source {
        KeySource::Configured { .. } => {
            let keys = MasterKeys::load(source.clone())?;
            rewrap_all(db, &keys, batch).await
        }
        KeySource::File(path) => {
            let _lock = lock(path).await?;
            // Creates the file when this is the first use.
            MasterKeys::load(source.clone())?;
            let mut texts = keyring::file_keys(path)?;
            texts.insert(0, keyring::generate_base64());
            keyring::write_file(path, &texts)?;
            let keys = MasterKeys::load(source.clone())?;
            let mut report = rewrap_all(db, &keys, batch).await?;
            tokio::time::sleep(SETTLE).await;
            let second = rewrap_all(db, &keys, batch).await?;
            report.rewrapped += second.rewrapped;
            report.remaining = second.remaining;
            // Rows still under an old key (sealed by a server that had not yet seen the new
            // keyring) keep that key in the file; the next rotation moves them.
            prune(db, path).await?;
            Ok(report)
        }
    }
}

/// Holds the rotation lock of a keyring file (`master-keys.lock` beside it) until dropped,
/// waiting for a rotation that holds it. The OS releases it if the process dies.
async fn lock(path: &Path) -> Result<std::fs::File, SecretError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.with_extension("lock"))?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::info!("another key rotation is running: waiting for it to finish");
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
    }
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| SecretError::Io(std::io::Error::other(e)))?
        .map_err(SecretError::Io)
}

/// Removes from the keyring file every key but the active one and those a row still names;
/// returns how many keys are left. The rows are read just before the file is written, so a
/// secret sealed under an old key until then keeps its key. Call it under the rotation lock.
pub async fn prune(db: &DatabaseConnection, path: &Path) -> Result<usize, SecretError> {
    let in_use: HashSet<String> = rows::master_key_ids_in_use(db).await?.into_iter().collect();
    let texts = keyring::file_keys(path)?;
    let mut kept = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        if i == 0 || in_use.contains(&keyring::MasterKey::from_base64(text)?.id) {
            kept.push(text.clone());
        }
    }
    if kept.len() != texts.len() {
        keyring::write_file(path, &kept)?;
    }
    Ok(kept.len())
}
