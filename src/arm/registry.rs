//! The seam between the generic engine and the per-type modules: a type is a
//! [`TypeDescriptor`] (its declaration: what the engine serves) plus a [`ResourceKind`] (its
//! rules and hooks), registered in one [`Registry`] that `Application::build` takes.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use serde_json::Value;

use super::engine::CallContext;
use super::envelope::Spec;
use super::id::{PathVocabulary, ResourceId};
use super::provisioning::{Provisioner, Provisioners};
use crate::config::TypeSettings;
use crate::config::regions::Regions;
use crate::error::{ArmError, ErrorCode};
use crate::identity::Caller;
use crate::secrets::MasterKeys;
use crate::store::resource;

pub use super::declaration::{
    ActionDecl, ActionReturns, ApiVersions, ByVersion, DeleteAnswer, Listing, Running, SchemaFn,
    TypeDescriptor, TypeSchema, Verbs, WriteAnswer,
};

/// What the engine hands a type when it validates a write.
pub struct PrepareContext<'a> {
    pub tx: &'a DatabaseTransaction,
    pub id: &'a ResourceId,
    pub caller: &'a Caller,
    pub tenant_id: &'a str,
    pub vocabulary: &'a PathVocabulary,
    /// Sealed secrets are written under these.
    pub keys: &'a Arc<MasterKeys>,
    /// The stored spec, when the write replaces a resource.
    pub existing: Option<&'a Spec>,
}

/// What a visibility hook is asked about: `at` (the path read, or the parent row listed), for
/// the call `cx`, read with the engine's pool.
#[derive(Clone, Copy)]
pub struct Lookup<'a, At> {
    pub db: &'a DatabaseConnection,
    pub cx: &'a CallContext,
    pub at: &'a At,
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

/// What an action answered.
pub struct ActionAnswer {
    pub status: u16,
    pub body: Option<Value>,
    /// The resource as the action leaves it: the engine stores it (a new generation and
    /// etag, the caller in systemData), records the event, and answers it rendered.
    pub changed: Option<resource::Model>,
}

impl ActionAnswer {
    /// 200 with a body.
    pub fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body: Some(body),
            changed: None,
        }
    }

    /// 200 with the resource as `row` now is.
    pub fn changed(row: resource::Model) -> Self {
        Self {
            status: 200,
            body: None,
            changed: Some(row),
        }
    }
}

/// What an action is invoked on: the resource as a GET through the same path shows it, and
/// what the action may read with (the engine's pool, the keys secrets are sealed under).
pub struct ActionTarget<'a> {
    pub id: &'a ResourceId,
    pub row: &'a resource::Model,
    pub rendered: Value,
    pub body: &'a Value,
    pub db: &'a DatabaseConnection,
    pub keys: &'a MasterKeys,
}

/// The rules and hooks of one resource type. Every method has the engine's generic behaviour
/// as default; a type overrides only what is its own.
#[async_trait]
pub trait ResourceKind: Send + Sync {
    fn descriptor(&self) -> &'static TypeDescriptor;

    /// What creates and removes the real things behind a resource, if anything does.
    fn provisioner(&self) -> Option<Arc<dyn Provisioner>> {
        None
    }

    /// Other resources a PUT body links this one to, each with the action the caller needs
    /// on it (a project joining its hub). Required when the write creates the resource.
    fn linked(&self, body: &Value, vocabulary: &PathVocabulary) -> Vec<(ResourceId, String)> {
        let _ = (body, vocabulary);
        Vec::new()
    }

    /// Validates a create-or-replace (PATCH arrives here merged) against `cx.existing`, the
    /// stored spec on replace. Read-only properties are dropped here; immutable ones compared.
    async fn prepare(&self, cx: &PrepareContext<'_>, spec: Spec) -> Result<Prepared, ArmError> {
        let _ = cx;
        Ok(Prepared::spec(spec))
    }

    /// A PATCH body as the type wants it merged (spelled as stored).
    fn patch_body(&self, body: &Value) -> Value {
        body.clone()
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

    /// Read hook: fills derived, read-only properties for a batch (one query per batch).
    async fn decorate(
        &self,
        db: &DatabaseConnection,
        items: &mut [Rendered],
    ) -> Result<(), ArmError> {
        let _ = (db, items);
        Ok(())
    }

    /// Visibility hook: a resource stored elsewhere that the path `path.at` shows when nothing
    /// is stored there (a hub connection shared into a project). Read-only there.
    async fn read_through(
        &self,
        path: Lookup<'_, ResourceId>,
    ) -> Result<Option<resource::Model>, ArmError> {
        let _ = path;
        Ok(None)
    }

    /// Visibility hook: resources stored elsewhere that the list under `parent.at` shows too
    /// (declared with `Listing::through_parent`).
    async fn listed_through(
        &self,
        parent: Lookup<'_, resource::Model>,
    ) -> Result<Vec<resource::Model>, ArmError> {
        let _ = parent;
        Ok(Vec::new())
    }

    /// How a resource stored elsewhere is shown through another path (hides what only its
    /// owner sees).
    fn shown_through(&self, json: &mut Value) {
        let _ = json;
    }

    /// The refusal of a write through a path that only shows `row` (stored elsewhere).
    fn read_only_through(&self, row: &resource::Model) -> ArmError {
        ArmError::new(
            ErrorCode::ReadOnlyResource,
            format!("'{}' is read-only here.", row.id),
        )
    }

    /// Runs one of the declared actions; the engine has authorized it and resolved the target.
    async fn invoke(
        &self,
        action: &ActionDecl,
        target: ActionTarget<'_>,
    ) -> Result<ActionAnswer, ArmError> {
        let _ = target;
        Err(ArmError::new(
            ErrorCode::InvalidAction,
            format!("The action '{}' is not implemented.", action.name),
        ))
    }
}

/// A type served with every default of the engine: its declaration is all there is.
pub struct Plain(pub &'static TypeDescriptor);

impl ResourceKind for Plain {
    fn descriptor(&self) -> &'static TypeDescriptor {
        self.0
    }
}

/// All types Kiln serves, by lower-cased full type, and the regions they are offered in.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<String, Arc<dyn ResourceKind>>,
    regions: Arc<Regions>,
    /// The settings the types were built with (the model catalog, quota defaults …), for the
    /// platform endpoints that read them too.
    types: Arc<TypeSettings>,
}

impl Registry {
    /// Offers the types in `regions` (the default set until then).
    pub fn offer_in(&mut self, regions: Regions) -> &mut Self {
        self.regions = Arc::new(regions);
        self
    }

    pub fn regions(&self) -> &Regions {
        &self.regions
    }

    /// Records the settings the registered types were built with.
    pub fn built_with(&mut self, settings: Arc<TypeSettings>) -> &mut Self {
        self.types = settings;
        self
    }

    pub fn type_settings(&self) -> &TypeSettings {
        &self.types
    }

    /// Adds a type. A declaration that is not whole is a programming error, found at start.
    #[expect(
        clippy::panic,
        reason = "an incomplete declaration is a programming error, found when the app is built"
    )]
    pub fn register(&mut self, kind: Arc<dyn ResourceKind>) -> &mut Self {
        let descriptor = kind.descriptor();
        if let Err(problem) = descriptor.validate() {
            panic!("invalid resource type declaration: {problem}");
        }
        self.kinds.insert(descriptor.type_key(), kind);
        self
    }

    pub fn get(&self, type_key: &str) -> Option<&Arc<dyn ResourceKind>> {
        self.kinds.get(type_key)
    }

    /// Every type, in the order of their type keys.
    pub fn kinds(&self) -> impl Iterator<Item = &Arc<dyn ResourceKind>> + '_ {
        self.kinds.values()
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

    /// The provisioner of each type that has one.
    pub fn provisioners(&self) -> Provisioners {
        let mut out = Provisioners::default();
        for kind in self.kinds() {
            if let Some(provisioner) = kind.provisioner() {
                out.register(kind.descriptor().type_key(), provisioner);
            }
        }
        out
    }

    /// The fixed path segments of every route (the platform's and each type's), for
    /// case-insensitive matching.
    pub fn vocabulary(&self, platform_words: &[&str]) -> PathVocabulary {
        let mut words: Vec<&str> = platform_words.to_vec();
        for descriptor in self.descriptors() {
            words.push(descriptor.namespace);
            words.extend(descriptor.type_path.iter().copied());
            words.extend(descriptor.actions.iter().map(|a| a.name));
        }
        PathVocabulary::new(words)
    }
}
