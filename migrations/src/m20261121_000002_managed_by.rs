//! `managed_by_key`: the resource that created this one (a hub's storage account and key
//! vault) and removes it with itself.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Resources {
    Table,
    ManagedByKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut column = ColumnDef::new(Resources::ManagedByKey);
        column.string().null();
        if m.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            column.extra("COLLATE \"C\"");
        }
        m.alter_table(
            Table::alter()
                .table(Resources::Table)
                .add_column(column)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_resources_managed_by")
                .table(Resources::Table)
                .col(Resources::ManagedByKey)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_resources_managed_by")
                .table(Resources::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Resources::Table)
                .drop_column(Resources::ManagedByKey)
                .to_owned(),
        )
        .await
    }
}
