//! What each model deployment holds of its quota: one row per deployment (its quota name and
//! capacity), so a quota decision sums an index range instead of reading every deployment of
//! the subscription. A row lives from its deployment's write until the deployment is deleted
//! (the removal hook) or its soft-deleted account purged: a soft delete keeps the quota held.

use sea_orm_migration::prelude::*;

use super::m20261121_000001_foundation::key;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum QuotaUsages {
    Table,
    /// The deployment's resource key.
    ResourceKey,
    /// The key of its account (a soft-deleted account's deployments still count).
    AccountKey,
    SubscriptionKey,
    Location,
    /// `namespace/quota name`, lower-cased, as in `quotas`.
    Name,
    /// The capacity the deployment holds.
    Amount,
}

fn key_column(m: &SchemaManager, iden: impl IntoIden) -> ColumnDef {
    let mut column = key(m, iden);
    column.not_null();
    column
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(QuotaUsages::Table)
                .col(key_column(m, QuotaUsages::ResourceKey).primary_key())
                .col(key_column(m, QuotaUsages::AccountKey))
                .col(key_column(m, QuotaUsages::SubscriptionKey))
                .col(key_column(m, QuotaUsages::Location))
                .col(key_column(m, QuotaUsages::Name))
                .col(ColumnDef::new(QuotaUsages::Amount).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_quota_usages_quota")
                .table(QuotaUsages::Table)
                .col(QuotaUsages::SubscriptionKey)
                .col(QuotaUsages::Location)
                .col(QuotaUsages::Name)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(QuotaUsages::Table).to_owned())
            .await
    }
}
