//! `POST /providers/Microsoft.Authorization/checkAccess`: data planes ask whether a principal
//! may perform actions on a resource, with the attributes conditions look at. A caller may ask
//! about itself; asking about another principal needs `Microsoft.Authorization/checkAccess/action`.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::arm::http::{ArmRequest, JsonBody};
use crate::arm::id::{PathVocabulary, ResourceId};
use crate::authz::condition::{AccessRequest, AttributeSource};
use crate::authz::{Ask, Authorizer, Rbac, Target};
use crate::error::{ArmError, ErrorCode, ErrorResponse};

/// No published swagger declares checkAccess (its clients send role-assignment versions, e.g.
/// 2018-09-01-preview): it takes the api-versions of Microsoft.Authorization/roleAssignments.
pub const CHECK_ACCESS_TYPE: &str = "Microsoft.Authorization/roleAssignments";

pub const CHECK_ACCESS_ACTION: &str = "Microsoft.Authorization/checkAccess/action";
const CONTAINER_NAME: &str = "microsoft.storage/storageaccounts/blobservices/containers:name";

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckAccessRequest {
    #[serde(alias = "Subject")]
    pub subject: Subject,
    #[serde(alias = "Actions")]
    pub actions: Vec<ActionRequest>,
    #[serde(alias = "Resource")]
    pub resource: ResourceInfo,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Subject {
    #[serde(alias = "Attributes")]
    pub attributes: SubjectAttributes,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SubjectAttributes {
    #[serde(alias = "ObjectId", alias = "objectId")]
    pub object_id: String,
    #[serde(default, alias = "Groups")]
    pub groups: Vec<String>,
    /// Other principal attributes, for `@Principal[…]`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub other: HashMap<String, Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActionRequest {
    #[serde(alias = "Id")]
    pub id: String,
    #[serde(default, alias = "IsDataAction", alias = "isDataAction")]
    pub is_data_action: bool,
    /// `@Request[…]` attributes of this action.
    #[serde(default, alias = "Attributes")]
    #[schema(value_type = Object)]
    pub attributes: HashMap<String, Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResourceInfo {
    #[serde(alias = "Id")]
    pub id: String,
    /// `@Resource[…]` attributes; a blob container's name is derived from its id.
    #[serde(default, alias = "Attributes")]
    #[schema(value_type = Object)]
    pub attributes: HashMap<String, Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessDecision {
    pub action_id: String,
    pub is_data_action: bool,
    /// `Allowed` or `NotAllowed`.
    pub access_decision: String,
    /// The assignment that allowed: its role and scope.
    #[schema(value_type = Object)]
    pub role_assignment: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckAccessResponse {
    pub value: Vec<AccessDecision>,
}

/// Attributes one map (the resource's, the principal's, one action's request) may carry.
pub const MAX_ATTRIBUTES: usize = 64;
/// Values one attribute may carry (a list of tags, of groups).
pub const MAX_VALUES: usize = 64;
/// Characters one attribute value may have.
pub const MAX_VALUE_LEN: usize = 1024;

/// Refuses attribute maps past the limits above, naming where: what a condition is evaluated
/// against comes from the body, and its cost grows with it.
fn check_attributes(map: &HashMap<String, Value>, target: &str) -> Result<(), ArmError> {
    let too_big = |what: String| {
        Err(ArmError::new(ErrorCode::InvalidRequestContent, what).with_target(target))
    };
    if map.len() > MAX_ATTRIBUTES {
        return too_big(format!(
            "'{target}' has {} attributes; at most {MAX_ATTRIBUTES} are allowed.",
            map.len()
        ));
    }
    for (name, value) in map {
        let values = values(value);
        if name.chars().count() > MAX_VALUE_LEN {
            return too_big(format!(
                "An attribute name in '{target}' is longer than {MAX_VALUE_LEN} characters."
            ));
        }
        if values.len() > MAX_VALUES {
            return too_big(format!(
                "'{target}.{name}' has {} values; at most {MAX_VALUES} are allowed.",
                values.len()
            ));
        }
        if values.iter().any(|v| v.chars().count() > MAX_VALUE_LEN) {
            return too_big(format!(
                "A value of '{target}.{name}' is longer than {MAX_VALUE_LEN} characters."
            ));
        }
    }
    Ok(())
}

fn values(v: &Value) -> Vec<String> {
    match v {
        Value::Null => vec![],
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(values).collect(),
        other => vec![other.to_string()],
    }
}

fn lowered(map: &HashMap<String, Value>) -> HashMap<String, Vec<String>> {
    map.iter()
        .map(|(k, v)| (k.to_lowercase(), values(v)))
        .collect()
}

/// The attributes one action is decided with.
struct Attributes<'a> {
    action: &'a str,
    resource: &'a HashMap<String, Vec<String>>,
    request: HashMap<String, Vec<String>>,
    principal: &'a HashMap<String, Vec<String>>,
}

impl AccessRequest for Attributes<'_> {
    fn action(&self) -> &str {
        self.action
    }

    fn sub_operation(&self) -> Option<&str> {
        self.request
            .get("suboperation")
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    fn attribute(&self, source: AttributeSource, name: &str) -> Vec<String> {
        let map = match source {
            AttributeSource::Resource => self.resource,
            AttributeSource::Request => &self.request,
            AttributeSource::Principal => self.principal,
            AttributeSource::Environment => return vec![],
        };
        map.get(&name.to_lowercase()).cloned().unwrap_or_default()
    }
}

/// A blob container's name, from `…/blobServices/default/containers/{name}[/blobs/…]`.
fn container_name(resource_id: &str) -> Option<String> {
    let segments: Vec<&str> = resource_id.split('/').collect();
    segments
        .windows(2)
        .find(|w| w[0].eq_ignore_ascii_case("containers"))
        .map(|w| w[1].to_owned())
}

/// Decides each action for the subject on the resource.
#[utoipa::path(tag = "RoleAssignments",
    params(("api-version" = String, Query)),
    request_body = CheckAccessRequest,
    responses((status = 200, body = CheckAccessResponse), (status = "4XX", body = ErrorResponse)))]
#[post("/providers/Microsoft.Authorization/checkAccess")]
pub async fn check_access(
    req: ArmRequest,
    body: JsonBody,
    rbac: web::Data<Arc<Rbac>>,
    vocabulary: web::Data<Arc<PathVocabulary>>,
) -> Result<HttpResponse, ArmError> {
    req.version_for(CHECK_ACCESS_TYPE)?;
    let request: CheckAccessRequest = serde_json::from_value(body.0)
        .map_err(|e| ArmError::invalid_content(format!("The request content was invalid: {e}.")))?;
    if request.actions.is_empty() || request.actions.len() > 200 {
        return Err(ArmError::new(
            ErrorCode::InvalidRequestContent,
            "'actions' must have 1 to 200 entries.",
        ));
    }
    check_attributes(&request.resource.attributes, "resource.attributes")?;
    check_attributes(&request.subject.attributes.other, "subject.attributes")?;
    if request.subject.attributes.groups.len() > MAX_VALUES {
        return Err(ArmError::new(
            ErrorCode::InvalidRequestContent,
            format!("'subject.attributes.groups' may have at most {MAX_VALUES} entries."),
        ));
    }
    for (i, action) in request.actions.iter().enumerate() {
        check_attributes(&action.attributes, &format!("actions[{i}].attributes"))?;
        if action.id.len() > MAX_VALUE_LEN {
            return Err(ArmError::new(
                ErrorCode::InvalidRequestContent,
                format!("'actions[{i}].id' is longer than {MAX_VALUE_LEN} characters."),
            ));
        }
    }
    let subject = uuid::Uuid::parse_str(&request.subject.attributes.object_id)
        .map_err(|_| {
            ArmError::new(
                ErrorCode::InvalidPrincipalId,
                "subject.attributes.objectId must be a GUID.",
            )
        })?
        .to_string();
    let resource = ResourceId::parse(&request.resource.id, &vocabulary).ok_or_else(|| {
        ArmError::new(
            ErrorCode::InvalidResourceId,
            format!(
                "The resource id '{}' is not a valid resource id.",
                request.resource.id
            ),
        )
        .with_target("resource.id")
    })?;
    if let Some(namespace) = resource.unserved_namespace(&vocabulary) {
        return Err(ArmError::new(
            ErrorCode::InvalidResourceNamespace,
            format!("The resource namespace '{namespace}' is invalid."),
        )
        .with_target("resource.id"));
    }
    let target = Target::Resource(&resource);
    let about_self = subject.eq_ignore_ascii_case(&req.caller.principal_id);
    // About oneself, the token says who one is: its groups, and no attributes from the body.
    // About another principal, the caller must be trusted to say (a data plane).
    let (subjects, principal) = if about_self {
        rbac.check_tenant(&req.caller, CHECK_ACCESS_ACTION, &resource)
            .await?;
        (crate::authz::rbac::subjects_of(&req.caller), HashMap::new())
    } else {
        rbac.authorize(Ask::new(&req.caller, CHECK_ACCESS_ACTION, target))
            .await?;
        let mut subjects = vec![subject];
        subjects.extend(
            request
                .subject
                .attributes
                .groups
                .iter()
                .map(|g| g.to_lowercase()),
        );
        (subjects, lowered(&request.subject.attributes.other))
    };
    let mut resource_attributes = lowered(&request.resource.attributes);
    // The container named by the id is the container: the body cannot say otherwise.
    if let Some(name) = container_name(&request.resource.id) {
        resource_attributes.insert(CONTAINER_NAME.into(), vec![name]);
    }
    // One walk for every action: the scopes above the resource do not depend on the action.
    let walk = rbac.walk(&target).await?;
    let mut value = Vec::with_capacity(request.actions.len());
    for action in &request.actions {
        let attributes = Attributes {
            action: &action.id,
            resource: &resource_attributes,
            request: lowered(&action.attributes),
            principal: &principal,
        };
        let grant = rbac.decide_on(
            &subjects,
            &action.id,
            action.is_data_action,
            &walk,
            Some(&attributes),
        );
        value.push(AccessDecision {
            action_id: action.id.clone(),
            is_data_action: action.is_data_action,
            access_decision: if grant.is_some() { "Allowed" } else { "NotAllowed" }.into(),
            role_assignment: grant.map(|g| {
                serde_json::json!({
                    "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{}", g.role),
                    "scope": g.scope,
                })
            }),
        });
    }
    Ok(HttpResponse::Ok().json(CheckAccessResponse { value }))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(check_access);
}
