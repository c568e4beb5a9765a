//! A resource type, declared: where it lives, what each verb answers, its actions and its
//! published schema (its api-versions are Azure's, found by its name). The engine generates the routes and the
//! OpenAPI paths from this alone; a reader of one declaration knows every status code of the
//! type without opening the engine.

use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, schema::Schema};

use super::api_versions;
use crate::error::ArmError;
use crate::lifecycle::action_of;

/// Static facts about a resource type.
#[derive(Debug)]
pub struct TypeDescriptor {
    /// `Microsoft.MachineLearningServices`.
    pub namespace: &'static str,
    /// Type segments under the namespace: `["workspaces"]`, `["workspaces", "connections"]`.
    /// A type with more than one segment is a child of the type one segment shorter.
    pub type_path: &'static [&'static str],
    /// The path parameter naming the resource of each segment (`workspaceName`,
    /// `connectionName`), for routes and the OpenAPI document.
    pub name_params: &'static [&'static str],
    /// The api-versions it accepts: Azure's, for a type Azure publishes.
    pub api_versions: ApiVersions,
    /// Tracked resources carry `location` and `tags`; proxy resources neither.
    pub tracked: bool,
    /// A proxy type whose spec still has `tags` (deployments); tracked types always do.
    pub proxy_tags: bool,
    /// Writes go through an operation that a provisioner completes.
    pub provisioned: bool,
    /// Human description of the name rule, for the error message.
    pub name_rule: &'static str,
    pub name_valid: fn(&str) -> bool,
    /// What each verb answers.
    pub verbs: Verbs,
    /// POST verbs on one resource (`listsecrets`, `listKeys`).
    pub actions: &'static [ActionDecl],
    /// The published shape, which writes are also checked against.
    pub schema: TypeSchema,
    /// The OpenAPI tag and operation-id prefix (`Workspaces` → `Workspaces_CreateOrUpdate`).
    pub tag: &'static str,
}

/// Where a type's api-versions come from.
#[derive(Debug, Clone, Copy)]
pub enum ApiVersions {
    /// Every version Azure publishes for the type, stable and preview, found by its full type
    /// in `api-spec/azure/api-versions.json`.
    Published,
    /// A type Azure does not publish (a program's own): these, oldest first.
    Own(&'static [&'static str]),
}

/// The verbs a type serves and how each answers.
#[derive(Debug)]
pub struct Verbs {
    pub put: Option<ByVersion<WriteAnswer>>,
    pub patch: Option<ByVersion<WriteAnswer>>,
    pub delete: Option<ByVersion<DeleteAnswer>>,
    /// `HEAD` on a resource: 204 when it exists, 404 when not.
    pub head: bool,
    /// The list under the parent (or, for resource groups, the subscription).
    pub list: Option<Listing>,
    /// `GET /subscriptions/{s}/providers/{namespace}/{type}`: top-level tracked types.
    pub list_by_subscription: bool,
}

impl Verbs {
    /// Served for reading only: GET and the list under the parent.
    pub const READ_ONLY: Verbs = Verbs {
        put: None,
        patch: None,
        delete: None,
        head: false,
        list: Some(Listing::PAGED),
        list_by_subscription: false,
    };
}

/// A policy that may differ by api-version, as Azure's sometimes does.
#[derive(Debug)]
pub struct ByVersion<T: 'static> {
    pub default: T,
    /// Exceptions: (api-version, policy).
    pub at: &'static [(&'static str, T)],
}

impl<T> ByVersion<T> {
    pub const fn always(default: T) -> Self {
        Self { default, at: &[] }
    }

    pub fn get(&self, api_version: &str) -> &T {
        self.at
            .iter()
            .find(|(v, _)| v.eq_ignore_ascii_case(api_version))
            .map_or(&self.default, |(_, t)| t)
    }

    /// Every policy in force at some api-version, for the documentation.
    pub fn all(&self) -> impl Iterator<Item = &T> {
        std::iter::once(&self.default).chain(self.at.iter().map(|(_, t)| t))
    }
}

/// How a PUT or PATCH answers.
#[derive(Debug, Clone, Copy)]
pub struct WriteAnswer {
    /// The status of a write that created the resource and finished at once.
    pub created: u16,
    /// The status of a write that replaced (or patched) it and finished at once.
    pub replaced: u16,
    /// How a write whose operation still runs answers.
    pub running: Running,
}

/// How a verb answers while its operation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Running {
    /// `202 Accepted` with `Location`, `Azure-AsyncOperation` and `Retry-After`; the final
    /// state is read from `Location`.
    Accepted,
    /// The status of a finished write (`created` / `replaced`) with the body in its running
    /// provisioning state, and `Azure-AsyncOperation` + `Retry-After` to follow; never 202
    /// (clients that reject it: Cognitive Services deployments, template deployments).
    AsyncOperation,
    /// The request waits for the operation, then answers as finished (clients that do not
    /// poll).
    Wait,
}

impl WriteAnswer {
    /// 202 while provisioning; 200 when done (never 201).
    pub const ACCEPTED: WriteAnswer = Self::replacing_with_ok(200, Running::Accepted);
    /// Synchronous, 200 whether created or replaced.
    pub const OK: WriteAnswer = Self::replacing_with_ok(200, Running::Wait);
    /// 201 when created, 200 when replaced, with `Azure-AsyncOperation` while the operation
    /// runs and the body in its running state; never 202.
    pub const CREATED_ASYNC: WriteAnswer = Self::replacing_with_ok(201, Running::AsyncOperation);
    /// Synchronous, 201 when created, 200 when replaced.
    pub const CREATED_OR_OK: WriteAnswer = Self::replacing_with_ok(201, Running::Wait);

    /// `created` on create, 200 on replace, and as `running` says while the operation runs.
    const fn replacing_with_ok(created: u16, running: Running) -> Self {
        Self {
            created,
            replaced: 200,
            running,
        }
    }

    /// Every status this answer can have, for the documentation.
    pub fn statuses(&self) -> Vec<u16> {
        let mut out = vec![self.created, self.replaced];
        if self.running == Running::Accepted {
            out.push(202);
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// How a DELETE answers.
#[derive(Debug, Clone, Copy)]
pub struct DeleteAnswer {
    /// The status when nothing was there: 204, or 404 (resource groups).
    pub absent: u16,
    /// The status when the resource was removed at once (200 or 204).
    pub deleted: u16,
    /// How a delete that runs as an operation answers.
    pub running: Running,
    /// Whether the row goes at once, in the request, instead of through an operation. Only
    /// for types with nothing behind them and no children.
    pub at_once: bool,
}

impl DeleteAnswer {
    /// 202 + monitors while the provisioner removes it; 204 when absent.
    pub const ACCEPTED: DeleteAnswer = DeleteAnswer {
        absent: 204,
        deleted: 200,
        running: Running::Accepted,
        at_once: false,
    };
    /// Removed at once: 200, or 204 when absent.
    pub const AT_ONCE: DeleteAnswer = DeleteAnswer {
        absent: 204,
        deleted: 200,
        running: Running::Wait,
        at_once: true,
    };

    pub fn statuses(&self) -> Vec<u16> {
        let mut out = vec![self.absent, self.deleted];
        if !self.at_once && self.running == Running::Accepted {
            out.push(202);
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// How the list under the parent pages.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    /// Keyset pages with `$top`, `$skipToken` and an absolute `nextLink`; otherwise all on one
    /// page (clients that do not follow nextLink).
    pub paged: bool,
    /// Query parameters that filter the list. `kind` filters by the resource's kind; any
    /// other name compares `properties.{name}` ignoring case (one-page lists only).
    pub filters: &'static [&'static str],
    /// Whether the type shows rows stored elsewhere: its `listed_through` hook adds them to
    /// the list (a hub's shared connections in a project's list) and `read_through` serves
    /// them at their paths there, read-only.
    pub through_parent: bool,
}

impl Listing {
    pub const PAGED: Listing = Listing {
        paged: true,
        filters: &[],
        through_parent: false,
    };

    /// Everything on one page, filtered by these query parameters.
    pub const fn one_page(filters: &'static [&'static str]) -> Listing {
        Listing {
            paged: false,
            filters,
            through_parent: false,
        }
    }
}

/// A POST verb on one resource: `{resource id}/{name}`.
#[derive(Debug)]
pub struct ActionDecl {
    /// The path segment (`listsecrets`).
    pub name: &'static str,
    /// The RBAC action under the type (`listsecrets/action` →
    /// `…/connections/listsecrets/action`). Reading does not grant it.
    pub rbac: &'static str,
    pub summary: &'static str,
    /// What it answers with 200.
    pub returns: ActionReturns,
    /// Whether the answer holds secrets: `Cache-Control: no-store`.
    pub secret: bool,
    /// The first api-version that has the action; `None`: every version of the type.
    pub since: Option<&'static str>,
}

#[derive(Debug, Clone, Copy)]
pub enum ActionReturns {
    /// The resource itself, as GET shows it, with what the action adds.
    Resource,
    /// A body of its own shape.
    Schema(SchemaFn),
}

/// A named schema and the schemas it refers to, for the OpenAPI components.
#[derive(Clone, Copy)]
pub struct SchemaFn {
    pub name: fn() -> String,
    pub collect: fn(&mut Vec<(String, RefOr<Schema>)>),
}

impl std::fmt::Debug for SchemaFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&(self.name)())
    }
}

fn name_of<T: ToSchema>() -> String {
    T::name().into_owned()
}

fn collect_of<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
    out.push((name_of::<T>(), T::schema()));
    T::schemas(out);
}

impl SchemaFn {
    pub const fn of<T: ToSchema>() -> Self {
        Self {
            name: name_of::<T>,
            collect: collect_of::<T>,
        }
    }
}

/// The published shape of a type: the resource schema, and the typed properties every
/// stored write must deserialize into (a flattened map keeps the properties it does not
/// name), so what is accepted is what the document publishes.
#[derive(Clone, Copy, Debug)]
pub struct TypeSchema {
    pub resource: SchemaFn,
    pub check_properties: PropertiesCheck,
}

#[derive(Clone, Copy)]
pub struct PropertiesCheck(pub fn(&Value) -> Result<(), String>);

impl std::fmt::Debug for PropertiesCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PropertiesCheck")
    }
}

fn check_as<P: DeserializeOwned>(properties: &Value) -> Result<(), String> {
    let deserializer = properties.clone();
    serde_path_to_error::deserialize::<_, P>(deserializer)
        .map(|_| ())
        .map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if path == "." || path.is_empty() {
                format!("properties: {inner}")
            } else {
                format!("properties.{path}: {inner}")
            }
        })
}

impl TypeSchema {
    /// `R` is the resource as published, `P` its properties.
    pub const fn of<R: ToSchema, P: DeserializeOwned>() -> Self {
        Self {
            resource: SchemaFn::of::<R>(),
            check_properties: PropertiesCheck(check_as::<P>),
        }
    }
}

impl TypeDescriptor {
    /// Whether the type carries `tags`.
    pub const fn tagged(&self) -> bool {
        self.tracked || self.proxy_tags
    }

    /// `Microsoft.MachineLearningServices/workspaces`.
    pub fn full_type(&self) -> String {
        let mut out = self.namespace.to_owned();
        for segment in self.type_path {
            out.push('/');
            out.push_str(segment);
        }
        out
    }

    pub fn type_key(&self) -> String {
        self.full_type().to_lowercase()
    }

    pub fn is_resource_group(&self) -> bool {
        self.namespace == "Microsoft.Resources" && self.type_path == ["resourceGroups"]
    }

    /// The RBAC action of a verb on this type (`…/workspaces/write`).
    pub fn action(&self, verb: &str) -> String {
        action_of(&self.full_type(), verb)
    }

    /// The api-versions the type accepts, oldest first.
    pub fn api_versions(&self) -> Vec<&'static str> {
        match self.api_versions {
            ApiVersions::Published => api_versions::published(&self.full_type())
                .iter()
                .map(String::as_str)
                .collect(),
            ApiVersions::Own(versions) => versions.to_vec(),
        }
    }

    pub fn check_api_version(&self, version: &str) -> Result<(), ArmError> {
        match self.api_versions {
            ApiVersions::Published => api_versions::check(&self.full_type(), version),
            ApiVersions::Own(versions)
                if versions.iter().any(|v| v.eq_ignore_ascii_case(version)) =>
            {
                Ok(())
            }
            ApiVersions::Own(versions) => Err(api_versions::refusal(
                &self.full_type(),
                version,
                &versions.join(", "),
            )),
        }
    }

    /// The route of one resource, with its path parameters.
    pub fn item_path(&self) -> String {
        if self.is_resource_group() {
            return "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}".into();
        }
        let mut out = format!(
            "/subscriptions/{{subscriptionId}}/resourceGroups/{{resourceGroupName}}/providers/{}",
            self.namespace
        );
        for (segment, param) in self.type_path.iter().zip(self.name_params) {
            out.push_str(&format!("/{segment}/{{{param}}}"));
        }
        out
    }

    /// The route of the list under the parent.
    pub fn list_path(&self) -> String {
        let item = self.item_path();
        item.rsplit_once('/')
            .map_or(item.clone(), |(list, _)| list.to_owned())
    }

    /// The route of the list by subscription (top-level types).
    pub fn subscription_list_path(&self) -> String {
        if self.is_resource_group() {
            return "/subscriptions/{subscriptionId}/resourceGroups".into();
        }
        format!(
            "/subscriptions/{{subscriptionId}}/providers/{}/{}",
            self.namespace,
            self.type_path.join("/")
        )
    }

    /// The names of the path parameters of one resource, outermost first.
    pub fn path_params(&self) -> Vec<&'static str> {
        let mut out = vec!["subscriptionId", "resourceGroupName"];
        if !self.is_resource_group() {
            out.extend(self.name_params.iter().copied());
        }
        out
    }

    pub fn action_decl(&self, name: &str) -> Option<&'static ActionDecl> {
        self.actions
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Checks the declaration is whole: one path parameter per segment, a name for each
    /// action, filters on properties only where the list is on one page.
    pub fn validate(&self) -> Result<(), String> {
        let me = self.full_type();
        if self.type_path.is_empty() || self.type_path.len() != self.name_params.len() {
            return Err(format!("{me}: one name parameter per type segment"));
        }
        if self.api_versions().is_empty() {
            return Err(format!(
                "{me}: no api-versions in api-spec/azure/api-versions.json"
            ));
        }
        if let Some(list) = &self.verbs.list
            && list.paged
            && list.filters.iter().any(|f| *f != "kind")
        {
            return Err(format!("{me}: property filters need a list on one page"));
        }
        if self.verbs.list_by_subscription && self.type_path.len() != 1 {
            return Err(format!("{me}: only top-level types list by subscription"));
        }
        Ok(())
    }
}
