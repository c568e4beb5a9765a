//! `tags` on subscriptions: what `…/subscriptions/{s}/providers/Microsoft.Resources/tags/default`
//! reads and writes (a JSON object; absent until tagged).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Tags,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Subscriptions::Table)
                .add_column(ColumnDef::new(Subscriptions::Tags).json().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Subscriptions::Table)
                .drop_column(Subscriptions::Tags)
                .to_owned(),
        )
        .await
    }
}
