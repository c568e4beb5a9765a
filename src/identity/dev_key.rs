//! The dev signing key: the HMAC key of the tokens `kiln token` mints (when dev tokens are on).
//! Generated on first start and kept in the database, sealed with the master key, so every
//! replica and every CLI command signs and checks with the same key. A key stored in plain
//! text by a version before sealing is sealed when it is next read.

use rand::RngCore;
use sea_orm::{ConnectionTrait, DbErr};

use crate::secrets::sealed::{self, StoredText};
use crate::secrets::{MasterKeys, SecretError};
use crate::store::meta;

/// What the dev key is sealed for.
const SUBJECT: &str = "kiln-dev-key";
/// Its row in `meta`.
const META_KEY: &str = "dev_signing_key";

fn corrupt(what: &str) -> SecretError {
    SecretError::Database(DbErr::Custom(format!("the dev signing key: {what}")))
}

/// The dev key, created on first use. Replicas that start together keep whichever key was
/// stored first.
pub async fn ensure(
    db: &impl ConnectionTrait,
    master: &MasterKeys,
) -> Result<Vec<u8>, SecretError> {
    if let Some(key) = read(db, master).await? {
        return Ok(key);
    }
    let mut key = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let text = sealed::seal_text(master, SUBJECT, &key)?;
    if meta::put_new(db, META_KEY, &text).await? {
        return Ok(key);
    }
    read(db, master)
        .await?
        .ok_or_else(|| corrupt("vanished while it was created"))
}

async fn read(
    db: &impl ConnectionTrait,
    master: &MasterKeys,
) -> Result<Option<Vec<u8>>, SecretError> {
    let Some(text) = meta::get(db, META_KEY).await? else {
        return Ok(None);
    };
    match sealed::open_text(master, SUBJECT, &text)? {
        StoredText::Sealed(bytes) => Ok(Some(bytes.to_vec())),
        StoredText::Plain => {
            let bytes = unhex(&text).ok_or_else(|| corrupt("not hex"))?;
            let sealed_text = sealed::seal_text(master, SUBJECT, &bytes)?;
            meta::put(db, META_KEY, &sealed_text).await?;
            Ok(Some(bytes))
        }
    }
}

/// Re-wraps the dev key with the active master key (`kiln keys rotate`): (re-wrapped, still
/// under another key).
pub async fn rewrap(
    db: &impl ConnectionTrait,
    master: &MasterKeys,
) -> Result<(u64, u64), SecretError> {
    let Some(text) = meta::get(db, META_KEY).await? else {
        return Ok((0, 0));
    };
    match sealed::rewrap_text(master, SUBJECT, &text)? {
        Some(new) => {
            meta::put(db, META_KEY, &new).await?;
            Ok((1, 0))
        }
        None => Ok((0, u64::from(sealed::Sealed::from_text(&text).is_none()))),
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}
