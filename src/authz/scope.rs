//! Scopes of Microsoft.Authorization extension resources: the tenant root, a subscription, a
//! resource group or any resource, as written before `/providers/Microsoft.Authorization/…`.

use crate::arm::id::{PathVocabulary, ResourceId};
use crate::error::{ArmError, ErrorCode};

use super::Target;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzScope {
    /// As displayed: `/` or a resource id in canonical casing.
    pub display: String,
    /// Lower-cased: the key assignments are stored and indexed under.
    pub key: String,
    pub resource: Option<ResourceId>,
}

impl AuthzScope {
    pub fn root() -> Self {
        Self {
            display: "/".into(),
            key: "/".into(),
            resource: None,
        }
    }

    pub fn of(id: &ResourceId) -> Self {
        Self {
            display: id.display(),
            key: id.key(),
            resource: Some(id.clone()),
        }
    }

    /// Parses the scope part of a path (with or without its leading slash).
    pub fn parse(raw: &str, vocabulary: &PathVocabulary) -> Result<Self, ArmError> {
        let trimmed = raw.trim_matches('/');
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        let id = ResourceId::parse(&format!("/{trimmed}"), vocabulary).ok_or_else(|| {
            ArmError::new(
                ErrorCode::InvalidScope,
                format!("The scope '/{trimmed}' is not a valid scope: it must be '/', a subscription, a resource group or a resource id."),
            )
        })?;
        if let Some(namespace) = id.unserved_namespace(vocabulary) {
            return Err(ArmError::with_status(
                actix_web::http::StatusCode::NOT_FOUND,
                ErrorCode::InvalidResourceNamespace,
                format!("The resource namespace '{namespace}' is invalid."),
            ));
        }
        Ok(Self::of(&id))
    }

    pub fn target(&self) -> Target<'_> {
        match &self.resource {
            Some(id) => Target::Resource(id),
            None => Target::Root,
        }
    }

    /// The id of an extension resource at this scope.
    pub fn child_id(&self, type_segment: &str, name: &str) -> String {
        let base = if self.display == "/" {
            ""
        } else {
            &self.display
        };
        format!("{base}/providers/Microsoft.Authorization/{type_segment}/{name}")
    }
}

/// Whether `scope_key` is at or below one of `scopes` (ids as written: any casing, `/` for the
/// root, trailing slashes allowed).
pub fn within_any(scope_key: &str, scopes: &[String]) -> bool {
    scopes.iter().any(|s| {
        let key = s.trim_end_matches('/').to_lowercase();
        scope_key == key || scope_key.starts_with(&format!("{key}/"))
    })
}

/// The GUID at the end of a Microsoft.Authorization id, or a bare GUID.
pub fn guid_of(id_or_guid: &str) -> Option<String> {
    let last = id_or_guid.trim_end_matches('/').rsplit('/').next()?;
    uuid::Uuid::parse_str(last).ok().map(|u| u.to_string())
}

/// The `properties` of a PUT body, typed; 400 `InvalidRequestContent` when missing or wrong.
pub fn properties_of<T: serde::de::DeserializeOwned>(
    body: &serde_json::Value,
) -> Result<T, ArmError> {
    let properties = body
        .get("properties")
        .filter(|p| p.is_object())
        .ok_or_else(|| {
            ArmError::new(
                ErrorCode::InvalidRequestContent,
                "The request content must have 'properties'.",
            )
        })?;
    serde_json::from_value(properties.clone()).map_err(|e| {
        ArmError::new(
            ErrorCode::InvalidRequestContent,
            format!("The request content was invalid: {e}."),
        )
    })
}
