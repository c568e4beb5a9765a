//! First-start state kept in the database: the bootstrap tenant, subscription and
//! administrator, and the dev signing key (sealed with the master key). Kept in the database (not only in files) so every
//! replica and every CLI command sees the same values.

use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, TransactionTrait,
};

use super::{meta_kv, now_millis, subscription, tenant};
use crate::config::BootstrapSettings;
use crate::secrets::MasterKeys;
use crate::secrets::sealed::{self, StoredText};

/// What the dev key is sealed for.
const DEV_KEY_SUBJECT: &str = "kiln-dev-key";

const TENANT: &str = "bootstrap_tenant";
const SUBSCRIPTION: &str = "bootstrap_subscription";
const ADMIN: &str = "bootstrap_admin";
const DEV_KEY: &str = "dev_signing_key";
/// The HTTPS base URL the server last listened on, used by `kiln token` for the issuer.
pub const ISSUER_BASE: &str = "issuer_base";

#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub tenant_id: String,
    pub subscription_id: String,
    pub admin_principal: String,
    pub dev_key: Vec<u8>,
}

pub async fn get(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, DbErr> {
    Ok(meta_kv::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|m| m.value))
}

pub async fn put(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<(), DbErr> {
    let row = meta_kv::ActiveModel {
        key: Set(key.into()),
        value: Set(value.into()),
    };
    meta_kv::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(meta_kv::Column::Key)
                .update_column(meta_kv::Column::Value)
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Creates the bootstrap tenant, subscription, administrator and dev key on first start;
/// later starts read them back.
pub async fn ensure_bootstrap(
    db: &DatabaseConnection,
    settings: &BootstrapSettings,
    master: &MasterKeys,
) -> Result<Bootstrap, DbErr> {
    if let Some(found) = read_bootstrap(db, master).await? {
        return Ok(found);
    }
    let tenant_id = settings
        .tenant
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string();
    let subscription_id = settings
        .subscription
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string();
    let admin = uuid::Uuid::new_v4().to_string();
    let mut key = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let tx = db.begin().await?;
    let now = now_millis();
    tenant::Entity::insert(tenant::ActiveModel {
        id: Set(tenant_id.clone()),
        display_name: Set("Bootstrap tenant".into()),
        created_at: Set(now),
    })
    .exec(&tx)
    .await?;
    subscription::Entity::insert(subscription::ActiveModel {
        key: Set(format!("/subscriptions/{}", subscription_id.to_lowercase())),
        subscription_id: Set(subscription_id.clone()),
        tenant_id: Set(tenant_id.clone()),
        display_name: Set("Bootstrap subscription".into()),
        state: Set("Enabled".into()),
        created_by: Set(admin.clone()),
        created_at: Set(now),
    })
    .exec(&tx)
    .await?;
    crate::authz::assignments::grant_subscription_owner(&tx, &subscription_id, &admin, "User")
        .await
        .map_err(|e| DbErr::Custom(e.detail.message))?;
    let sealed_key = sealed::seal_text(master, DEV_KEY_SUBJECT, &key).map_err(secret_error)?;
    for (k, v) in [
        (TENANT, tenant_id.as_str()),
        (SUBSCRIPTION, subscription_id.as_str()),
        (ADMIN, admin.as_str()),
        (DEV_KEY, sealed_key.as_str()),
    ] {
        put(&tx, k, v).await?;
    }
    match tx.commit().await {
        Ok(()) => {}
        // Another replica bootstrapped at the same moment: use what it wrote.
        Err(err) => match read_bootstrap(db, master).await? {
            Some(found) => return Ok(found),
            None => return Err(err),
        },
    }
    Ok(Bootstrap {
        tenant_id,
        subscription_id,
        admin_principal: admin,
        dev_key: key,
    })
}

fn secret_error(err: crate::secrets::SecretError) -> DbErr {
    DbErr::Custom(format!("the dev signing key: {err}"))
}

async fn read_bootstrap(
    db: &DatabaseConnection,
    master: &MasterKeys,
) -> Result<Option<Bootstrap>, DbErr> {
    let (Some(tenant_id), Some(subscription_id), Some(admin), Some(key)) = (
        get(db, TENANT).await?,
        get(db, SUBSCRIPTION).await?,
        get(db, ADMIN).await?,
        get(db, DEV_KEY).await?,
    ) else {
        return Ok(None);
    };
    let dev_key = match sealed::open_text(master, DEV_KEY_SUBJECT, &key).map_err(secret_error)? {
        StoredText::Sealed(bytes) => bytes.to_vec(),
        // Stored in plain text by a version before sealing: sealed now.
        StoredText::Plain => {
            let bytes = unhex(&key)
                .ok_or_else(|| DbErr::Custom("corrupt dev signing key in meta".into()))?;
            let text = sealed::seal_text(master, DEV_KEY_SUBJECT, &bytes).map_err(secret_error)?;
            put(db, DEV_KEY, &text).await?;
            bytes
        }
    };
    Ok(Some(Bootstrap {
        tenant_id,
        subscription_id,
        admin_principal: admin,
        dev_key,
    }))
}

/// Re-wraps the dev key with the active master key (`kiln keys rotate`): (re-wrapped, still
/// under another key).
pub async fn rewrap_dev_key(
    db: &DatabaseConnection,
    master: &MasterKeys,
) -> Result<(u64, u64), crate::secrets::SecretError> {
    let Some(text) = get(db, DEV_KEY).await? else {
        return Ok((0, 0));
    };
    match sealed::rewrap_text(master, DEV_KEY_SUBJECT, &text)? {
        Some(new) => {
            put(db, DEV_KEY, &new).await?;
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
