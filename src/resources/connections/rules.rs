//! The rules of a connection, whatever its parent: `authType` is required, the secret
//! credential fields are sealed beside the row (never in its body), a stored secret is not
//! sent to a new destination unless given again, and a project may not create a connection
//! that hides one its hub shares.

use async_trait::async_trait;
use sea_orm::DatabaseConnection;
use serde_json::{Map, Value, json};

use super::secret_part::{self, SealSecret, SecretPart};
use super::{ConnectionHost, auth_types, names, sharing};
use crate::arm::envelope::{self, Spec};
use crate::arm::id::ResourceId;
use crate::arm::registry::{
    ActionAnswer, ActionDecl, ActionTarget, Lookup, PrepareContext, Prepared, Rendered,
    ResourceKind, TypeDescriptor,
};
use crate::error::{ArmError, ErrorCode};
use crate::store::resource;
use crate::store::resources;

/// Server-set properties: a client's values are ignored.
const READ_ONLY: &[&str] = &["group", "createdByWorkspaceArmId", "provisioningState"];

/// Connections under one parent type.
pub struct Connections {
    pub host: &'static ConnectionHost,
}

fn invalid(code: ErrorCode, message: &str, target: &str) -> ArmError {
    ArmError::new(code, message).with_target(target)
}

fn auth_type(properties: &Map<String, Value>) -> Result<String, ArmError> {
    match properties.get("authType") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        None | Some(Value::Null) => Err(invalid(
            ErrorCode::AuthTypeRequired,
            "A connection requires properties.authType (e.g. ApiKey, AAD, None).",
            "properties.authType",
        )),
        Some(_) => Err(invalid(
            ErrorCode::InvalidAuthType,
            "properties.authType must be a string.",
            "properties.authType",
        )),
    }
}

/// Shapes only, never values: a value may be a secret sent in the wrong place.
fn check_sharing_shapes(properties: &Map<String, Value>) -> Result<(), ArmError> {
    if properties
        .get("isSharedToAll")
        .is_some_and(|v| !v.is_null() && !v.is_boolean())
    {
        return Err(invalid(
            ErrorCode::InvalidSharing,
            "properties.isSharedToAll must be a boolean.",
            "properties.isSharedToAll",
        ));
    }
    let list_ok = match properties.get("sharedUserList") {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.iter().all(Value::is_string),
        Some(_) => false,
    };
    if !list_ok {
        return Err(invalid(
            ErrorCode::InvalidSharing,
            "properties.sharedUserList must be an array of strings.",
            "properties.sharedUserList",
        ));
    }
    Ok(())
}

/// Where a connection sends its secrets: its `target`, and an OAuth2 `authUrl`.
fn destination(properties: &Map<String, Value>, public: &Map<String, Value>) -> [Value; 2] {
    let auth_url = public
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authUrl"))
        .map(|(_, v)| v.clone());
    [
        properties.get("target").cloned().unwrap_or(Value::Null),
        auth_url.unwrap_or(Value::Null),
    ]
}

impl Connections {
    /// A project cannot create a connection under the name of a connection its hub shares:
    /// one shared with this project is read-only here, and one shared with anyone else (a
    /// person, another project) would be hidden from them by the project's own, whoever
    /// writes it.
    async fn refuse_shadowing(&self, cx: &PrepareContext<'_>) -> Result<(), ArmError> {
        let Some(parent) = cx.id.parent() else {
            return Ok(());
        };
        let Some(parent_row) = resources::find(cx.tx, &parent.key()).await? else {
            return Ok(());
        };
        let Some(hub_connection) =
            sharing::source_connection(cx.tx, self.host, &parent_row, cx.id.name()).await?
        else {
            return Ok(());
        };
        if sharing::shared_with(&hub_connection, &parent_row, cx.caller) {
            return Err(sharing::read_only(&hub_connection));
        }
        if sharing::is_shared(&hub_connection) {
            return Err(ArmError::new(
                ErrorCode::ConnectionNameSharedByHub,
                format!(
                    "'{}' shares a connection named '{}': a connection of this workspace may not take its name. Choose another name.",
                    sharing::owner_id(&hub_connection),
                    hub_connection.name
                ),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for Connections {
    fn descriptor(&self) -> &'static TypeDescriptor {
        self.host.descriptor
    }

    /// Spelled as stored before the merge: `Credentials` merged beside the stored
    /// `credentials` would be two members where one was meant. A body it refuses goes on as
    /// sent, for `prepare` to refuse (and the engine to record) after the merge.
    fn patch_body(&self, body: &Value) -> Value {
        let mut canonical = body.clone();
        let renamed = canonical
            .get_mut("properties")
            .and_then(Value::as_object_mut)
            .is_none_or(|properties| names::canonicalize(properties).is_ok());
        if renamed { canonical } else { body.clone() }
    }

    /// Through a project, a connection its hub shares with it answers too, with its own id
    /// (under the hub).
    async fn read_through(
        &self,
        path: Lookup<'_, ResourceId>,
    ) -> Result<Option<resource::Model>, ArmError> {
        let Some(parent) = path.at.parent() else {
            return Ok(None);
        };
        let Some(parent_row) = resources::find(path.db, &parent.key()).await? else {
            return Ok(None);
        };
        let shared = sharing::shared_connection(
            path.db,
            self.host,
            &parent_row,
            path.at.name(),
            &path.cx.caller,
        );
        Ok(shared.await?)
    }

    async fn listed_through(
        &self,
        parent: Lookup<'_, resource::Model>,
    ) -> Result<Vec<resource::Model>, ArmError> {
        Ok(sharing::shared_connections(parent.db, self.host, parent.at, &parent.cx.caller).await?)
    }

    /// Read through a project, a hub connection hides whom else it is shared with.
    fn shown_through(&self, json: &mut Value) {
        sharing::hide_sharing(json);
    }

    fn read_only_through(&self, row: &resource::Model) -> ArmError {
        sharing::read_only(row)
    }

    /// `listsecrets`: the connection as read through the same path, with its credentials.
    async fn invoke(
        &self,
        _action: &ActionDecl,
        target: ActionTarget<'_>,
    ) -> Result<ActionAnswer, ArmError> {
        let mut json = target.rendered;
        if let Some(part) = secret_part::load(target.db, target.keys, &target.row.id_key).await? {
            part.reveal_into(&mut json);
        }
        Ok(ActionAnswer::ok(json))
    }

    async fn prepare(&self, cx: &PrepareContext<'_>, mut spec: Spec) -> Result<Prepared, ArmError> {
        let properties = &mut spec.properties;
        names::canonicalize(properties)?;
        envelope::strip(properties, READ_ONLY);
        let auth_type = auth_type(properties)?;
        check_sharing_shapes(properties)?;
        let credentials = match properties.remove("credentials") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(invalid(
                    ErrorCode::InvalidCredentials,
                    "properties.credentials must be an object.",
                    "properties.credentials",
                ));
            }
        };
        let split = auth_types::split(&auth_type, credentials);
        let mut part = SecretPart {
            credentials: split.secret,
            value: properties.remove("value").filter(|v| !v.is_null()),
        };
        match cx.existing {
            None => self.refuse_shadowing(cx).await?,
            Some(old) => {
                let same_auth = old.properties["authType"]
                    .as_str()
                    .is_some_and(|a| a.eq_ignore_ascii_case(&auth_type));
                if same_auth
                    && let Some(stored) = secret_part::load(cx.tx, cx.keys, &cx.id.key()).await?
                {
                    // A writer who may not read the secrets must not be able to send them
                    // to a server of theirs: a new destination needs them given again.
                    let old_public = match old.properties.get("credentials") {
                        Some(Value::Object(map)) => map.clone(),
                        _ => Map::new(),
                    };
                    if destination(&old.properties, &old_public)
                        != destination(properties, &split.public)
                        && !part.covers(&stored)
                    {
                        return Err(invalid(
                            ErrorCode::CredentialsRequired,
                            "Changing the target (or authUrl) requires the credentials again: send every secret credential field (or value) with the change.",
                            "properties.credentials",
                        ));
                    }
                    part.keep_missing(stored);
                }
            }
        }
        if !split.public.is_empty() {
            properties.insert("credentials".into(), Value::Object(split.public));
        }
        let companion = SealSecret {
            keys: cx.keys.clone(),
            resource_key: cx.id.key(),
            part,
        };
        Ok(Prepared {
            spec,
            depends_on: None,
            companion: Some(Box::new(companion)),
        })
    }

    async fn decorate(
        &self,
        _db: &DatabaseConnection,
        items: &mut [Rendered],
    ) -> Result<(), ArmError> {
        for item in items.iter_mut() {
            let owner = sharing::owner_id(&item.row).to_owned();
            if let Some(properties) = envelope::properties_mut(&mut item.json) {
                // Which workspace a connection belongs to: a project's list mixes its own
                // with its hub's shared ones.
                properties.insert("createdByWorkspaceArmId".into(), json!(owner));
            }
        }
        Ok(())
    }
}
