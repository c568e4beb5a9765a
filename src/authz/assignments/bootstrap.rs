//! Assignments Kiln writes itself: the creator of a subscription as its Owner, and the ones a
//! provisioner grants (written once, whatever its retries).

use sea_orm::ConnectionTrait;

use super::validate::NewAssignment;
use super::write::write;
use crate::authz::roles;
use crate::authz::scope::AuthzScope;
use crate::error::ArmError;
use crate::store::assignments as stored;

/// The creator of a subscription is its Owner: the assignment is written in the transaction
/// that creates the subscription, named after the subscription id.
pub async fn grant_subscription_owner(
    tx: &impl ConnectionTrait,
    subscription_id: &str,
    principal_id: &str,
    principal_type: &str,
) -> Result<i64, ArmError> {
    let scope = AuthzScope::of(&crate::arm::id::ResourceId::subscription(subscription_id));
    let new = NewAssignment {
        name: subscription_id.to_lowercase(),
        scope,
        role: roles::OWNER.into(),
        principal_id: principal_id.to_lowercase(),
        principal_type: principal_type.into(),
        description: Some("The subscription's creator.".into()),
        condition: None,
    };
    let written = write(tx, principal_id, new).await?;
    Ok(written.change.map_or(0, |(_, version)| version))
}

/// Writes an assignment unless one of that name exists (a provisioner's repeated attempt).
pub async fn ensure(
    tx: &impl ConnectionTrait,
    by: &str,
    new: NewAssignment,
) -> Result<(), ArmError> {
    if stored::find(tx, &new.name).await?.is_some() {
        return Ok(());
    }
    write(tx, by, new).await.map(|_| ())
}
