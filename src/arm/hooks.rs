//! What other parts of Kiln do inside the transaction that removes resources. The engine and
//! the worker call the hook; what it does (today: role assignments at what went away, and
//! those its identities held) belongs to its owner, wired at startup.

use async_trait::async_trait;
use sea_orm::{DatabaseTransaction, DbErr};

pub use crate::store::resources::Removal;

#[async_trait]
pub trait RemovalHook: Send + Sync {
    /// Runs in `tx` before it commits: whatever it writes commits or rolls back with the
    /// removal.
    async fn removed(&self, tx: &DatabaseTransaction, removal: &Removal<'_>) -> Result<(), DbErr>;
}
