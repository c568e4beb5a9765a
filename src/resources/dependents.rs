//! `Microsoft.Storage/storageAccounts` and `Microsoft.KeyVault/vaults`: the dependent resources
//! a hub's provisioner creates in the hub's resource group. Kiln serves them read-only; they
//! are removed with the hub (`managedBy`) or with their resource group.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;

use crate::arm::engine::Engine;
use crate::arm::http::{self, ArmRequest};
use crate::arm::id::ResourceId;
use crate::arm::read::{ListFilter, ListScope};
use crate::arm::registry::{ResourceKind, TypeDescriptor};
use crate::error::{ArmError, ErrorResponse};
use crate::provisioners::{Applied, ProvisionContext, ProvisionError, Provisioner};
use crate::store::resource;

pub static STORAGE_ACCOUNT: TypeDescriptor = TypeDescriptor {
    namespace: "Microsoft.Storage",
    type_path: &["storageAccounts"],
    api_versions: &["2023-01-01", "2023-05-01", "2024-01-01", "2025-01-01"],
    tracked: true,
    provisioned: false,
    name_rule: "Storage account names are 3-24 lower-case letters and digits.",
    name_valid: valid_storage_name,
};

pub static KEY_VAULT: TypeDescriptor = TypeDescriptor {
    namespace: "Microsoft.KeyVault",
    type_path: &["vaults"],
    api_versions: &["2023-07-01", "2024-11-01"],
    tracked: true,
    provisioned: false,
    name_rule: "Key vault names are 3-24 letters, digits and '-', starting with a letter.",
    name_valid: valid_vault_name,
};

pub fn valid_storage_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

pub fn valid_vault_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The rules of a dependent type: the engine's defaults.
pub struct Dependents(pub &'static TypeDescriptor);

#[async_trait]
impl ResourceKind for Dependents {
    fn descriptor(&self) -> &'static TypeDescriptor {
        self.0
    }
}

/// A storage account's backend is its root in the object store.
pub struct StorageAccountProvisioner;

#[async_trait]
impl Provisioner for StorageAccountProvisioner {
    async fn apply(
        &self,
        cx: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<Applied, ProvisionError> {
        cx.storage
            .ensure_account(&row.name, &row.id)
            .await
            .map_err(ProvisionError::from)?;
        Ok(Applied::default())
    }

    async fn remove(
        &self,
        cx: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<(), ProvisionError> {
        cx.storage
            .remove(&[&row.name])
            .await
            .map_err(ProvisionError::from)
    }
}

/// A page of dependent resources (storage accounts or key vaults).
#[derive(Debug, Serialize, ToSchema)]
pub struct DependentList {
    pub value: Vec<serde_json::Value>,
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

async fn get_one(
    req: &ArmRequest,
    engine: &Engine,
    descriptor: &'static TypeDescriptor,
    (subscription, group, name): &(String, String, String),
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(descriptor)?;
    let id = ResourceId::resource(
        subscription,
        group,
        descriptor.namespace,
        &[(descriptor.type_path[0], name)],
    );
    let (body, etag) = engine.get(&cx, &id).await?;
    Ok(http::resource(StatusCode::OK, &etag, &body))
}

async fn list_group(
    req: &ArmRequest,
    hreq: &HttpRequest,
    engine: &Engine,
    descriptor: &'static TypeDescriptor,
    (subscription, group): &(String, String),
) -> Result<HttpResponse, ArmError> {
    let cx = req.context(descriptor)?;
    let scope = ListScope::Parent {
        parent: ResourceId::resource_group(subscription, group),
        type_key: descriptor.type_key(),
    };
    req.list(
        engine,
        hreq,
        &cx,
        &scope,
        &ListFilter::default(),
        &descriptor.action("read"),
    )
    .await
}

#[utoipa::path(tag = "Dependent resources",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("accountName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, body = serde_json::Value), (status = 404, body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts/{accountName}"
)]
pub async fn get_storage_account(
    req: ArmRequest,
    path: web::Path<(String, String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    get_one(&req, &engine, &STORAGE_ACCOUNT, &path).await
}

#[utoipa::path(tag = "Dependent resources",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("api-version" = String, Query), ("$top" = Option<u64>, Query), ("$skipToken" = Option<String>, Query)),
    responses((status = 200, body = DependentList), (status = 404, body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts"
)]
pub async fn list_storage_accounts(
    req: ArmRequest,
    hreq: HttpRequest,
    path: web::Path<(String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    list_group(&req, &hreq, &engine, &STORAGE_ACCOUNT, &path).await
}

#[utoipa::path(tag = "Dependent resources",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("vaultName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, body = serde_json::Value), (status = 404, body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.KeyVault/vaults/{vaultName}"
)]
pub async fn get_key_vault(
    req: ArmRequest,
    path: web::Path<(String, String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    get_one(&req, &engine, &KEY_VAULT, &path).await
}

#[utoipa::path(tag = "Dependent resources",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("api-version" = String, Query), ("$top" = Option<u64>, Query), ("$skipToken" = Option<String>, Query)),
    responses((status = 200, body = DependentList), (status = 404, body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.KeyVault/vaults"
)]
pub async fn list_key_vaults(
    req: ArmRequest,
    hreq: HttpRequest,
    path: web::Path<(String, String)>,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, ArmError> {
    list_group(&req, &hreq, &engine, &KEY_VAULT, &path).await
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_storage_accounts)
        .service(get_storage_account)
        .service(list_key_vaults)
        .service(get_key_vault);
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_azure_rules() {
        assert!(super::valid_storage_name("sthub1a2b3c4d"));
        assert!(!super::valid_storage_name("St-hub"));
        assert!(super::valid_vault_name("kv-hub-1a2b3c4d"));
        assert!(!super::valid_vault_name("1kv"));
        assert!(!super::valid_vault_name("kv-"));
    }
}
