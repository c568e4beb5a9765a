//! Which connections of a hub a project sees. A connection of the parent's sharing source (a
//! project's hub) reaches the parent when it is `isSharedToAll`, or when its `sharedUserList`
//! names the parent (by full id or workspaceId) or the caller (principal or group). Shared
//! connections are read-only from the project; a project's own connections reach nobody else.

use sea_orm::{ConnectionTrait, DbErr};
use serde_json::Value;

use super::ConnectionHost;
use crate::error::{ArmError, ErrorCode};
use crate::identity::Caller;
use crate::store::resource;
use crate::store::resources::{self, RowQuery};

/// Whether `connection` (of the source) is shared with `parent` for `caller`. A project is
/// named by its full id or its workspaceId, never by its bare name: projects of one hub may
/// share a name across resource groups.
pub fn shared_with(
    connection: &resource::Model,
    parent: &resource::Model,
    caller: &Caller,
) -> bool {
    let properties = &connection.body["properties"];
    if properties["isSharedToAll"].as_bool() == Some(true) {
        return true;
    }
    let Some(list) = properties["sharedUserList"].as_array() else {
        return false;
    };
    let workspace_id = parent.body["properties"]["workspaceId"].as_str();
    let names: Vec<&str> = [Some(parent.id.as_str()), workspace_id]
        .into_iter()
        .flatten()
        .chain(std::iter::once(caller.principal_id.as_str()))
        .chain(caller.groups.iter().map(String::as_str))
        .filter(|n| !n.is_empty())
        .collect();
    list.iter()
        .filter_map(Value::as_str)
        .any(|entry| names.iter().any(|n| n.eq_ignore_ascii_case(entry.trim())))
}

/// Whether `connection` is shared with anyone at all.
pub fn is_shared(connection: &resource::Model) -> bool {
    let properties = &connection.body["properties"];
    properties["isSharedToAll"].as_bool() == Some(true)
        || properties["sharedUserList"]
            .as_array()
            .is_some_and(|list| !list.is_empty())
}

/// The connection `name` of `parent`'s sharing source, shared or not.
pub async fn source_connection(
    db: &impl ConnectionTrait,
    host: &ConnectionHost,
    parent: &resource::Model,
    name: &str,
) -> Result<Option<resource::Model>, DbErr> {
    let Some(source) = (host.sharing_source)(parent) else {
        return Ok(None);
    };
    let key = format!("{source}/{}/{}", host.segment(), name.to_lowercase());
    resources::find_of_type(db, &key, &host.source_type.type_key()).await
}

/// The connection `name` of `parent`'s sharing source, when it is shared with `parent`.
pub async fn shared_connection(
    db: &impl ConnectionTrait,
    host: &ConnectionHost,
    parent: &resource::Model,
    name: &str,
    caller: &Caller,
) -> Result<Option<resource::Model>, DbErr> {
    Ok(source_connection(db, host, parent, name)
        .await?
        .filter(|row| shared_with(row, parent, caller)))
}

/// A hub connection read through a project does not show whom else it is shared with (other
/// projects' ids, principals): that is the hub's business.
pub fn hide_sharing(connection: &mut Value) {
    if let Some(properties) = crate::arm::envelope::properties_mut(connection) {
        properties.remove("sharedUserList");
    }
}

/// Every connection of `parent`'s sharing source shared with it.
pub async fn shared_connections(
    db: &impl ConnectionTrait,
    host: &ConnectionHost,
    parent: &resource::Model,
    caller: &Caller,
) -> Result<Vec<resource::Model>, DbErr> {
    let Some(source) = (host.sharing_source)(parent) else {
        return Ok(vec![]);
    };
    let query = RowQuery {
        parent_key: Some(source),
        type_key: Some(host.source_type.type_key()),
        ..RowQuery::default()
    };
    Ok(resources::list(db, query)
        .await?
        .into_iter()
        .filter(|row| shared_with(row, parent, caller))
        .collect())
}

/// A write through a project to a connection its hub shares with it.
pub fn read_only(connection: &resource::Model) -> ArmError {
    ArmError::new(
        ErrorCode::SharedConnectionReadOnly,
        format!(
            "The connection '{}' belongs to '{}' and is shared read-only with this workspace. \
             Change it where it belongs.",
            connection.name,
            owner_id(connection)
        ),
    )
}

/// The id of the resource a connection belongs to (its parent), from its own id.
pub fn owner_id(connection: &resource::Model) -> &str {
    let mut parts = connection.id.rsplitn(3, '/');
    let (_, _, owner) = (parts.next(), parts.next(), parts.next());
    owner.unwrap_or_default()
}
