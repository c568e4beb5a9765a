//! Conditional requests (`If-Match`, `If-None-Match`) and the operation a resource has
//! running: what a write or delete checks on the row it locked.

use sea_orm::DatabaseTransaction;

use super::Preconditions;
use crate::arm::id::ResourceId;
use crate::error::ArmError;
use crate::lifecycle::is_terminal;
use crate::store::{operation, operations, resource};

fn strip_weak(tag: &str) -> &str {
    tag.trim().trim_start_matches("W/")
}

pub(super) fn check_preconditions(
    pre: &Preconditions,
    existing: Option<&resource::Model>,
    id: &ResourceId,
) -> Result<(), ArmError> {
    if let Some(wanted) = pre.if_match.as_deref() {
        match existing {
            None => {
                return Err(ArmError::precondition_failed(format!(
                    "Resource '{}' does not exist.",
                    id.display()
                )));
            }
            Some(row)
                if wanted.trim() != "*"
                    && !wanted.split(',').any(|t| strip_weak(t) == row.etag) =>
            {
                return Err(ArmError::precondition_failed(format!(
                    "Etag provided in if-match header {wanted} does not match etag {} of resource {}.",
                    row.etag,
                    id.display()
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(unwanted) = pre.if_none_match.as_deref()
        && let Some(row) = existing
        && (unwanted.trim() == "*" || unwanted.split(',').any(|t| strip_weak(t) == row.etag))
    {
        return Err(ArmError::precondition_failed(format!(
            "Resource '{}' already exists with etag {}.",
            id.display(),
            row.etag
        )));
    }
    Ok(())
}

/// The running operation of a resource. Only a resource in a non-terminal state has one, so
/// the common case (absent or settled) costs no query.
pub(super) async fn in_flight(
    tx: &DatabaseTransaction,
    row: Option<&resource::Model>,
) -> Result<Option<operation::Model>, ArmError> {
    let Some(row) = row.filter(|r| !is_terminal(&r.provisioning_state)) else {
        return Ok(None);
    };
    Ok(operations::running_for(tx, &row.id_key).await?)
}
