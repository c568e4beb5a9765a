//! Subscriptions (`GET /subscriptions`) and the platform administrator's endpoint to create
//! subscriptions.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::arm::engine::Engine;
use crate::arm::http::ArmRequest;
use crate::arm::registry::{ApiVersions, TypeDescriptor, TypeSchema, Verbs};
use crate::authz::SubscriptionInfo;
use crate::error::{ArmError, ErrorCode, ErrorResponse};
use crate::identity::{Caller, PrincipalType};
use crate::store::{now_millis, subscription, subscriptions};

pub static DESCRIPTOR: TypeDescriptor = TypeDescriptor {
    namespace: "Microsoft.Resources",
    type_path: &["subscriptions"],
    tracked: false,
    proxy_tags: false,
    provisioned: false,
    name_rule: "Subscription ids are GUIDs.",
    name_valid: |name| uuid::Uuid::parse_str(name).is_ok(),
    // Not a registered type: the platform serves subscriptions with its own routes, and this
    // declaration only checks their api-versions.
    name_params: &["subscriptionId"],
    api_versions: ApiVersions::Published,
    verbs: Verbs::READ_ONLY,
    actions: &[],
    schema: TypeSchema::of::<Subscription, serde_json::Map<String, Value>>(),
    tag: "Subscriptions",
};

/// The platform administrator: the principal `kiln token` mints for.
#[derive(Debug, Clone)]
pub struct PlatformAdmin {
    pub principal_id: String,
    /// The administrator's tenant: the same object id under another tenant is someone else.
    pub tenant_id: String,
}

impl PlatformAdmin {
    /// Refuses anyone but the platform administrator, naming the action they lack.
    pub fn require(&self, caller: &Caller, action: &str) -> Result<(), ArmError> {
        let is_admin = caller.principal_id.eq_ignore_ascii_case(&self.principal_id)
            && caller.tenant_id.eq_ignore_ascii_case(&self.tenant_id);
        if is_admin {
            Ok(())
        } else {
            Err(ArmError::authorization_failed(
                &caller.principal_id,
                action,
                "/",
            ))
        }
    }
}

/// A page of subscriptions, as `GET /subscriptions` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    pub value: Vec<Subscription>,
}

/// A subscription as ARM shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub subscription_id: String,
    pub tenant_id: String,
    pub display_name: String,
    /// Enabled, Warned, PastDue, Disabled or Deleted.
    pub state: String,
    pub authorization_source: String,
    pub subscription_policies: Value,
    /// What the tags API wrote at the subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Value>,
}

fn to_view(row: &SubscriptionInfo, tags: Option<Value>) -> Subscription {
    Subscription {
        id: format!("/subscriptions/{}", row.subscription_id),
        subscription_id: row.subscription_id.clone(),
        tenant_id: row.tenant_id.clone(),
        display_name: row.display_name.clone(),
        state: row.state.clone(),
        authorization_source: "RoleBased".into(),
        subscription_policies: json!({"locationPlacementId": "Public_2014-09-01", "quotaId": "Kiln", "spendingLimit": "Off"}),
        // Shown once the subscription has tags, as ARM shows them.
        tags: tags.filter(|t| t.as_object().is_some_and(|m| !m.is_empty())),
    }
}

/// The subscriptions of the caller's tenant.
#[utoipa::path(tag = "Subscriptions", params(("api-version" = String, Query)),
    responses((status = 200, description = "The subscriptions the caller can see", body = SubscriptionList)))]
#[get("/subscriptions")]
pub async fn list_subscriptions(
    req: ArmRequest,
    db: web::Data<DatabaseConnection>,
    rbac: web::Data<std::sync::Arc<crate::authz::Rbac>>,
) -> Result<HttpResponse, ArmError> {
    req.context(&DESCRIPTOR)?;
    let visible = visible_subscriptions(&req.caller, &rbac);
    let rows = crate::error::read_on_a_live_connection(|| async {
        let only = visible.clone();
        Ok(subscriptions::in_tenant(db.get_ref(), &req.caller.tenant_id, only).await?)
    })
    .await?;
    let value: Vec<Subscription> = rows
        .into_iter()
        .map(|row| {
            let tags = row.tags.clone();
            to_view(&row.into(), tags)
        })
        .collect();
    Ok(HttpResponse::Ok().json(SubscriptionList { value }))
}

/// Reading a subscription.
pub const READ: &str = "Microsoft.Resources/subscriptions/read";

/// The subscriptions in which the caller holds a role that reads subscriptions, at the
/// subscription or anywhere below it; `None` when one at the tenant root shows them all.
fn visible_subscriptions(caller: &Caller, rbac: &crate::authz::Rbac) -> Option<Vec<String>> {
    let subjects = crate::authz::rbac::subjects_of(caller);
    let snapshot = rbac.policy.snapshot();
    let scopes = snapshot.granted_scopes_below(&subjects, READ, "/");
    if scopes.iter().any(|s| s == "/") {
        return None;
    }
    let mut keys: Vec<String> = scopes
        .iter()
        .filter_map(|s| {
            let mut parts = s.split('/').skip(1);
            match (parts.next(), parts.next()) {
                (Some("subscriptions"), Some(id)) => Some(format!("/subscriptions/{id}")),
                _ => None,
            }
        })
        .collect();
    keys.sort();
    keys.dedup();
    Some(keys)
}

/// The subscription, if the request is well-formed and the caller may read it; from the
/// directory the authorizer already consulted (cached), not another query.
async fn visible_subscription(
    req: &ArmRequest,
    engine: &Engine,
    id: &str,
) -> Result<SubscriptionInfo, ArmError> {
    req.context(&DESCRIPTOR)?;
    readable_subscription(engine, &req.caller, id).await
}

/// The subscription, if the caller may read it (with a reading role at the subscription or
/// anywhere in it, as listed), whatever the request's api-version is checked against.
pub async fn readable_subscription(
    engine: &Engine,
    caller: &Caller,
    id: &str,
) -> Result<SubscriptionInfo, ArmError> {
    engine.readable_subscription(caller, READ, id).await
}

#[utoipa::path(tag = "Subscriptions", params(("subscriptionId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, body = Subscription), (status = 404, body = ErrorResponse)))]
#[get("/subscriptions/{subscriptionId}")]
pub async fn get_subscription(
    req: ArmRequest,
    path: web::Path<String>,
    engine: web::Data<Engine>,
    db: web::Data<DatabaseConnection>,
) -> Result<HttpResponse, ArmError> {
    let row = visible_subscription(&req, &engine, &path).await?;
    // Tags change; the directory's cached row does not carry them.
    let tags =
        subscriptions::tags(db.get_ref(), &subscriptions::key_of(&row.subscription_id)).await?;
    Ok(HttpResponse::Ok().json(to_view(&row, tags)))
}

/// What the platform administrator sends to create a subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionCreate {
    pub display_name: String,
    /// Generated when absent.
    pub subscription_id: Option<uuid::Uuid>,
    /// The caller's tenant when absent; created when it does not exist yet.
    pub tenant_id: Option<uuid::Uuid>,
}

/// Creates a subscription (platform administrator only). Its creator becomes its Owner once
/// role assignments exist.
pub async fn create_subscription(
    db: &DatabaseConnection,
    caller: &Caller,
    request: &SubscriptionCreate,
) -> Result<subscription::Model, ArmError> {
    use sea_orm::TransactionTrait;
    if request.display_name.trim().is_empty() || request.display_name.len() > 64 {
        return Err(ArmError::new(
            ErrorCode::InvalidDisplayName,
            "displayName must be 1 to 64 characters.",
        )
        .with_target("displayName"));
    }
    let tenant_id = request
        .tenant_id
        .map(|t| t.to_string())
        .unwrap_or_else(|| caller.tenant_id.clone());
    let subscription_id = request
        .subscription_id
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string();
    let principal_type = match caller.principal_type {
        PrincipalType::ServicePrincipal => "ServicePrincipal",
        _ => "User",
    };
    let tx = db.begin().await?;
    let model = open_subscription(
        &tx,
        NewSubscription {
            subscription_id: &subscription_id,
            tenant_id: &tenant_id,
            tenant_name: &format!("Tenant {tenant_id}"),
            display_name: request.display_name.trim(),
            owner: &caller.principal_id,
            owner_type: principal_type,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(model)
}

/// A subscription to open, and who owns it.
pub struct NewSubscription<'a> {
    pub subscription_id: &'a str,
    pub tenant_id: &'a str,
    /// The tenant's display name, if the tenant is new.
    pub tenant_name: &'a str,
    pub display_name: &'a str,
    pub owner: &'a str,
    /// `User` or `ServicePrincipal`.
    pub owner_type: &'a str,
}

/// Creates the subscription (and its tenant, when new) with its Owner assignment, in `tx`:
/// the creator owns what it creates from the first moment. 409 when it exists.
pub async fn open_subscription(
    tx: &impl sea_orm::ConnectionTrait,
    new: NewSubscription<'_>,
) -> Result<subscription::Model, ArmError> {
    let now = now_millis();
    subscriptions::ensure_tenant(tx, new.tenant_id, new.tenant_name, now).await?;
    let row = subscription::Model {
        key: subscriptions::key_of(new.subscription_id),
        subscription_id: new.subscription_id.to_owned(),
        tenant_id: new.tenant_id.to_owned(),
        display_name: new.display_name.to_owned(),
        state: "Enabled".into(),
        created_by: new.owner.to_owned(),
        created_at: now,
        tags: None,
    };
    if !subscriptions::insert(tx, &row).await? {
        return Err(ArmError::new(
            ErrorCode::SubscriptionAlreadyExists,
            format!("The subscription '{}' already exists.", new.subscription_id),
        ));
    }
    crate::authz::assignments::grant_subscription_owner(
        tx,
        &row.subscription_id,
        new.owner,
        new.owner_type,
    )
    .await?;
    Ok(row)
}

/// Creates a subscription. Platform administrators only.
#[utoipa::path(tag = "Admin", request_body = SubscriptionCreate,
    responses((status = 201, body = Subscription), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
#[post("/admin/subscriptions")]
pub async fn admin_create_subscription(
    caller: Caller,
    body: crate::arm::http::JsonBody,
    admin: web::Data<PlatformAdmin>,
    db: web::Data<DatabaseConnection>,
    assignments: web::Data<crate::authz::assignments::RoleAssignments>,
) -> Result<HttpResponse, ArmError> {
    admin.require(&caller, "Kiln.Admin/subscriptions/write")?;
    let request: SubscriptionCreate = serde_json::from_value(body.0)
        .map_err(|e| ArmError::invalid_content(format!("The request content was invalid: {e}.")))?;
    let row = create_subscription(&db, &caller, &request).await?;
    // The creator's Owner assignment is enforced before the answer.
    assignments.policy.refresh().await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(to_view(&row.into(), None)))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_subscriptions)
        .service(get_subscription)
        .service(admin_create_subscription);
}
