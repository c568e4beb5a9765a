//! The object store behind storage accounts: a local directory by default, any S3-compatible
//! store through `object_store`. An account is a prefix `{account}/`; a container is a prefix
//! `{account}/{container}/`. Object stores have no directories, so each holds a marker object,
//! which on the local filesystem makes the directory real.

use std::path::Path;
use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StorageError {
    #[error("KILN_OBJECT_STORE '{0}' is not a path, file:// or s3:// URL")]
    Url(String),
    #[error("the object store could not be opened: {0}")]
    Open(String),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("'{0}' still holds {1} object(s) after removal")]
    NotGone(String, usize),
}

const ACCOUNT_MARKER: &str = ".kiln-account";
const CONTAINER_MARKER: &str = ".kiln-container";

#[derive(Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    /// Where it is, for logs and the accounts' endpoints.
    location: String,
}

impl std::fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("location", &self.location)
            .finish()
    }
}

impl ObjectStorage {
    /// `s3://bucket[/prefix]` (credentials and endpoint from the usual `AWS_*` variables),
    /// `file:///dir`, or a plain directory path.
    pub fn open(setting: &str) -> Result<Self, StorageError> {
        if setting.starts_with("s3://") {
            let url = url::Url::parse(setting).map_err(|_| StorageError::Url(setting.into()))?;
            let bucket = url
                .host_str()
                .ok_or_else(|| StorageError::Url(setting.into()))?;
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| StorageError::Open(e.to_string()))?;
            let prefix = url.path().trim_matches('/');
            let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
            };
            return Ok(Self {
                store,
                location: setting.to_owned(),
            });
        }
        let dir = match setting.strip_prefix("file://") {
            Some(path) => path,
            None if setting.contains("://") => return Err(StorageError::Url(setting.into())),
            None => setting,
        };
        Self::local(Path::new(dir))
    }

    /// A directory on this machine, created when missing.
    pub fn local(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Open(e.to_string()))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| StorageError::Open(e.to_string()))?;
        // Empty directories go with their last object, so a removed account leaves nothing.
        let store = LocalFileSystem::new_with_prefix(&dir)?.with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
            location: format!("file://{}", dir.display()),
        })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// The endpoint of an account, as its `primaryEndpoints.blob`.
    pub fn account_endpoint(&self, account: &str) -> String {
        format!("{}/{account}/", self.location.trim_end_matches('/'))
    }

    async fn put_marker(&self, path: ObjectPath, body: &str) -> Result<(), StorageError> {
        self.store
            .put(&path, PutPayload::from(body.as_bytes().to_vec()))
            .await?;
        Ok(())
    }

    /// Creates the account's root (idempotent).
    pub async fn ensure_account(&self, account: &str, owner: &str) -> Result<(), StorageError> {
        let path = ObjectPath::from_iter([account, ACCOUNT_MARKER]);
        self.put_marker(path, owner).await
    }

    /// Creates a container in an account (idempotent).
    pub async fn ensure_container(
        &self,
        account: &str,
        container: &str,
        owner: &str,
    ) -> Result<(), StorageError> {
        let path = ObjectPath::from_iter([account, container, CONTAINER_MARKER]);
        self.put_marker(path, owner).await
    }

    /// Whether anything exists under `{account}/{container}/` (or `{account}/` alone).
    pub async fn count(&self, parts: &[&str]) -> Result<usize, StorageError> {
        let prefix = ObjectPath::from_iter(parts.iter().copied());
        let listed: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        Ok(listed.len())
    }

    /// Deletes everything under the prefix, then checks that nothing is left.
    pub async fn remove(&self, parts: &[&str]) -> Result<(), StorageError> {
        let prefix = ObjectPath::from_iter(parts.iter().copied());
        let listed: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        for object in listed {
            match self.store.delete(&object.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        match self.count(parts).await? {
            0 => Ok(()),
            left => Err(StorageError::NotGone(prefix.to_string(), left)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn containers_are_directories_and_removal_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let storage = ObjectStorage::local(dir.path()).unwrap();
        storage.ensure_account("stacct", "hub").await.unwrap();
        storage
            .ensure_container("stacct", "abc-code", "project")
            .await
            .unwrap();
        assert!(dir.path().join("stacct/abc-code").is_dir());
        assert_eq!(storage.count(&["stacct"]).await.unwrap(), 2);
        storage.remove(&["stacct", "abc-code"]).await.unwrap();
        assert!(!dir.path().join("stacct/abc-code").exists());
        assert!(dir.path().join("stacct").is_dir());
        storage.remove(&["stacct"]).await.unwrap();
        assert!(!dir.path().join("stacct").exists());
        assert!(ObjectStorage::open("ftp://x").is_err());
    }
}
