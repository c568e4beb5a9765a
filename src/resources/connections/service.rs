//! What the connection endpoints do, for any parent type: reads that fall back to the
//! connections a parent's hub shares with it, lists of both, and `listsecrets`.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

use super::secret_part;
use super::{ConnectionHost, names, sharing};
use crate::arm::engine::{CallContext, DeleteResult, Engine, Preconditions, WriteResult};
use crate::arm::id::ResourceId;
use crate::authz::{Readable, Target};
use crate::error::ArmError;
use crate::secrets::MasterKeys;
use crate::store::resource;

/// `?category=` and `?target=`, compared ignoring case.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub category: Option<String>,
    pub target: Option<String>,
}

impl ListFilter {
    fn admits(&self, row: &resource::Model) -> bool {
        let matches = |wanted: &Option<String>, field: &str| {
            wanted.as_deref().is_none_or(|w| {
                row.body["properties"][field]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(w))
            })
        };
        matches(&self.category, "category") && matches(&self.target, "target")
    }
}

/// The connection a path names: the parent's own, or the one its hub shares with it (which
/// keeps its real id, under the hub).
async fn resolve(
    engine: &Engine,
    host: &ConnectionHost,
    cx: &CallContext,
    id: &ResourceId,
) -> Result<resource::Model, ArmError> {
    let own = resource::Entity::find_by_id(id.key())
        .one(&engine.db)
        .await?
        .filter(|r| r.type_key == id.type_key());
    if let Some(row) = own {
        return Ok(row);
    }
    if let Some(shared) = shared_instead(engine, host, cx, id).await? {
        return Ok(shared);
    }
    Err(engine.absent(id).await?)
}

/// Renders `row` as read through `id`'s parent: a hub connection shared with it hides its
/// sharing list.
async fn render_through(
    engine: &Engine,
    id: &ResourceId,
    row: resource::Model,
) -> Result<Value, ArmError> {
    let foreign = id.parent().is_some_and(|p| p.key() != row.parent_key);
    let mut json = engine.render_one(row).await?;
    if foreign {
        sharing::hide_sharing(&mut json);
    }
    Ok(json)
}

/// The hub's connection shared with the parent of `id`, when the parent has none of that name.
async fn shared_instead(
    engine: &Engine,
    host: &ConnectionHost,
    cx: &CallContext,
    id: &ResourceId,
) -> Result<Option<resource::Model>, ArmError> {
    let Some(parent) = id.parent() else {
        return Ok(None);
    };
    let Some(parent_row) = resource::Entity::find_by_id(parent.key())
        .one(&engine.db)
        .await?
    else {
        return Ok(None);
    };
    Ok(sharing::shared_connection(&engine.db, host, &parent_row, id.name(), &cx.caller).await?)
}

pub async fn get(
    engine: &Engine,
    host: &ConnectionHost,
    cx: &CallContext,
    id: &ResourceId,
) -> Result<(Value, String), ArmError> {
    engine
        .authorize(cx, id, &host.descriptor.action("read"))
        .await?;
    let row = resolve(engine, host, cx, id).await?;
    let etag = row.etag.clone();
    Ok((render_through(engine, id, row).await?, etag))
}

/// The connection with its credentials: the only way they leave the service. It needs its own
/// action, which `*/read` does not grant.
pub async fn list_secrets(
    engine: &Engine,
    host: &ConnectionHost,
    keys: &MasterKeys,
    cx: &CallContext,
    id: &ResourceId,
) -> Result<Value, ArmError> {
    engine
        .authorize(cx, id, &host.descriptor.action(super::LIST_SECRETS))
        .await?;
    let row = resolve(engine, host, cx, id).await?;
    let key = row.id_key.clone();
    let mut json = render_through(engine, id, row).await?;
    if let Some(part) = secret_part::load(&engine.db, keys, &key).await? {
        part.reveal_into(&mut json);
    }
    Ok(json)
}

/// A parent's connections and those its hub shares with it, on one page (the 2020-08-01
/// client does not follow nextLink).
pub async fn list(
    engine: &Engine,
    host: &ConnectionHost,
    cx: &CallContext,
    parent: &ResourceId,
    filter: &ListFilter,
) -> Result<Vec<Value>, ArmError> {
    let readable = engine
        .authorizer
        .readable(
            &cx.caller,
            &host.descriptor.action("read"),
            Target::Resource(parent),
        )
        .await?;
    let Some(parent_row) = resource::Entity::find_by_id(parent.key())
        .one(&engine.db)
        .await?
    else {
        return Err(engine.absent(parent).await?);
    };
    let mut query = resource::Entity::find()
        .filter(resource::Column::ParentKey.eq(parent.key()))
        .filter(resource::Column::TypeKey.eq(host.descriptor.type_key()));
    if let Some(only) = crate::arm::read::readable_rows(&readable) {
        query = query.filter(only);
    }
    let mut rows: Vec<resource::Model> = query
        .order_by_asc(resource::Column::IdKey)
        .all(&engine.db)
        .await?;
    match &readable {
        Readable::All => {
            let own: Vec<String> = rows.iter().map(|r| r.name.to_lowercase()).collect();
            let shared =
                sharing::shared_connections(&engine.db, host, &parent_row, &cx.caller).await?;
            // A name the parent has itself is its own connection.
            rows.extend(
                shared
                    .into_iter()
                    .filter(|s| !own.contains(&s.name.to_lowercase())),
            );
        }
        // Filtered in the query; shared hub connections need the parent readable.
        Readable::Assigned { .. } => {}
    }
    rows.retain(|r| filter.admits(r));
    let foreign: Vec<bool> = rows.iter().map(|r| r.parent_key != parent.key()).collect();
    let mut items = engine.render(rows).await?;
    for (item, foreign) in items.iter_mut().zip(foreign) {
        if foreign {
            sharing::hide_sharing(item);
        }
    }
    Ok(items)
}

/// Authorizes a write (`write` or `delete`) and refuses it through a parent on a connection
/// its hub shares with it: shared connections are read-only there.
async fn authorize_own_write(
    engine: &Engine,
    host: &ConnectionHost,
    cx: &CallContext,
    id: &ResourceId,
    verb: &str,
) -> Result<(), ArmError> {
    engine
        .authorize(cx, id, &host.descriptor.action(verb))
        .await?;
    let own = resource::Entity::find_by_id(id.key())
        .one(&engine.db)
        .await?;
    if own.is_none()
        && let Some(shared) = shared_instead(engine, host, cx, id).await?
    {
        return Err(sharing::read_only(&shared));
    }
    Ok(())
}

pub async fn delete(
    engine: &Engine,
    host: &ConnectionHost,
    cx: &CallContext,
    id: &ResourceId,
    pre: &Preconditions,
) -> Result<DeleteResult, ArmError> {
    authorize_own_write(engine, host, cx, id, "delete").await?;
    engine.delete(cx, id, pre).await
}

pub async fn patch(
    engine: &Engine,
    host: &ConnectionHost,
    cx: &CallContext,
    id: &ResourceId,
    body: &Value,
    pre: &Preconditions,
) -> Result<WriteResult, ArmError> {
    authorize_own_write(engine, host, cx, id, "write").await?;
    // Spelled as stored before the merge: `Credentials` merged beside the stored
    // `credentials` would be two members where one was meant. A body it refuses goes on
    // as sent, for the engine to refuse (and record) after the merge.
    let mut canonical = body.clone();
    let renamed = canonical
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .is_none_or(|properties| names::canonicalize(properties).is_ok());
    engine
        .patch(cx, id, if renamed { &canonical } else { body }, pre)
        .await
}
