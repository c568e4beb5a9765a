//! The provisioning contract a type declares: what its [`Provisioner`] is given, what it
//! answers, and how it fails. The worker (`crate::provisioners`) drives it; the registry
//! collects each type's provisioner.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::DatabaseConnection;
use serde_json::{Map, Value};

use crate::arm::id::{PathVocabulary, ResourceId};
use crate::error::ErrorCode;
use crate::secrets::MasterKeys;
use crate::storage::ObjectStorage;
use crate::store::resource;

/// What a provisioner may use.
pub struct ProvisionContext<'a> {
    pub db: &'a DatabaseConnection,
    pub storage: &'a ObjectStorage,
    pub vocabulary: &'a PathVocabulary,
    /// What a provisioner seals the secrets it makes (an account's keys) under.
    pub keys: &'a MasterKeys,
}

/// Why an attempt did not finish.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProvisionError {
    /// Worth another attempt (a backend hiccup, a dependency not ready): retried with
    /// exponential backoff until the operation's deadline, then reported as this error.
    #[error("{code}: {message}")]
    Retry { code: String, message: String },
    /// Retrying cannot help: the operation fails now.
    #[error("{code}: {message}")]
    Fail { code: String, message: String },
}

impl ProvisionError {
    /// `code` is an [`ErrorCode`](crate::error::ErrorCode) for Kiln's types, or a type's own.
    pub fn retry(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Retry {
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn fail(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Fail {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The ARM error body the operation status shows.
    pub fn to_arm(&self) -> Value {
        let (code, message) = match self {
            Self::Retry { code, message } | Self::Fail { code, message } => (code, message),
        };
        crate::error::OperationError::with_status(409, code, message.clone()).to_value()
    }
}

/// A resource a provisioner creates for another one (a hub's storage account), owned by it
/// through `managedBy` and removed with it.
#[derive(Debug, Clone)]
pub struct Dependent {
    pub id: ResourceId,
    pub location: Option<String>,
    pub kind: Option<String>,
    pub sku: Option<Value>,
    pub properties: Map<String, Value>,
}

/// What a successful attempt changes on the resource row.
#[derive(Debug, Default)]
pub struct Applied {
    /// Server-set properties merged into `properties`.
    pub properties: Map<String, Value>,
    /// Replaces `identity` when set.
    pub identity: Option<Value>,
    /// Resources created for this one; inserted when absent.
    pub dependents: Vec<Dependent>,
    /// Role assignments for the resource's identity; written when absent, in the same
    /// transaction as the outcome.
    pub role_assignments: Vec<crate::authz::assignments::NewAssignment>,
}

impl Applied {
    /// Sets one server-set property.
    pub fn property(mut self, name: &str, value: Value) -> Self {
        self.properties.insert(name.to_owned(), value);
        self
    }

    /// Creates `dependent` with the resource; its id, for the property that names it.
    pub fn create(&mut self, dependent: Dependent) -> String {
        let id = dependent.id.display();
        self.dependents.push(dependent);
        id
    }
}

/// Creates and removes the real things behind one resource type. Both calls are idempotent
/// (names are deterministic), because an attempt may be repeated after a crash.
#[async_trait]
pub trait Provisioner: Send + Sync {
    /// Brings the backend in line with `row` (the resource at the operation's generation).
    async fn apply(
        &self,
        cx: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<Applied, ProvisionError>;

    /// Removes what `apply` created, and returns only once it has verified that it is gone.
    async fn remove(
        &self,
        cx: &ProvisionContext<'_>,
        row: &resource::Model,
    ) -> Result<(), ProvisionError>;

    /// The type's housekeeping, run by every sweep (soft-deleted accounts past their
    /// retention are purged). How many things it did.
    async fn sweep(&self, cx: &ProvisionContext<'_>, now: i64) -> Result<u64, ProvisionError> {
        let _ = (cx, now);
        Ok(0)
    }
}

/// Provisioners by lower-cased full type. A type without one completes without backend work.
#[derive(Clone, Default)]
pub struct Provisioners {
    by_type: HashMap<String, Arc<dyn Provisioner>>,
}

impl Provisioners {
    pub fn register(&mut self, type_key: String, provisioner: Arc<dyn Provisioner>) {
        self.by_type.insert(type_key, provisioner);
    }

    pub fn get(&self, type_key: &str) -> Option<&Arc<dyn Provisioner>> {
        self.by_type.get(type_key)
    }

    /// Every provisioner, in no particular order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Provisioner>> + '_ {
        self.by_type.values()
    }
}

/// A backend failure is worth retrying: the store may come back.
impl From<crate::storage::StorageError> for ProvisionError {
    fn from(err: crate::storage::StorageError) -> Self {
        Self::retry(
            ErrorCode::StorageBackendUnavailable,
            format!("The object store failed: {err}"),
        )
    }
}
