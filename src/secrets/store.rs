//! The `resource_secrets` table: one sealed secret per resource, removed with its resource
//! (a foreign key with `ON DELETE CASCADE`).

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use super::SecretError;
use super::keyring::MasterKeys;
use super::sealed::{self, Sealed};
use crate::store::{now_millis, resource_secret};

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
    resource_secret::Entity::insert(resource_secret::ActiveModel {
        resource_key: Set(resource_key.to_owned()),
        master_key_id: Set(sealed.master_key_id),
        wrapped_key: Set(sealed.wrapped_key),
        ciphertext: Set(sealed.ciphertext),
        updated_at: Set(now_millis()),
    })
    .on_conflict(
        OnConflict::column(resource_secret::Column::ResourceKey)
            .update_columns([
                resource_secret::Column::MasterKeyId,
                resource_secret::Column::WrappedKey,
                resource_secret::Column::Ciphertext,
                resource_secret::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The plaintext stored for `resource_key`, if any.
pub async fn get(
    db: &impl ConnectionTrait,
    keys: &MasterKeys,
    resource_key: &str,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, SecretError> {
    let Some(row) = resource_secret::Entity::find_by_id(resource_key.to_owned())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let subject = row.resource_key.clone();
    Ok(Some(sealed::open(keys, &subject, &Sealed::from(row))?))
}

pub async fn delete(db: &impl ConnectionTrait, resource_key: &str) -> Result<(), SecretError> {
    resource_secret::Entity::delete_by_id(resource_key.to_owned())
        .exec(db)
        .await?;
    Ok(())
}
