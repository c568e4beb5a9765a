//! Secrets at rest: envelope encryption under master keys from configuration and the sealed
//! secrets of resources. The rotation that moves everything sealed to a new master key is
//! [`crate::rotation`], above this layer (it re-wraps identity's keys too).
//!
//! Nothing here logs or formats a secret: errors name the key id or the failing step only.

pub mod keyring;
pub mod sealed;
pub mod store;

use thiserror::Error;

pub use keyring::{KeySource, Keyring, MasterKeys};
pub use sealed::Sealed;

#[derive(Debug, Error)]
pub enum SecretError {
    #[error("the master key is invalid: {0} (expected base64 of 32 random bytes)")]
    BadMasterKey(String),
    #[error(
        "the master key '{0}' that sealed this secret is not configured (set it in KILN_MASTER_KEY_PREVIOUS until `kiln keys rotate` has finished)"
    )]
    UnknownMasterKey(String),
    #[error(
        "a secret failed to decrypt: it was altered, moved to another resource, or sealed by another key"
    )]
    Decrypt,
    #[error("a secret could not be encrypted")]
    Encrypt,
    #[error("the keyring file: {0}")]
    Io(#[from] std::io::Error),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl From<SecretError> for crate::error::ArmError {
    fn from(err: SecretError) -> Self {
        match err {
            // A replica without the key a row needs is misconfigured, not broken: retry elsewhere.
            SecretError::UnknownMasterKey(_) | SecretError::Io(_) => Self::unavailable(&err),
            SecretError::Database(db) => db.into(),
            _ => Self::internal(&err),
        }
    }
}
