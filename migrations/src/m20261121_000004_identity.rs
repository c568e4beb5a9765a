//! Identity: the service principals `kiln sp create` registers (client id, object id, salted
//! hash of the client secret) and the key pairs Kiln signs its own access tokens with. The keys
//! live in the database, not in a file, so every replica signs with and accepts the same ones.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ServicePrincipals {
    Table,
    /// The object id: the principal id in tokens and role assignments.
    ObjectId,
    /// The application (client) id, lower-cased.
    AppId,
    DisplayName,
    TenantId,
    /// `hmac-sha256$<salt>$<tag>`; the secret itself is never stored.
    SecretHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    Algorithm,
    /// PKCS#8 DER, base64.
    PrivateKey,
    /// The public half as a JWK (JSON text).
    PublicJwk,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ServicePrincipals::Table)
                .col(
                    ColumnDef::new(ServicePrincipals::ObjectId)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ServicePrincipals::AppId)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(ServicePrincipals::DisplayName)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ServicePrincipals::TenantId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ServicePrincipals::SecretHash)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ServicePrincipals::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SigningKeys::Table)
                .col(
                    ColumnDef::new(SigningKeys::Kid)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(SigningKeys::Algorithm).string().not_null())
                .col(ColumnDef::new(SigningKeys::PrivateKey).text().not_null())
                .col(ColumnDef::new(SigningKeys::PublicJwk).text().not_null())
                .col(
                    ColumnDef::new(SigningKeys::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SigningKeys::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ServicePrincipals::Table).to_owned())
            .await
    }
}
