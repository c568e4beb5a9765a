//! Service principals with client secrets, as `az ad sp create-for-rbac` makes them: an
//! application (client) id to sign in with, an object id that is the principal in tokens and
//! role assignments, and a secret Kiln shows once.

use sea_orm::DatabaseConnection;
use serde::Serialize;
use thiserror::Error;

use super::client_secrets;
use crate::store::identity::service_principal;
use crate::store::{self, now_millis};

#[derive(Debug, Error)]
pub enum ServicePrincipalError {
    #[error("the display name must be 1 to 256 characters")]
    DisplayName,
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

/// Why a client could not sign in.
#[derive(Debug, Error)]
pub enum ClientAuthError {
    #[error("no application '{client_id}' in tenant '{tenant}'")]
    UnknownClient { client_id: String, tenant: String },
    #[error("invalid client secret")]
    BadSecret,
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

/// What `kiln sp create` prints, in `az ad sp create-for-rbac`'s shape plus the object id.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedServicePrincipal {
    pub app_id: String,
    pub display_name: String,
    /// The client secret: shown here once, never stored.
    pub password: String,
    pub tenant: String,
    pub object_id: String,
}

/// Registers a service principal in `tenant_id` with a new client secret.
pub async fn create_service_principal(
    db: &DatabaseConnection,
    display_name: &str,
    tenant_id: uuid::Uuid,
) -> Result<CreatedServicePrincipal, ServicePrincipalError> {
    let display_name = display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > 256 {
        return Err(ServicePrincipalError::DisplayName);
    }
    let created = CreatedServicePrincipal {
        app_id: uuid::Uuid::new_v4().to_string(),
        display_name: display_name.to_owned(),
        password: client_secrets::generate(),
        tenant: tenant_id.to_string(),
        object_id: uuid::Uuid::new_v4().to_string(),
    };
    let row = service_principal::Model {
        object_id: created.object_id.clone(),
        app_id: created.app_id.clone(),
        display_name: created.display_name.clone(),
        tenant_id: created.tenant.clone(),
        secret_hash: client_secrets::hash(&created.password),
        created_at: now_millis(),
    };
    store::service_principals::insert(db, row).await?;
    Ok(created)
}

/// The service principal `client_id` names in `tenant`, if `secret` is its secret.
pub async fn authenticate(
    db: &DatabaseConnection,
    tenant: &str,
    client_id: &str,
    secret: &str,
) -> Result<service_principal::Model, ClientAuthError> {
    let unknown = || ClientAuthError::UnknownClient {
        client_id: client_id.to_owned(),
        tenant: tenant.to_owned(),
    };
    let row = store::service_principals::find_by_app_id(db, client_id)
        .await?
        .ok_or_else(unknown)?;
    if !row.tenant_id.eq_ignore_ascii_case(tenant) {
        return Err(unknown());
    }
    if !client_secrets::verify(secret, &row.secret_hash) {
        return Err(ClientAuthError::BadSecret);
    }
    Ok(row)
}
