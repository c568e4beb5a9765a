//! The HTTP routes of every registered type, generated from its declaration: PUT, GET, PATCH,
//! DELETE and HEAD on a resource, the list under its parent, the list by subscription and its
//! POST actions. Each handler only extracts, calls the engine's in-process API, and answers
//! with the status codes the declaration names for the request's api-version.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::engine::{
    CallContext, DeleteResult, Engine, WriteOutcome, WriteResult, WriteVerb, not_found,
};
use super::http::{self, ArmRequest, JsonBody};
use super::id::ResourceId;
use super::lro::OperationRef;
use super::middleware::not_served;
use super::read::{ListFilter, ListParams, ListScope, Page};
use super::registry::{Registry, ResourceKind, Running, TypeDescriptor, WriteAnswer};
use crate::error::{ArmError, ErrorCode, read_on_a_live_connection};

/// How long a request waits for an operation its clients do not poll.
const WAIT: Duration = Duration::from_secs(30);

type Kind = Arc<dyn ResourceKind>;

/// What every handler extracts from a request (actix extracts a tuple in order).
type Call = (ArmRequest, HttpRequest, web::Data<Engine>);

/// What a handler that takes a body extracts.
type BodyCall = (ArmRequest, HttpRequest, JsonBody, web::Data<Engine>);

fn param(req: &HttpRequest, name: &str) -> String {
    req.match_info().get(name).unwrap_or_default().to_owned()
}

/// The id of the resource the route's first `depth` type segments name, below `group`.
fn nested_id(descriptor: &TypeDescriptor, req: &HttpRequest, depth: usize) -> ResourceId {
    let subscription = param(req, "subscriptionId");
    let group = param(req, "resourceGroupName");
    if depth == 0 {
        return ResourceId::resource_group(&subscription, &group);
    }
    let names: Vec<String> = descriptor
        .name_params
        .iter()
        .take(depth)
        .map(|p| param(req, p))
        .collect();
    let segments: Vec<(&str, &str)> = descriptor
        .type_path
        .iter()
        .take(depth)
        .copied()
        .zip(names.iter().map(String::as_str))
        .collect();
    ResourceId::resource(&subscription, &group, descriptor.namespace, &segments)
}

/// The id a resource route names.
fn item_id(descriptor: &TypeDescriptor, req: &HttpRequest) -> ResourceId {
    let depth = if descriptor.is_resource_group() {
        0
    } else {
        descriptor.type_path.len()
    };
    nested_id(descriptor, req, depth)
}

/// The parent a list route names: the subscription of resource groups, the group of a
/// top-level type, the parent resource of a child type.
fn parent_id(descriptor: &TypeDescriptor, req: &HttpRequest) -> ResourceId {
    if descriptor.is_resource_group() {
        return ResourceId::subscription(&param(req, "subscriptionId"));
    }
    nested_id(descriptor, req, descriptor.type_path.len() - 1)
}

/// The call context and the resource id of a request on an item route.
fn item(
    kind: &Kind,
    req: &ArmRequest,
    hreq: &HttpRequest,
) -> Result<(CallContext, ResourceId), ArmError> {
    let descriptor = kind.descriptor();
    Ok((req.context(descriptor)?, item_id(descriptor, hreq)))
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}

/// The monitors of a running operation on a response that is not a 202.
fn with_async_operation(
    mut builder: actix_web::HttpResponseBuilder,
    op: &OperationRef,
    base: &str,
) -> actix_web::HttpResponseBuilder {
    if let Some(url) = op.status_url(base) {
        builder.insert_header(("Azure-AsyncOperation", url));
    }
    builder.insert_header(("Retry-After", "1"));
    builder
}

/// The policy of a verb the type serves. Routes exist only for served verbs, so `None` is a
/// routing mistake; it answers as a method the path does not have.
fn served<'a, T>(policy: Option<&'a T>, method: &str) -> Result<&'a T, ArmError> {
    policy.ok_or_else(|| {
        ArmError::new(
            ErrorCode::MethodNotAllowed,
            format!("The HTTP method '{method}' is not supported for this resource type."),
        )
    })
}

/// Answers a PUT or PATCH as `answer` says. A write whose clients do not poll is waited for.
async fn answer_write(
    engine: &Engine,
    req: &ArmRequest,
    id: &ResourceId,
    answer: &WriteAnswer,
    result: WriteResult,
) -> Result<HttpResponse, ArmError> {
    let done = status(if result.created {
        answer.created
    } else {
        answer.replaced
    });
    let cx = req.context_unchecked(req.api_version()?);
    match (&result.outcome, answer.running) {
        (WriteOutcome::Completed, _) => Ok(http::resource(done, &result.etag, &result.resource)),
        (WriteOutcome::Accepted(_), Running::Accepted) => {
            Ok(http::write(&result, StatusCode::OK, &cx.base_url))
        }
        (WriteOutcome::Accepted(op), Running::AsyncOperation) => {
            let mut builder = with_async_operation(HttpResponse::build(done), op, &cx.base_url);
            builder.insert_header(("ETag", result.etag.as_str()));
            Ok(builder.json(&result.resource))
        }
        (WriteOutcome::Accepted(op), Running::Wait) => {
            engine.wait_for(&op.id, WAIT).await?;
            let (body, etag) = engine.get(&cx, id).await?;
            Ok(http::resource(done, &etag, &body))
        }
    }
}

/// PUT or PATCH: the engine writes, the verb's policy says how to answer.
async fn write(
    kind: Kind,
    verb: WriteVerb,
    (req, hreq, body, engine): BodyCall,
) -> Result<HttpResponse, ArmError> {
    let (cx, id) = item(&kind, &req, &hreq)?;
    let result = engine
        .write(verb, &cx, &id, &body.0, &req.preconditions, None)
        .await?;
    let verbs = &kind.descriptor().verbs;
    let policy = match verb {
        WriteVerb::Put => verbs.put.as_ref(),
        WriteVerb::Patch => verbs.patch.as_ref(),
    };
    let policy = served(policy, verb.method())?;
    answer_write(&engine, &req, &id, policy.get(&cx.api_version), result).await
}

async fn delete(kind: Kind, (req, hreq, engine): Call) -> Result<HttpResponse, ArmError> {
    let (cx, id) = item(&kind, &req, &hreq)?;
    let answer = served(kind.descriptor().verbs.delete.as_ref(), "DELETE")?.get(&cx.api_version);
    Ok(match engine.delete(&cx, &id, &req.preconditions).await? {
        DeleteResult::Absent if answer.absent == 404 => return Err(not_found(&id)),
        DeleteResult::Absent => HttpResponse::build(status(answer.absent)).finish(),
        DeleteResult::Deleted => HttpResponse::build(status(answer.deleted)).finish(),
        DeleteResult::Accepted(op) if answer.running == Running::Wait => {
            engine.wait_for(&op.id, WAIT).await?;
            HttpResponse::build(status(answer.deleted)).finish()
        }
        DeleteResult::Accepted(op) => http::accepted(&op, &cx.base_url),
    })
}

async fn get(kind: Kind, (req, hreq, engine): Call) -> Result<HttpResponse, ArmError> {
    let (cx, id) = item(&kind, &req, &hreq)?;
    let (body, etag) = read_on_a_live_connection(|| engine.get(&cx, &id)).await?;
    Ok(http::resource(StatusCode::OK, &etag, &body))
}

/// 204 when the resource exists, 404 when not (the SDKs' `check_existence`).
async fn head(kind: Kind, (req, hreq, engine): Call) -> Result<HttpResponse, ArmError> {
    let (cx, id) = item(&kind, &req, &hreq)?;
    match engine.get(&cx, &id).await {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(err) if err.status == StatusCode::NOT_FOUND => Ok(HttpResponse::NotFound().finish()),
        Err(err) => Err(err),
    }
}

fn list_params(req: &ArmRequest, descriptor: &TypeDescriptor) -> Result<ListParams, ArmError> {
    let filters = descriptor
        .verbs
        .list
        .map(|l| l.filters)
        .unwrap_or_default()
        .iter()
        .filter_map(|name| {
            req.param(name)
                .filter(|v| !v.is_empty())
                .map(|v| ((*name).to_owned(), v.to_owned()))
        })
        .collect();
    Ok(ListParams {
        top: req.top()?,
        skip_token: req.skip_token().map(str::to_owned),
        filters,
    })
}

fn answer_page(req: &ArmRequest, hreq: &HttpRequest, page: Page) -> HttpResponse {
    http::list(
        page.items,
        page.next.map(|token| req.next_link(hreq, &token)),
    )
}

async fn list(kind: Kind, (req, hreq, engine): Call) -> Result<HttpResponse, ArmError> {
    let descriptor = kind.descriptor();
    let cx = req.context(descriptor)?;
    let params = list_params(&req, descriptor)?;
    let parent = parent_id(descriptor, &hreq);
    let page =
        read_on_a_live_connection(|| engine.list_children(&cx, kind.as_ref(), &parent, &params))
            .await?;
    Ok(answer_page(&req, &hreq, page))
}

async fn list_by_subscription(
    kind: Kind,
    (req, hreq, engine): Call,
) -> Result<HttpResponse, ArmError> {
    let descriptor = kind.descriptor();
    let cx = req.context(descriptor)?;
    let params = list_params(&req, descriptor)?;
    let scope = ListScope::Subscription {
        subscription: param(&hreq, "subscriptionId"),
        type_key: descriptor.type_key(),
    };
    let filter = ListFilter {
        kind_key: params.get("kind").map(str::to_lowercase),
        ..ListFilter::default()
    };
    let read = descriptor.action("read");
    let page = read_on_a_live_connection(|| {
        engine.list(
            &cx,
            &scope,
            &filter,
            &read,
            params.top,
            params.skip_token.as_deref(),
        )
    })
    .await?;
    Ok(answer_page(&req, &hreq, page))
}

async fn action(
    kind: Kind,
    name: &'static str,
    (req, hreq, body, engine): BodyCall,
) -> Result<HttpResponse, ArmError> {
    let (cx, id) = item(&kind, &req, &hreq)?;
    let answer = engine.action(&cx, &id, name, &body.0).await?;
    let mut builder = HttpResponse::build(status(answer.status));
    if kind
        .descriptor()
        .action_decl(name)
        .is_some_and(|a| a.secret)
    {
        // Secrets must not be kept by a cache on the way or in a browser.
        builder
            .insert_header(("cache-control", "no-store"))
            .insert_header(("pragma", "no-cache"));
    }
    Ok(match answer.body {
        Some(body) => builder.json(body),
        None => builder.finish(),
    })
}

/// A route whose unserved methods answer 405 with an ARM error body.
fn route(path: String) -> actix_web::Resource {
    web::resource(path).default_service(web::to(not_served))
}

/// Registers the routes of every type in `registry`. Methods a route does not serve answer 405
/// with an ARM error body.
pub fn configure(cfg: &mut web::ServiceConfig, registry: &Registry) {
    for kind in registry.kinds() {
        let descriptor = kind.descriptor();
        let verbs = &descriptor.verbs;
        let mut item = route(descriptor.item_path());
        let k = kind.clone();
        item = item.route(web::get().to(move |c| get(k.clone(), c)));
        if verbs.put.is_some() {
            let k = kind.clone();
            item = item.route(web::put().to(move |c| write(k.clone(), WriteVerb::Put, c)));
        }
        if verbs.patch.is_some() {
            let k = kind.clone();
            item = item.route(web::patch().to(move |c| write(k.clone(), WriteVerb::Patch, c)));
        }
        if verbs.delete.is_some() {
            let k = kind.clone();
            item = item.route(web::delete().to(move |c| delete(k.clone(), c)));
        }
        if verbs.head {
            let k = kind.clone();
            item = item.route(web::head().to(move |c| head(k.clone(), c)));
        }
        cfg.service(item);
        if verbs.list.is_some() {
            let k = kind.clone();
            cfg.service(
                route(descriptor.list_path()).route(web::get().to(move |c| list(k.clone(), c))),
            );
        }
        if verbs.list_by_subscription {
            let k = kind.clone();
            cfg.service(
                route(descriptor.subscription_list_path())
                    .route(web::get().to(move |c| list_by_subscription(k.clone(), c))),
            );
        }
        for decl in descriptor.actions {
            let k = kind.clone();
            let name = decl.name;
            cfg.service(
                route(format!("{}/{name}", descriptor.item_path()))
                    .route(web::post().to(move |c| action(k.clone(), name, c))),
            );
        }
    }
}
