//! The sealed half of a connection: its secret credential fields and, from 2020-08-01
//! clients, the legacy `value`. It has no `Debug` on purpose: nothing may print it.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::arm::registry::Companion;
use crate::error::ArmError;
use crate::secrets::{MasterKeys, store};

#[derive(Default, Serialize, Deserialize)]
pub struct SecretPart {
    #[serde(default)]
    pub credentials: Map<String, Value>,
    /// The 2020-08-01 DTO's secret (`value` with its `valueFormat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl SecretPart {
    pub fn is_empty(&self) -> bool {
        self.credentials.is_empty() && self.value.is_none()
    }

    /// Whether this write gives every secret `stored` holds again (names compared ignoring
    /// case, as ARM compares members).
    pub fn covers(&self, stored: &SecretPart) -> bool {
        stored.credentials.keys().all(|field| {
            self.credentials
                .keys()
                .any(|given| given.eq_ignore_ascii_case(field))
        }) && (stored.value.is_none() || self.value.is_some())
    }

    /// A write that leaves a secret out keeps the stored one (a GET → PUT round trip, which
    /// never sees the secrets, must not erase them).
    pub fn keep_missing(&mut self, stored: SecretPart) {
        for (field, value) in stored.credentials {
            self.credentials.entry(field).or_insert(value);
        }
        if self.value.is_none() {
            self.value = stored.value;
        }
    }

    /// Puts the secrets back into a rendered connection (listsecrets only).
    pub fn reveal_into(self, connection: &mut Value) {
        let Some(properties) = crate::arm::envelope::properties_mut(connection) else {
            return;
        };
        if !self.credentials.is_empty() {
            let credentials = properties
                .entry("credentials")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(map) = credentials.as_object_mut() {
                map.extend(self.credentials);
            }
        }
        if let Some(value) = self.value {
            properties.insert("value".into(), value);
        }
    }
}

/// The secret part stored for a connection, if any.
pub async fn load(
    db: &impl ConnectionTrait,
    keys: &MasterKeys,
    resource_key: &str,
) -> Result<Option<SecretPart>, ArmError> {
    Ok(store::get_json(db, keys, resource_key).await?)
}

/// Seals the secret part beside the connection row (or removes it when there is none).
pub struct SealSecret {
    pub keys: Arc<MasterKeys>,
    pub resource_key: String,
    pub part: SecretPart,
}

#[async_trait]
impl Companion for SealSecret {
    async fn store(self: Box<Self>, tx: &DatabaseTransaction) -> Result<(), ArmError> {
        if self.part.is_empty() {
            store::delete(tx, &self.resource_key).await?;
            return Ok(());
        }
        store::put_json(tx, &self.keys, &self.resource_key, &self.part).await?;
        Ok(())
    }
}
