//! A stored row for a resource id: where the id places it (subscription, group, parent,
//! type, name) and what the writer says it holds. The engine's writes and the worker's
//! dependents build rows the same way.

use serde_json::Value;

use super::id::ResourceId;
use crate::store::{resource, resources};

/// What a row holds besides its place.
pub struct RowContent {
    pub kind: Option<String>,
    pub location: Option<String>,
    pub depends_on_key: Option<String>,
    pub managed_by_key: Option<String>,
    pub body: Value,
    pub provisioning_state: &'static str,
    pub generation: i64,
    pub observed_generation: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The row of `id` holding `content`, with a fresh ETag.
pub fn row_of(id: &ResourceId, content: RowContent) -> resource::Model {
    resource::Model {
        id_key: id.key(),
        id: id.display(),
        subscription_key: id.subscription_key(),
        group_key: id.group_id().map(|g| g.key()).unwrap_or_default(),
        parent_key: id.parent().map(|p| p.key()).unwrap_or_default(),
        type_key: id.type_key(),
        name: id.name().to_owned(),
        kind_key: content.kind.as_deref().map(str::to_lowercase),
        location: content.location,
        top_level: id.is_top_level(),
        depends_on_key: content.depends_on_key,
        managed_by_key: content.managed_by_key,
        body: content.body,
        etag: resources::new_etag(),
        provisioning_state: content.provisioning_state.to_owned(),
        generation: content.generation,
        observed_generation: content.observed_generation,
        created_at: content.created_at,
        updated_at: content.updated_at,
    }
}
