//! The generic `…/resources` lists of Microsoft.Resources: top-level resources of every type
//! in a subscription or a group. A platform endpoint, not a resource type.

use actix_web::{HttpResponse, get};
use serde::Serialize;
use utoipa::ToSchema;

use serde_json::Value;

use crate::arm::envelope::normalize_location;
use crate::arm::http::{self, ArmRequest, PagedCall};
use crate::arm::id::ResourceId;
use crate::arm::read::{ListFilter, ListScope};
use crate::error::{ArmError, ErrorCode, ErrorResponse};

/// The generic lists take Microsoft.Resources' resources api-versions.
const VERSIONS: &str = "Microsoft.Resources/resources";

/// A page of resources of any type.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceList {
    pub value: Vec<serde_json::Value>,
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// One `name eq 'value'` clause of a `$filter`.
fn clause(text: &str) -> Option<(String, String)> {
    let (name, rest) = text.trim().split_once(" eq ")?;
    let value = rest.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    Some((name.trim().to_ascii_lowercase(), value.replace("''", "'")))
}

/// The `$filter`s ARM's generic lists take, joined by `and`: `resourceType eq '<type>'`,
/// `resourceGroup eq '<name>'`, `tagName eq '<name>'` with an optional `tagValue eq '<value>'`,
/// and `location eq '<region>'`.
fn resources_filter(req: &ArmRequest, subscription: &str) -> Result<ListFilter, ArmError> {
    let Some(filter) = req.param("$filter").filter(|f| !f.trim().is_empty()) else {
        return Ok(ListFilter::default());
    };
    let unsupported = || {
        ArmError::new(
            ErrorCode::InvalidFilterInQueryString,
            format!(
                "The $filter '{filter}' is not supported. Supported: resourceType eq '<type>', \
                 resourceGroup eq '<name>', tagName eq '<name>' [and tagValue eq '<value>'], \
                 location eq '<region>'."
            ),
        )
    };
    let mut out = ListFilter::default();
    let mut tag_value = None;
    for part in filter.split(" and ") {
        let (name, value) = clause(part).ok_or_else(unsupported)?;
        match name.as_str() {
            "resourcetype" => out.type_key = Some(value.to_lowercase()),
            "tagname" => out.tag_name = Some(value),
            "tagvalue" => tag_value = Some(value),
            "location" => out.location = Some(normalize_location(&value)),
            "resourcegroup" => {
                out.group_key = Some(ResourceId::resource_group(subscription, &value).key());
            }
            _ => return Err(unsupported()),
        }
    }
    match (&out.tag_name, tag_value) {
        (None, Some(_)) => return Err(unsupported()),
        (_, value) => out.tag_value = value,
    }
    Ok(out)
}

/// What `$expand` adds to each resource: `createdTime`, `changedTime`, `provisioningState`.
fn expand(req: &ArmRequest, items: &mut [Value]) {
    let Some(expand) = req.param("$expand") else {
        return;
    };
    let wanted: Vec<String> = expand
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .collect();
    for item in items.iter_mut() {
        let created = item.pointer("/systemData/createdAt").cloned();
        let changed = item.pointer("/systemData/lastModifiedAt").cloned();
        let state = item.pointer("/properties/provisioningState").cloned();
        let Some(map) = item.as_object_mut() else {
            continue;
        };
        for (name, value) in [
            ("createdTime", created),
            ("changedTime", changed),
            ("provisioningState", state),
        ] {
            if let Some(value) = value
                && wanted.iter().any(|w| w == &name.to_ascii_lowercase())
            {
                map.insert(name.into(), value);
            }
        }
    }
}

/// A page of the resources in `scope` that the caller may see under `action`.
async fn list<P>(
    (req, hreq, _, engine): &PagedCall<P>,
    scope: &ListScope,
    action: &str,
) -> Result<HttpResponse, ArmError> {
    let cx = req.context_for(VERSIONS)?;
    let subscription = match scope {
        ListScope::TopLevelInGroup { group } => group.subscription.clone(),
        ListScope::TopLevelInSubscription { subscription }
        | ListScope::Subscription { subscription, .. } => subscription.clone(),
        ListScope::Parent { parent, .. } => parent.subscription.clone(),
    };
    let filter = resources_filter(req, &subscription)?;
    let mut page = engine
        .list(&cx, scope, &filter, action, req.top()?, req.skip_token())
        .await?;
    expand(req, &mut page.items);
    Ok(http::list(
        page.items,
        page.next.map(|token| req.next_link(hreq, &token)),
    ))
}

#[utoipa::path(tag = "Resources",
    params(("subscriptionId" = String, Path), ("api-version" = String, Query), ("$filter" = Option<String>, Query), ("$top" = Option<u64>, Query), ("$skipToken" = Option<String>, Query)),
    responses((status = 200, body = ResourceList)))]
#[get("/subscriptions/{subscriptionId}/resources")]
pub async fn list_subscription_resources(
    call: PagedCall<String>,
) -> Result<HttpResponse, ArmError> {
    let scope = ListScope::TopLevelInSubscription {
        subscription: call.2.clone(),
    };
    list(&call, &scope, SUBSCRIPTION_READ).await
}

#[utoipa::path(tag = "Resources",
    params(("subscriptionId" = String, Path), ("resourceGroupName" = String, Path), ("api-version" = String, Query), ("$filter" = Option<String>, Query), ("$top" = Option<u64>, Query), ("$skipToken" = Option<String>, Query)),
    responses((status = 200, body = ResourceList), (status = 404, body = ErrorResponse)))]
#[get("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/resources")]
pub async fn list_group_resources(
    call: PagedCall<(String, String)>,
) -> Result<HttpResponse, ArmError> {
    let (subscription, group) = &*call.2;
    let scope = ListScope::TopLevelInGroup {
        group: ResourceId::resource_group(subscription, group),
    };
    list(&call, &scope, GROUP_READ).await
}

/// Listing the resources of a subscription.
pub const SUBSCRIPTION_READ: &str = "Microsoft.Resources/subscriptions/resources/read";
/// Listing the resources of a resource group.
pub const GROUP_READ: &str = "Microsoft.Resources/subscriptions/resourceGroups/resources/read";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_group_resources)
        .service(list_subscription_resources);
}
