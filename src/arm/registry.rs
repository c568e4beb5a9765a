//! The seam between the generic engine and the per-type modules: a type is a
//! [`TypeDescriptor`] (what the engine needs to know) plus a [`ResourceKind`] (its rules).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use serde_json::Value;

use super::envelope::Spec;
use super::id::ResourceId;
use crate::authz::Caller;
use crate::error::ArmError;
use crate::store::resource;

/// Static facts about a resource type.
#[derive(Debug)]
pub struct TypeDescriptor {
    /// `Microsoft.MachineLearningServices`.
    pub namespace: &'static str,
    /// Type segments under the namespace: `["workspaces"]`, `["workspaces", "connections"]`.
    pub type_path: &'static [&'static str],
    /// Accepted api-versions, oldest first.
    pub api_versions: &'static [&'static str],
    /// Tracked resources carry `location` and `tags`.
    pub tracked: bool,
    /// Writes go through an operation that a provisioner completes (PUT answers 202).
    pub provisioned: bool,
    /// Human description of the name rule, for the error message.
    pub name_rule: &'static str,
    pub name_valid: fn(&str) -> bool,
}

impl TypeDescriptor {
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

    /// The RBAC action of a verb on this type (`…/workspaces/write`).
    /// Resource groups are the exception ARM makes: their actions live under subscriptions.
    pub fn action(&self, verb: &str) -> String {
        if self.namespace == "Microsoft.Resources" && self.type_path == ["resourceGroups"] {
            return format!("Microsoft.Resources/subscriptions/resourceGroups/{verb}");
        }
        format!("{}/{verb}", self.full_type())
    }

    /// ARM itself answers for Microsoft.Resources (and Microsoft.Authorization) with
    /// `InvalidApiVersionParameter`; resource providers' types get `NoRegisteredProviderFound`.
    pub fn is_arm_owned(&self) -> bool {
        matches!(
            self.namespace,
            "Microsoft.Resources" | "Microsoft.Authorization"
        )
    }

    pub fn check_api_version(&self, version: &str) -> Result<(), ArmError> {
        if self
            .api_versions
            .iter()
            .any(|v| v.eq_ignore_ascii_case(version))
        {
            return Ok(());
        }
        let supported = self.api_versions.join(", ");
        Err(if self.is_arm_owned() {
            ArmError::bad_request(
                "InvalidApiVersionParameter",
                format!(
                    "The api-version '{version}' is invalid. The supported versions are '{supported}'."
                ),
            )
        } else {
            ArmError::bad_request(
                "NoRegisteredProviderFound",
                format!(
                    "No registered resource provider found for location 'global' and API version '{version}' for type \
                     '{}'. The supported api-versions are '{supported}'.",
                    self.type_path.join("/")
                ),
            )
        })
    }
}

/// What the engine hands a type when it validates a write.
pub struct PrepareContext<'a> {
    pub tx: &'a DatabaseTransaction,
    pub id: &'a ResourceId,
    pub caller: &'a Caller,
    pub tenant_id: &'a str,
}

/// The spec a type accepted, and what it depends on.
pub struct Prepared {
    pub spec: Spec,
    /// Key of a resource this one depends on (a project's hub): its delete is refused while
    /// this one exists, and it sees this one in its derived properties.
    pub depends_on: Option<String>,
    /// Rows the type keeps beside the resource row (a connection's sealed credentials).
    pub companion: Option<Box<dyn Companion>>,
}

impl Prepared {
    pub fn spec(spec: Spec) -> Self {
        Self {
            spec,
            depends_on: None,
            companion: None,
        }
    }
}

/// What a type stores beside a resource row, kept out of its body: written after the row, in
/// the same transaction, so it can reference the row and commits or rolls back with it.
#[async_trait]
pub trait Companion: Send {
    async fn store(self: Box<Self>, tx: &DatabaseTransaction) -> Result<(), ArmError>;
}

/// A stored resource rendered as JSON, with its row for derived properties.
pub struct Rendered {
    pub row: resource::Model,
    pub json: Value,
}

/// The rules of one resource type. Every method has the engine's generic behaviour as default.
#[async_trait]
pub trait ResourceKind: Send + Sync {
    fn descriptor(&self) -> &'static TypeDescriptor;

    /// Other resources a PUT body links this one to, each with the action the caller needs
    /// on it (a project joining its hub). The engine authorizes them before the write.
    fn linked(&self, body: &serde_json::Value) -> Vec<(super::id::ResourceId, String)> {
        let _ = body;
        Vec::new()
    }

    /// Validates a create-or-replace (PATCH arrives here merged). `existing` is the stored spec
    /// on replace. Read-only properties are dropped here; immutable ones compared.
    async fn prepare(
        &self,
        cx: &PrepareContext<'_>,
        spec: Spec,
        existing: Option<&Spec>,
    ) -> Result<Prepared, ArmError> {
        let _ = (cx, existing);
        Ok(Prepared::spec(spec))
    }

    /// Whether a delete removes the row at once (200) instead of through an operation (202).
    /// Only for types with nothing behind them and no children (connections).
    fn deletes_at_once(&self) -> bool {
        false
    }

    /// Refuses a delete the type does not allow (a hub that still has projects).
    async fn check_delete(
        &self,
        tx: &DatabaseTransaction,
        row: &resource::Model,
    ) -> Result<(), ArmError> {
        let _ = (tx, row);
        Ok(())
    }

    /// Fills derived, read-only properties for a batch (one query per batch, not per item).
    async fn decorate(
        &self,
        db: &DatabaseConnection,
        items: &mut [Rendered],
    ) -> Result<(), ArmError> {
        let _ = (db, items);
        Ok(())
    }
}

/// All types Kiln serves, by lower-cased full type.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: HashMap<String, Arc<dyn ResourceKind>>,
}

impl Registry {
    pub fn register(&mut self, kind: Arc<dyn ResourceKind>) {
        self.kinds.insert(kind.descriptor().type_key(), kind);
    }

    pub fn get(&self, type_key: &str) -> Option<&Arc<dyn ResourceKind>> {
        self.kinds.get(type_key)
    }

    pub fn descriptors(&self) -> impl Iterator<Item = &'static TypeDescriptor> + '_ {
        self.kinds.values().map(|k| k.descriptor())
    }

    /// Namespaces served, sorted, for the providers API.
    pub fn namespaces(&self) -> Vec<&'static str> {
        let mut out: Vec<_> = self.descriptors().map(|d| d.namespace).collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}
