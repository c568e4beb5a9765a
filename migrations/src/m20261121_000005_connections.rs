//! Connections: the sealed secrets of a resource (a connection's credentials). Only
//! ciphertext is stored: an AES-256-GCM data key per secret, wrapped by a master key from
//! configuration whose id is kept beside it for rotation. A row goes with its resource.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Resources {
    Table,
    IdKey,
}

#[derive(DeriveIden)]
enum ResourceSecrets {
    Table,
    /// The owning resource's key; also the associated data the ciphertexts are bound to.
    ResourceKey,
    /// The id of the master key that wrapped the data key.
    MasterKeyId,
    /// nonce ‖ AES-256-GCM(master key, data key), base64.
    WrappedKey,
    /// nonce ‖ AES-256-GCM(data key, secret JSON), base64.
    Ciphertext,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut key = ColumnDef::new(ResourceSecrets::ResourceKey);
        key.string().not_null().primary_key();
        if m.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            key.extra("COLLATE \"C\"");
        }
        m.create_table(
            Table::create()
                .table(ResourceSecrets::Table)
                .col(key)
                .col(
                    ColumnDef::new(ResourceSecrets::MasterKeyId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ResourceSecrets::WrappedKey)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ResourceSecrets::Ciphertext)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ResourceSecrets::UpdatedAt)
                        .big_integer()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_resource_secrets_resource")
                        .from(ResourceSecrets::Table, ResourceSecrets::ResourceKey)
                        .to(Resources::Table, Resources::IdKey)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // The rotation looks for rows still wrapped by another key.
        m.create_index(
            Index::create()
                .name("ix_resource_secrets_master_key")
                .table(ResourceSecrets::Table)
                .col(ResourceSecrets::MasterKeyId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ResourceSecrets::Table).to_owned())
            .await
    }
}
