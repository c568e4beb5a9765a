//! Cognitive Services accounts: names unique across the whole service (an account's custom
//! subdomain), the soft-deleted accounts kept until they are purged, and quotas (a row per
//! subscription, region and quota name: the lock a quota decision takes, and a limit an
//! administrator set).
//!
//! `reserved_names` has no foreign key on purpose: a soft-deleted account keeps its
//! subdomain after its resource row is gone, until the purge.

use sea_orm_migration::prelude::*;

use super::m20261121_000001_foundation::key;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReservedNames {
    Table,
    /// What the name is unique within (`cognitiveservices/subdomain`).
    Realm,
    /// The name lower-cased.
    NameKey,
    /// The key of the resource holding it (also after a soft delete).
    OwnerKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DeletedAccounts {
    Table,
    /// The account's resource key (its id lower-cased).
    AccountKey,
    SubscriptionKey,
    Location,
    /// The account and what went with it, as they were stored (JSON).
    Archive,
    DeletedAt,
    PurgeAt,
}

/// A key column (bytewise on PostgreSQL, as every key column), not null.
fn key_column(m: &SchemaManager, iden: impl IntoIden) -> ColumnDef {
    let mut column = key(m, iden);
    column.not_null();
    column
}

#[derive(DeriveIden)]
enum Quotas {
    Table,
    SubscriptionKey,
    Location,
    /// Azure's quota name (`OpenAI.Standard.gpt-4o`).
    Name,
    /// An administrator's limit; the default of the quota name when null.
    LimitOverride,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ReservedNames::Table)
                .col(key_column(m, ReservedNames::Realm))
                .col(key_column(m, ReservedNames::NameKey))
                .col(key_column(m, ReservedNames::OwnerKey))
                .col(
                    ColumnDef::new(ReservedNames::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(ReservedNames::Realm)
                        .col(ReservedNames::NameKey),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_reserved_names_owner")
                .table(ReservedNames::Table)
                .col(ReservedNames::OwnerKey)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(DeletedAccounts::Table)
                .col(key_column(m, DeletedAccounts::AccountKey).primary_key())
                .col(key_column(m, DeletedAccounts::SubscriptionKey))
                .col(
                    ColumnDef::new(DeletedAccounts::Location)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(DeletedAccounts::Archive).json().not_null())
                .col(
                    ColumnDef::new(DeletedAccounts::DeletedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(DeletedAccounts::PurgeAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Quotas::Table)
                .col(key_column(m, Quotas::SubscriptionKey))
                .col(key_column(m, Quotas::Location))
                .col(key_column(m, Quotas::Name))
                .col(ColumnDef::new(Quotas::LimitOverride).big_integer().null())
                .primary_key(
                    Index::create()
                        .col(Quotas::SubscriptionKey)
                        .col(Quotas::Location)
                        .col(Quotas::Name),
                )
                .to_owned(),
        )
        .await?;
        // The sweeper looks for accounts past their purge date.
        m.create_index(
            Index::create()
                .name("ix_deleted_accounts_purge_at")
                .table(DeletedAccounts::Table)
                .col(DeletedAccounts::PurgeAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Quotas::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(DeletedAccounts::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ReservedNames::Table).to_owned())
            .await
    }
}
