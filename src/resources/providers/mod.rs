//! Resource providers, as ARM serves them at Microsoft.Resources' api-versions: the
//! namespaces Kiln serves (`/providers`, `/subscriptions/{s}/providers[/{namespace}]`,
//! register and unregister), each namespace's `…/operations`, and Microsoft.Authorization's
//! `providerOperations`, all from one [`catalogue`].

pub mod catalogue;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use serde_json::{Value, json};

use crate::arm::engine::Engine;
use crate::arm::http::ArmRequest;
use crate::arm::id::ResourceId;
use crate::arm::registry::Registry;
use crate::error::{ArmError, ErrorCode, ErrorResponse};
use crate::resources::subscriptions::readable_subscription;
use catalogue::ResourceType;

/// The api-versions of the provider endpoints: Microsoft.Resources'.
const PROVIDERS: &str = "Microsoft.Resources/providers";
const PROVIDER_OPERATIONS: &str = "Microsoft.Authorization/providerOperations";

fn type_view(registry: &Registry, t: &ResourceType) -> Value {
    let locations: Vec<&str> = if t.tracked {
        registry.regions().display_names()
    } else {
        vec![]
    };
    let default = t.api_versions.iter().find(|v| !v.contains("preview"));
    json!({
        "resourceType": t.type_path,
        "locations": locations,
        "apiVersions": t.api_versions,
        "defaultApiVersion": default,
        "capabilities": match (t.tracked, t.tagged) {
            (true, _) => "SupportsTags, SupportsLocation",
            (false, true) => "SupportsTags",
            (false, false) => "None",
        },
    })
}

/// A provider as `GET …/providers/{namespace}` shows it, under `prefix` (a subscription's
/// id, or empty at the tenant).
fn provider_view(registry: &Registry, prefix: &str, namespace: &str) -> Value {
    let resource_types: Vec<Value> = catalogue::resource_types(registry, namespace)
        .iter()
        .map(|t| type_view(registry, t))
        .collect();
    let mut view = json!({
        "id": format!("{prefix}/providers/{namespace}"),
        "namespace": namespace,
        "resourceTypes": resource_types,
    });
    if !prefix.is_empty() {
        // Every served namespace is registered in every subscription.
        view["registrationState"] = json!("Registered");
        view["registrationPolicy"] = json!("RegistrationRequired");
    }
    view
}

fn served_namespace(registry: &Registry, namespace: &str) -> Result<&'static str, ArmError> {
    catalogue::served(registry, namespace).ok_or_else(|| {
        ArmError::with_status(
            StatusCode::NOT_FOUND,
            ErrorCode::InvalidResourceNamespace,
            format!("The resource namespace '{namespace}' is invalid."),
        )
    })
}

/// The served namespace the path names, once the api-version is one of `versions_of`'s.
fn checked_namespace(
    (req, namespace, engine): &OneParamCall,
    versions_of: &str,
) -> Result<&'static str, ArmError> {
    req.version_for(versions_of)?;
    served_namespace(&engine.registry, namespace)
}

/// The id of the subscription the path names, once the api-version is one of `versions_of`'s
/// and the caller may read the subscription: what a subscription's list is under.
pub async fn subscription_prefix(
    (req, subscription, engine): &OneParamCall,
    versions_of: &str,
) -> Result<String, ArmError> {
    req.version_for(versions_of)?;
    let row = readable_subscription(engine, &req.caller, subscription).await?;
    Ok(format!("/subscriptions/{}", row.subscription_id))
}

fn providers_list(registry: &Registry, prefix: &str) -> HttpResponse {
    let value: Vec<Value> = catalogue::namespaces(registry)
        .into_iter()
        .map(|ns| provider_view(registry, prefix, ns))
        .collect();
    HttpResponse::Ok().json(json!({ "value": value }))
}

/// Every namespace Kiln serves, as the tenant sees them.
#[utoipa::path(tag = "Providers", params(("api-version" = String, Query)),
    responses((status = 200, description = "`{value: [Provider]}`"), (status = "4XX", body = ErrorResponse)))]
#[get("/providers")]
pub async fn list_tenant_providers((req, engine): TenantCall) -> Result<HttpResponse, ArmError> {
    req.version_for(PROVIDERS)?;
    Ok(providers_list(&engine.registry, ""))
}

#[utoipa::path(tag = "Providers", params(("namespace" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "The provider"), (status = 404, body = ErrorResponse)))]
#[get("/providers/{namespace}")]
pub async fn get_tenant_provider(call: OneParamCall) -> Result<HttpResponse, ArmError> {
    let namespace = checked_namespace(&call, PROVIDERS)?;
    Ok(HttpResponse::Ok().json(provider_view(&call.2.registry, "", namespace)))
}

/// Every namespace Kiln serves, `Registered`.
#[utoipa::path(tag = "Providers", params(("subscriptionId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "`{value: [Provider]}`"), (status = "4XX", body = ErrorResponse)))]
#[get("/subscriptions/{subscriptionId}/providers")]
pub async fn list_providers(call: OneParamCall) -> Result<HttpResponse, ArmError> {
    let prefix = subscription_prefix(&call, PROVIDERS).await?;
    Ok(providers_list(&call.2.registry, &prefix))
}

/// What a tenant-level handler, of no path parameter, extracts.
pub type TenantCall = (ArmRequest, web::Data<Engine>);

/// What a handler of one path parameter (a namespace, or a subscription) extracts.
pub type OneParamCall = (ArmRequest, web::Path<String>, web::Data<Engine>);

/// What a provider handler extracts (actix extracts a tuple in order); the path is the
/// subscription and the namespace.
type ProviderCall = (ArmRequest, web::Path<(String, String)>, web::Data<Engine>);

/// The provider in the subscription, once the caller may read the subscription.
async fn provider(
    (req, path, engine): &ProviderCall,
    action: Option<&str>,
) -> Result<HttpResponse, ArmError> {
    let version = req.version_for(PROVIDERS)?;
    let namespace = served_namespace(&engine.registry, &path.1)?;
    if let Some(verb) = action {
        // Registering is the caller's `{namespace}/register/action` at the subscription, as
        // in ARM (a Reader may not): refused naming that action, before anything else.
        let cx = req.context_unchecked(&version);
        let subscription = ResourceId::subscription(&path.0);
        engine
            .authorize(&cx, &subscription, &format!("{namespace}/{verb}"))
            .await?;
    }
    let row = readable_subscription(engine, &req.caller, &path.0).await?;
    let prefix = format!("/subscriptions/{}", row.subscription_id);
    Ok(HttpResponse::Ok().json(provider_view(&engine.registry, &prefix, namespace)))
}

#[utoipa::path(tag = "Providers", params(("subscriptionId" = String, Path), ("namespace" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "The provider, Registered"), (status = 404, body = ErrorResponse)))]
#[get("/subscriptions/{subscriptionId}/providers/{namespace}")]
pub async fn get_provider(call: ProviderCall) -> Result<HttpResponse, ArmError> {
    provider(&call, None).await
}

/// Registration is implicit: answers `Registered` so SDKs that auto-register never loop.
#[utoipa::path(tag = "Providers", params(("subscriptionId" = String, Path), ("namespace" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "The provider, Registered"), (status = 404, body = ErrorResponse)))]
#[post("/subscriptions/{subscriptionId}/providers/{namespace}/register")]
pub async fn register_provider(call: ProviderCall) -> Result<HttpResponse, ArmError> {
    provider(&call, Some("register/action")).await
}

/// Kiln serves every namespace in every subscription: unregistering is authorized as ARM
/// authorizes it and answers the provider, still `Registered`.
#[utoipa::path(tag = "Providers", params(("subscriptionId" = String, Path), ("namespace" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "The provider, still Registered"), (status = 404, body = ErrorResponse)))]
#[post("/subscriptions/{subscriptionId}/providers/{namespace}/unregister")]
pub async fn unregister_provider(call: ProviderCall) -> Result<HttpResponse, ArmError> {
    provider(&call, Some("unregister/action")).await
}

/// A namespace's own operations list, at any api-version the namespace publishes.
#[utoipa::path(tag = "Providers", params(("namespace" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "`{value: [Operation]}`"), (status = "4XX", body = ErrorResponse)))]
#[get("/providers/{namespace}/operations")]
pub async fn list_operations((req, path, engine): OneParamCall) -> Result<HttpResponse, ArmError> {
    let registry = &engine.registry;
    let namespace = served_namespace(registry, &path)?;
    let versions = catalogue::operations_versions(registry, namespace);
    let version = req.api_version()?.to_owned();
    if !versions.iter().any(|v| v.eq_ignore_ascii_case(&version)) {
        return Err(ArmError::new(
            ErrorCode::NoRegisteredProviderFound,
            format!(
                "No registered resource provider found for location 'global' and API version \
                 '{version}' for type 'operations'. The supported api-versions are '{}'.",
                versions.join(", ")
            ),
        ));
    }
    let value: Vec<catalogue::Operation> = catalogue::resource_types(registry, namespace)
        .into_iter()
        .flat_map(|t| t.operations)
        .chain(catalogue::namespace_operations(namespace))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "value": value })))
}

/// One namespace's operations metadata, as Microsoft.Authorization shows it to role authors.
fn metadata_view(registry: &Registry, namespace: &str) -> Value {
    let op = |o: &catalogue::Operation| {
        json!({
            "name": o.name,
            "displayName": o.display.operation,
            "description": o.display.description,
            "origin": o.origin,
            "isDataAction": o.is_data_action,
        })
    };
    let resource_types: Vec<Value> = catalogue::resource_types(registry, namespace)
        .iter()
        .filter(|t| !t.operations.is_empty())
        .map(|t| {
            json!({
                "name": t.type_path,
                "displayName": t.type_path,
                "operations": t.operations.iter().map(op).collect::<Vec<_>>(),
            })
        })
        .collect();
    let own: Vec<Value> = catalogue::namespace_operations(namespace)
        .iter()
        .map(op)
        .collect();
    json!({
        "id": format!("/providers/Microsoft.Authorization/providerOperations/{namespace}"),
        "name": namespace,
        "type": PROVIDER_OPERATIONS,
        "displayName": namespace,
        "resourceTypes": resource_types,
        "operations": own,
    })
}

#[utoipa::path(tag = "Providers", params(("api-version" = String, Query), ("$expand" = Option<String>, Query)),
    responses((status = 200, description = "`{value: [ProviderOperationsMetadata]}`"), (status = "4XX", body = ErrorResponse)))]
#[get("/providers/Microsoft.Authorization/providerOperations")]
pub async fn list_provider_operations((req, engine): TenantCall) -> Result<HttpResponse, ArmError> {
    req.version_for(PROVIDER_OPERATIONS)?;
    let value: Vec<Value> = catalogue::namespaces(&engine.registry)
        .into_iter()
        .map(|ns| metadata_view(&engine.registry, ns))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "value": value })))
}

#[utoipa::path(tag = "Providers", params(("namespace" = String, Path), ("api-version" = String, Query), ("$expand" = Option<String>, Query)),
    responses((status = 200, description = "ProviderOperationsMetadata"), (status = 404, body = ErrorResponse)))]
#[get("/providers/Microsoft.Authorization/providerOperations/{namespace}")]
pub async fn get_provider_operations(call: OneParamCall) -> Result<HttpResponse, ArmError> {
    let namespace = checked_namespace(&call, PROVIDER_OPERATIONS)?;
    Ok(HttpResponse::Ok().json(metadata_view(&call.2.registry, namespace)))
}

/// The fixed path segments of these routes.
pub const WORDS: [&str; 4] = ["operations", "providerOperations", "register", "unregister"];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // providerOperations before `/providers/{namespace}/operations`' neighbours: actix takes
    // the first route that matches.
    cfg.service(list_provider_operations)
        .service(get_provider_operations)
        .service(list_tenant_providers)
        .service(get_tenant_provider)
        .service(list_operations)
        .service(list_providers)
        .service(get_provider)
        .service(register_provider)
        .service(unregister_provider);
}
