//! An account's two keys: made by its provisioner, sealed like connection secrets (never in a
//! GET, an event, a log or a table in plain text), served only by `listKeys` and
//! `regenerateKey`. No `Debug` on purpose: nothing may print them.

use rand::Rng;
use rand::distributions::Alphanumeric;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::error::{ArmError, ErrorCode};
use crate::secrets::{MasterKeys, SecretError, store};

/// Azure's current keys are 84 characters of letters and digits.
const KEY_LENGTH: usize = 84;

#[derive(Serialize, Deserialize)]
pub struct Keys {
    pub key1: String,
    pub key2: String,
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.key1.zeroize();
        self.key2.zeroize();
    }
}

/// Which key a `regenerateKey` names: `Key1` or `Key2`, ignoring case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyName {
    Key1,
    Key2,
}

impl KeyName {
    pub fn parse(raw: Option<&str>) -> Result<Self, ArmError> {
        match raw {
            Some(name) if name.eq_ignore_ascii_case("key1") => Ok(Self::Key1),
            Some(name) if name.eq_ignore_ascii_case("key2") => Ok(Self::Key2),
            Some(other) => Err(ArmError::new(
                ErrorCode::InvalidKeyName,
                format!("The keyName '{other}' is invalid: use 'Key1' or 'Key2'."),
            )
            .with_target("keyName")),
            None => Err(ArmError::new(
                ErrorCode::InvalidKeyName,
                "The request body needs keyName: 'Key1' or 'Key2'.",
            )
            .with_target("keyName")),
        }
    }
}

fn new_key() -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(KEY_LENGTH)
        .map(char::from)
        .collect()
}

impl Keys {
    pub fn generate() -> Self {
        Self {
            key1: new_key(),
            key2: new_key(),
        }
    }

    pub fn regenerate(&mut self, which: KeyName) {
        let slot = match which {
            KeyName::Key1 => &mut self.key1,
            KeyName::Key2 => &mut self.key2,
        };
        slot.zeroize();
        *slot = new_key();
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"key1": self.key1, "key2": self.key2})
    }
}

/// The keys sealed for `account_key`, if the provisioner has made them.
pub async fn load(
    db: &impl ConnectionTrait,
    keys: &MasterKeys,
    account_key: &str,
) -> Result<Option<Keys>, SecretError> {
    store::get_json(db, keys, account_key).await
}

/// Seals `value` as the keys of `account_key` (its row must exist).
pub async fn save(
    db: &impl ConnectionTrait,
    keys: &MasterKeys,
    account_key: &str,
    value: &Keys,
) -> Result<(), SecretError> {
    store::put_json(db, keys, account_key, value).await
}
