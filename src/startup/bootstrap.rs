//! First start: the bootstrap tenant, subscription and administrator (its Owner), and the dev
//! key. Kept in the database, not only in files, so every replica and every CLI command sees
//! the same values; later starts read them back.

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use thiserror::Error;

use crate::config::BootstrapSettings;
use crate::error::ArmError;
use crate::identity::dev_key;
use crate::resources::subscriptions::{NewSubscription, open_subscription};
use crate::secrets::{MasterKeys, SecretError};
use crate::store::meta;

const TENANT: &str = "bootstrap_tenant";
const SUBSCRIPTION: &str = "bootstrap_subscription";
const ADMIN: &str = "bootstrap_admin";

#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub tenant_id: String,
    pub subscription_id: String,
    pub admin_principal: String,
    pub dev_key: Vec<u8>,
}

#[derive(Debug, Error)]
pub enum BootstrapError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("the bootstrap subscription: {}", .0.detail.message)]
    Subscription(#[from] ArmError),
    #[error("the dev signing key: {0}")]
    DevKey(#[from] SecretError),
}

/// Creates the bootstrap state on first start; later starts read it back.
pub async fn ensure_bootstrap(
    db: &DatabaseConnection,
    settings: &BootstrapSettings,
    master: &MasterKeys,
) -> Result<Bootstrap, BootstrapError> {
    let (tenant_id, subscription_id, admin_principal) = match read(db).await? {
        Some(found) => found,
        None => create(db, settings).await?,
    };
    Ok(Bootstrap {
        tenant_id,
        subscription_id,
        admin_principal,
        dev_key: dev_key::ensure(db, master).await?,
    })
}

async fn read(db: &DatabaseConnection) -> Result<Option<(String, String, String)>, DbErr> {
    let (Some(tenant), Some(subscription), Some(admin)) = (
        meta::get(db, TENANT).await?,
        meta::get(db, SUBSCRIPTION).await?,
        meta::get(db, ADMIN).await?,
    ) else {
        return Ok(None);
    };
    Ok(Some((tenant, subscription, admin)))
}

async fn create(
    db: &DatabaseConnection,
    settings: &BootstrapSettings,
) -> Result<(String, String, String), BootstrapError> {
    let tenant_id = settings
        .tenant
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string();
    let subscription_id = settings
        .subscription
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string();
    let admin = uuid::Uuid::new_v4().to_string();
    let tx = db.begin().await?;
    let new = NewSubscription {
        subscription_id: &subscription_id,
        tenant_id: &tenant_id,
        tenant_name: "Bootstrap tenant",
        display_name: "Bootstrap subscription",
        owner: &admin,
        owner_type: "User",
    };
    let opened = open_subscription(&tx, new).await;
    let written = match opened {
        Ok(_) => {
            for (key, value) in [
                (TENANT, &tenant_id),
                (SUBSCRIPTION, &subscription_id),
                (ADMIN, &admin),
            ] {
                meta::put(&tx, key, value).await?;
            }
            tx.commit().await.map_err(BootstrapError::from)
        }
        Err(err) => Err(err.into()),
    };
    match written {
        Ok(()) => Ok((tenant_id, subscription_id, admin)),
        // Another replica bootstrapped at the same moment: use what it wrote.
        Err(err) => read(db).await?.ok_or(err),
    }
}
