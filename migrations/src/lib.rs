//! Kiln's schema, portable across PostgreSQL and SQLite.
//!
//! Conventions (design-anchors §5): ids are text (a lower-cased lookup key plus the display
//! form), timestamps are integer unix milliseconds so comparisons mean the same on both
//! backends, JSON is an opaque column with every queried field promoted to a real column.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_foundation;
mod m20261121_000002_managed_by;
mod m20261121_000003_authorization;
mod m20261121_000004_identity;
mod m20261121_000005_connections;
mod m20261203_000006_subscription_tags;
mod m20261203_000007_cognitive_services;
mod m20261204_000008_quota_usages;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_foundation::Migration),
            Box::new(m20261121_000002_managed_by::Migration),
            Box::new(m20261121_000003_authorization::Migration),
            Box::new(m20261121_000004_identity::Migration),
            Box::new(m20261121_000005_connections::Migration),
            Box::new(m20261203_000006_subscription_tags::Migration),
            Box::new(m20261203_000007_cognitive_services::Migration),
            Box::new(m20261204_000008_quota_usages::Migration),
        ]
    }
}
