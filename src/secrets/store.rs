//! The secrets of resources: one sealed secret per resource, removed with its resource
//! (a foreign key with `ON DELETE CASCADE`). This seals and opens; the rows' queries are in
//! [`crate::store::secrets`].

use sea_orm::ConnectionTrait;

use super::SecretError;
use super::keyring::MasterKeys;
use super::sealed::{self, Sealed};
use crate::store::{self, resource_secret};

impl From<resource_secret::Model> for Sealed {
    fn from(row: resource_secret::Model) -> Self {
        Self {
            master_key_id: row.master_key_id,
            wrapped_key: row.wrapped_key,
            ciphertext: row.ciphertext,
        }
    }
}

/// Seals `plaintext` for the resource `resource_key` and stores it, replacing what was there.
/// The resource row must exist (written earlier in the same transaction).
pub async fn put(
    db: &impl ConnectionTrait,
    keys: &MasterKeys,
    resource_key: &str,
    plaintext: &[u8],
) -> Result<(), SecretError> {
    let keyring = keys.current()?;
    let sealed = sealed::seal(&keyring, resource_key, plaintext)?;
    store::secrets::upsert(db, resource_key, sealed).await?;
    Ok(())
}

/// The plaintext stored for `resource_key`, if any.
pub async fn get(
    db: &impl ConnectionTrait,
    keys: &MasterKeys,
    resource_key: &str,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, SecretError> {
    let Some(row) = store::secrets::find(db, resource_key).await? else {
        return Ok(None);
    };
    let subject = row.resource_key.clone();
    Ok(Some(sealed::open(keys, &subject, &Sealed::from(row))?))
}

/// The JSON value stored for `resource_key`, if any. A plaintext that does not parse as `T`
/// is treated as a secret that does not open.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    db: &impl ConnectionTrait,
    keys: &MasterKeys,
    resource_key: &str,
) -> Result<Option<T>, SecretError> {
    let Some(plaintext) = get(db, keys, resource_key).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&plaintext)
        .map(Some)
        .map_err(|_| SecretError::Decrypt)
}

/// Seals `value` as JSON for `resource_key`, replacing what was there.
pub async fn put_json<T: serde::Serialize>(
    db: &impl ConnectionTrait,
    keys: &MasterKeys,
    resource_key: &str,
    value: &T,
) -> Result<(), SecretError> {
    let plaintext =
        zeroize::Zeroizing::new(serde_json::to_vec(value).map_err(|_| SecretError::Encrypt)?);
    put(db, keys, resource_key, &plaintext).await
}

pub async fn delete(db: &impl ConnectionTrait, resource_key: &str) -> Result<(), SecretError> {
    Ok(store::secrets::delete(db, resource_key).await?)
}
