//! Soft-deleted accounts, as Azure keeps them: the account with its projects and keys,
//! recoverable until its retention ends. `GET` and `DELETE` (purge) at
//! `/subscriptions/{s}/providers/Microsoft.CognitiveServices/locations/{l}/resourceGroups/{g}/deletedAccounts/{name}`,
//! the list at `/subscriptions/{s}/providers/Microsoft.CognitiveServices/deletedAccounts`,
//! and the restore: a PUT of the account with `properties.restore: true`.

use actix_web::{HttpResponse, delete, get, web};
use async_trait::async_trait;
use chrono::{SecondsFormat, TimeZone, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{NAMESPACE, SUBDOMAIN_REALM};
use crate::arm::engine::Engine;
use crate::arm::envelope::{Spec, from_body};
use crate::arm::http::ArmRequest;
use std::sync::Arc;

use crate::arm::id::{PathVocabulary, ResourceId};
use crate::arm::registry::{Companion, PrepareContext, Prepared};
use crate::error::{ArmError, ErrorCode, ErrorResponse};
use crate::store::secrets::Sealed;
use crate::store::{
    deleted_account, deleted_accounts, quotas, reserved_names, resource, resources,
};
use crate::store::{now_millis, secrets};

/// The type whose api-versions the deleted-account endpoints accept.
pub const TYPE: &str = "Microsoft.CognitiveServices/locations/resourceGroups/deletedAccounts";
pub const READ: &str = "Microsoft.CognitiveServices/locations/resourceGroups/deletedAccounts/read";
pub const PURGE: &str =
    "Microsoft.CognitiveServices/locations/resourceGroups/deletedAccounts/delete";

/// A resource row as archived: every column, so a restore puts it back as it was.
#[derive(Serialize, Deserialize)]
struct ArchivedRow {
    id_key: String,
    id: String,
    subscription_key: String,
    group_key: String,
    parent_key: String,
    type_key: String,
    name: String,
    kind_key: Option<String>,
    location: Option<String>,
    top_level: bool,
    depends_on_key: Option<String>,
    managed_by_key: Option<String>,
    body: Value,
    generation: i64,
    created_at: i64,
}

impl From<&resource::Model> for ArchivedRow {
    fn from(row: &resource::Model) -> Self {
        Self {
            id_key: row.id_key.clone(),
            id: row.id.clone(),
            subscription_key: row.subscription_key.clone(),
            group_key: row.group_key.clone(),
            parent_key: row.parent_key.clone(),
            type_key: row.type_key.clone(),
            name: row.name.clone(),
            kind_key: row.kind_key.clone(),
            location: row.location.clone(),
            top_level: row.top_level,
            depends_on_key: row.depends_on_key.clone(),
            managed_by_key: row.managed_by_key.clone(),
            body: row.body.clone(),
            generation: row.generation,
            created_at: row.created_at,
        }
    }
}

impl ArchivedRow {
    /// The row as restored: provisioned, at its old generation, with a new ETag.
    fn restored(self, now: i64) -> resource::Model {
        resource::Model {
            id_key: self.id_key,
            id: self.id,
            subscription_key: self.subscription_key,
            group_key: self.group_key,
            parent_key: self.parent_key,
            type_key: self.type_key,
            name: self.name,
            kind_key: self.kind_key,
            location: self.location,
            top_level: self.top_level,
            depends_on_key: self.depends_on_key,
            managed_by_key: self.managed_by_key,
            body: self.body,
            etag: resources::new_etag(),
            provisioning_state: crate::lifecycle::ProvisioningState::Succeeded
                .as_str()
                .into(),
            generation: self.generation,
            observed_generation: self.generation,
            created_at: self.created_at,
            updated_at: now,
        }
    }
}

/// A sealed secret as archived: still ciphertext, bound to its resource's key.
#[derive(Serialize, Deserialize)]
struct ArchivedSecret {
    resource_key: String,
    master_key_id: String,
    wrapped_key: String,
    ciphertext: String,
}

/// What a soft delete keeps.
#[derive(Serialize, Deserialize)]
struct Archive {
    account: ArchivedRow,
    children: Vec<ArchivedRow>,
    secrets: Vec<ArchivedSecret>,
}

/// Archives `account` with what is below it and their sealed secrets, recoverable for
/// `retention_millis`. Idempotent: a repeated attempt replaces the record with the same one.
pub(super) async fn archive(
    db: &DatabaseConnection,
    account: &resource::Model,
    retention_millis: i64,
) -> Result<(), sea_orm::DbErr> {
    let children = resources::below(db, &account.id_key).await?;
    let mut sealed = Vec::new();
    for row in std::iter::once(account).chain(&children) {
        if let Some(secret) = secrets::find(db, &row.id_key).await? {
            sealed.push(ArchivedSecret {
                resource_key: secret.resource_key,
                master_key_id: secret.master_key_id,
                wrapped_key: secret.wrapped_key,
                ciphertext: secret.ciphertext,
            });
        }
    }
    let archive = Archive {
        account: ArchivedRow::from(account),
        children: children.iter().map(ArchivedRow::from).collect(),
        secrets: sealed,
    };
    let archive = serde_json::to_value(&archive)
        .map_err(|err| sea_orm::DbErr::Custom(format!("archive of {}: {err}", account.id)))?;
    let now = now_millis();
    deleted_accounts::keep(
        db,
        deleted_account::Model {
            account_key: account.id_key.clone(),
            subscription_key: account.subscription_key.clone(),
            location: account.location.clone().unwrap_or_default(),
            archive,
            deleted_at: now,
            purge_at: now.saturating_add(retention_millis),
        },
    )
    .await
}

/// Purges a soft-deleted account: its record (with its keys) and its subdomain go.
pub(super) async fn purge(
    tx: &DatabaseTransaction,
    account_key: &str,
) -> Result<bool, sea_orm::DbErr> {
    reserved_names::release(tx, SUBDOMAIN_REALM, account_key).await?;
    quotas::release_account(tx, account_key).await?;
    deleted_accounts::remove(tx, account_key).await
}

fn parse_archive(record: &deleted_account::Model) -> Result<Archive, ArmError> {
    serde_json::from_value(record.archive.clone())
        .map_err(|_| ArmError::internal(&"a soft-deleted account's archive does not parse"))
}

pub(super) fn flag_must_be_set(name: &str) -> ArmError {
    ArmError::new(
        ErrorCode::FlagMustBeSetForRestore,
        format!(
            "An existing resource with ID '{name}' has been soft-deleted. To restore the resource, you must specify 'restore' to be 'true' in the property. If you don't want to restore existing resource, please purge it first."
        ),
    )
}

pub(super) fn nothing_to_restore(name: &str) -> ArmError {
    ArmError::new(
        ErrorCode::DeletedAccountNotFound,
        format!("There is no soft-deleted account '{name}' to restore. Leave out properties.restore to create a new account."),
    )
    .with_target("properties.restore")
}

/// The restore of a PUT with `restore: true`: the archived account (with the request's tags,
/// if it sends any), its projects and keys put back beside it.
pub(super) fn restore(
    _cx: &PrepareContext<'_>,
    request: Spec,
    record: deleted_account::Model,
) -> Result<Prepared, ArmError> {
    let archive = parse_archive(&record)?;
    let mut spec = from_body(archive.account.location.as_deref(), &archive.account.body);
    if request.tags.is_some() {
        spec.tags = request.tags;
    }
    let mut prepared = Prepared::spec(spec);
    prepared.companion = Some(Box::new(Restore { record, archive }));
    Ok(prepared)
}

struct Restore {
    record: deleted_account::Model,
    archive: Archive,
}

#[async_trait]
impl Companion for Restore {
    async fn store(self: Box<Self>, tx: &DatabaseTransaction) -> Result<(), ArmError> {
        let now = now_millis();
        let mut children = self.archive.children;
        // Parents before children.
        children.sort_by_key(|c| c.id_key.len());
        for child in children {
            resources::insert(tx, &child.restored(now)).await?;
        }
        for secret in self.archive.secrets {
            let sealed = Sealed {
                master_key_id: secret.master_key_id,
                wrapped_key: secret.wrapped_key,
                ciphertext: secret.ciphertext,
            };
            secrets::upsert(tx, &secret.resource_key, sealed).await?;
        }
        deleted_accounts::remove(tx, &self.record.account_key).await?;
        Ok(())
    }
}

fn iso(millis: i64) -> Value {
    Utc.timestamp_millis_opt(millis)
        .single()
        .map_or(Value::Null, |t| {
            json!(t.to_rfc3339_opts(SecondsFormat::Millis, true))
        })
}

/// The deleted-account id of an account id: under its location, as Azure names it.
fn deleted_id(account: &ArchivedRow) -> String {
    let group = account
        .id
        .split('/')
        .skip_while(|s| !s.eq_ignore_ascii_case("resourceGroups"))
        .nth(1)
        .unwrap_or_default();
    let subscription = account.id.split('/').nth(2).unwrap_or_default();
    format!(
        "/subscriptions/{subscription}/providers/{NAMESPACE}/locations/{}/resourceGroups/{group}/deletedAccounts/{}",
        account.location.as_deref().unwrap_or_default(),
        account.name
    )
}

fn view(record: &deleted_account::Model) -> Result<Value, ArmError> {
    let archive = parse_archive(record)?;
    let account = &archive.account;
    let mut properties = account
        .body
        .get("properties")
        .cloned()
        .unwrap_or_else(|| json!({}));
    properties["provisioningState"] = json!("Deleted");
    properties["deletionDate"] = iso(record.deleted_at);
    properties["scheduledPurgeDate"] = iso(record.purge_at);
    properties["restore"] = json!(false);
    Ok(json!({
        "id": deleted_id(account),
        "name": account.name,
        "type": "Microsoft.CognitiveServices/locations/resourceGroups/deletedAccounts",
        "location": account.location,
        "kind": account.body.get("kind"),
        "sku": account.body.get("sku"),
        "tags": account.body.get("tags"),
        "etag": format!("\"{}\"", record.deleted_at),
        "properties": properties,
    }))
}

/// The account id a deleted-account path names.
fn account_id(subscription: &str, group: &str, name: &str) -> ResourceId {
    ResourceId::resource(subscription, group, NAMESPACE, &[("accounts", name)])
}

/// What a deleted-account handler extracts: the path is subscription, location, group, name.
type DeletedCall = (
    ArmRequest,
    web::Path<(String, String, String, String)>,
    web::Data<Engine>,
    web::Data<DatabaseConnection>,
);

/// The record at the path, if the caller may `action` it; 404 when absent or elsewhere.
async fn record_at(
    req: &ArmRequest,
    engine: &Engine,
    db: &DatabaseConnection,
    path: &(String, String, String, String),
    action: &str,
) -> Result<deleted_account::Model, ArmError> {
    let cx = req.context_for(TYPE)?;
    let (subscription, location, group, name) = path;
    let id = account_id(subscription, group, name);
    engine.authorize(&cx, &id, action).await?;
    deleted_accounts::find(db, &id.key())
        .await?
        .filter(|r| crate::config::regions::normalize_location(location) == r.location)
        .ok_or_else(|| {
            ArmError::new(
                ErrorCode::ResourceNotFound,
                format!("The soft-deleted account '{name}' was not found in '{location}'."),
            )
        })
}

/// A soft-deleted account, with its deletion and scheduled purge dates.
#[utoipa::path(tag = "DeletedAccounts",
    params(("subscriptionId" = String, Path), ("location" = String, Path), ("resourceGroupName" = String, Path),
        ("accountName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "Account"), (status = "4XX", body = ErrorResponse)))]
#[get(
    "/subscriptions/{subscriptionId}/providers/Microsoft.CognitiveServices/locations/{location}/resourceGroups/{resourceGroupName}/deletedAccounts/{accountName}"
)]
pub async fn get_deleted_account(
    (req, path, engine, db): DeletedCall,
) -> Result<HttpResponse, ArmError> {
    let record = record_at(&req, &engine, &db, &path, READ).await?;
    Ok(HttpResponse::Ok().json(view(&record)?))
}

/// Purges a soft-deleted account: it can no longer be restored, and its subdomain is free.
#[utoipa::path(tag = "DeletedAccounts",
    params(("subscriptionId" = String, Path), ("location" = String, Path), ("resourceGroupName" = String, Path),
        ("accountName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200), (status = 204), (status = "4XX", body = ErrorResponse)))]
#[delete(
    "/subscriptions/{subscriptionId}/providers/Microsoft.CognitiveServices/locations/{location}/resourceGroups/{resourceGroupName}/deletedAccounts/{accountName}"
)]
pub async fn purge_deleted_account(
    (req, path, engine, db): DeletedCall,
) -> Result<HttpResponse, ArmError> {
    let record = match record_at(&req, &engine, &db, &path, PURGE).await {
        Ok(record) => record,
        // Purging what is not there (any more) is done: a retried purge succeeds.
        Err(err) if err.detail.code == ErrorCode::ResourceNotFound.as_str() => {
            return Ok(HttpResponse::NoContent().finish());
        }
        Err(err) => return Err(err),
    };
    let tx = db.begin().await?;
    let purged = purge(&tx, &record.account_key).await?;
    tx.commit().await?;
    Ok(if purged {
        HttpResponse::Ok().finish()
    } else {
        HttpResponse::NoContent().finish()
    })
}

/// The soft-deleted accounts of a subscription the caller may read.
#[utoipa::path(tag = "DeletedAccounts",
    params(("subscriptionId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "`{value: [Account]}`"), (status = "4XX", body = ErrorResponse)))]
#[get("/subscriptions/{subscriptionId}/providers/Microsoft.CognitiveServices/deletedAccounts")]
pub async fn list_deleted_accounts(
    req: ArmRequest,
    path: web::Path<String>,
    engine: web::Data<Engine>,
    db: web::Data<DatabaseConnection>,
    vocabulary: web::Data<Arc<PathVocabulary>>,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context_for(TYPE)?;
    let subscription = engine
        .readable_subscription(&req.caller, READ, &path)
        .await?;
    let subscription_key =
        ResourceId::subscription(&subscription.subscription_id).subscription_key();
    let mut value = Vec::new();
    for record in deleted_accounts::in_subscription(&**db, &subscription_key).await? {
        let archive = parse_archive(&record)?;
        let Some(id) = ResourceId::parse(&archive.account.id, &vocabulary) else {
            continue;
        };
        if engine.authorize(&cx, &id, READ).await.is_ok() {
            value.push(view(&record)?);
        }
    }
    Ok(HttpResponse::Ok().json(json!({ "value": value })))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_deleted_accounts)
        .service(get_deleted_account)
        .service(purge_deleted_account);
}
