use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Meta {
    Table,
    Key,
    Value,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    DisplayName,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Key,
    SubscriptionId,
    TenantId,
    DisplayName,
    State,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Resources {
    Table,
    IdKey,
    Id,
    SubscriptionKey,
    GroupKey,
    ParentKey,
    TypeKey,
    Name,
    KindKey,
    Location,
    TopLevel,
    DependsOnKey,
    Body,
    Etag,
    ProvisioningState,
    Generation,
    ObservedGeneration,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Operations {
    Table,
    Id,
    SubscriptionKey,
    ResourceKey,
    ResourceId,
    Namespace,
    Location,
    Verb,
    Status,
    TargetGeneration,
    RequestHash,
    ApiVersion,
    Caller,
    CorrelationId,
    Traceparent,
    Error,
    Attempts,
    LeaseOwner,
    LeaseUntil,
    DeadlineAt,
    StartedAt,
    EndedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Seq,
    EventId,
    ResourceKey,
    EventType,
    RoutingKey,
    Payload,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum ActivityLog {
    Table,
    Seq,
    EventId,
    SubscriptionKey,
    ResourceKey,
    ResourceId,
    OperationName,
    OperationId,
    Status,
    StatusCode,
    Caller,
    CorrelationId,
    Method,
    At,
}

/// A lower-cased key column. On PostgreSQL it compares bytewise (`COLLATE "C"`): subtree
/// deletes select `key/…` as the range (`key/`, `key0`), which a linguistic collation breaks;
/// SQLite compares bytewise already.
pub(crate) fn key(m: &SchemaManager, column: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    def.string();
    if m.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
        def.extra("COLLATE \"C\"");
    }
    def
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Meta::Table)
                .col(ColumnDef::new(Meta::Key).string().not_null().primary_key())
                .col(ColumnDef::new(Meta::Value).string().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(
                    ColumnDef::new(Tenants::Id)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Tenants::DisplayName).string().not_null())
                .col(ColumnDef::new(Tenants::CreatedAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Subscriptions::Table)
                .col(
                    ColumnDef::new(Subscriptions::Key)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Subscriptions::SubscriptionId)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(Subscriptions::TenantId).string().not_null())
                .col(
                    ColumnDef::new(Subscriptions::DisplayName)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(Subscriptions::State).string().not_null())
                .col(ColumnDef::new(Subscriptions::CreatedBy).string().not_null())
                .col(
                    ColumnDef::new(Subscriptions::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_subscriptions_tenant")
                .table(Subscriptions::Table)
                .col(Subscriptions::TenantId)
                .col(Subscriptions::Key)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Resources::Table)
                .col(key(m, Resources::IdKey).not_null().primary_key())
                .col(ColumnDef::new(Resources::Id).string().not_null())
                .col(key(m, Resources::SubscriptionKey).not_null())
                .col(key(m, Resources::GroupKey).not_null())
                .col(key(m, Resources::ParentKey).not_null())
                .col(key(m, Resources::TypeKey).not_null())
                .col(ColumnDef::new(Resources::Name).string().not_null())
                .col(ColumnDef::new(Resources::KindKey).string().null())
                .col(ColumnDef::new(Resources::Location).string().null())
                .col(ColumnDef::new(Resources::TopLevel).boolean().not_null())
                .col(key(m, Resources::DependsOnKey).null())
                .col(ColumnDef::new(Resources::Body).json_binary().not_null())
                .col(ColumnDef::new(Resources::Etag).string().not_null())
                .col(
                    ColumnDef::new(Resources::ProvisioningState)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Resources::Generation)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Resources::ObservedGeneration)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Resources::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Resources::UpdatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        // Keyset pages: every list is "WHERE <scope> AND type_key = ? AND id_key > ? ORDER BY id_key".
        for (name, cols) in [
            (
                "ix_resources_sub_type",
                vec![
                    Resources::SubscriptionKey,
                    Resources::TypeKey,
                    Resources::IdKey,
                ],
            ),
            (
                "ix_resources_parent_type",
                vec![Resources::ParentKey, Resources::TypeKey, Resources::IdKey],
            ),
            (
                "ix_resources_group",
                vec![Resources::GroupKey, Resources::IdKey],
            ),
            (
                "ix_resources_sub_top",
                vec![
                    Resources::SubscriptionKey,
                    Resources::TopLevel,
                    Resources::IdKey,
                ],
            ),
            ("ix_resources_depends_on", vec![Resources::DependsOnKey]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Resources::Table);
            for col in cols {
                index.col(col);
            }
            m.create_index(index.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table(Operations::Table)
                .col(
                    ColumnDef::new(Operations::Id)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(key(m, Operations::SubscriptionKey).not_null())
                .col(key(m, Operations::ResourceKey).not_null())
                .col(ColumnDef::new(Operations::ResourceId).string().not_null())
                .col(ColumnDef::new(Operations::Namespace).string().not_null())
                .col(ColumnDef::new(Operations::Location).string().not_null())
                .col(ColumnDef::new(Operations::Verb).string().not_null())
                .col(ColumnDef::new(Operations::Status).string().not_null())
                .col(
                    ColumnDef::new(Operations::TargetGeneration)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Operations::RequestHash).string().not_null())
                .col(ColumnDef::new(Operations::ApiVersion).string().not_null())
                .col(ColumnDef::new(Operations::Caller).string().not_null())
                .col(
                    ColumnDef::new(Operations::CorrelationId)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(Operations::Traceparent).string().null())
                .col(ColumnDef::new(Operations::Error).json_binary().null())
                .col(ColumnDef::new(Operations::Attempts).integer().not_null())
                .col(ColumnDef::new(Operations::LeaseOwner).string().null())
                .col(ColumnDef::new(Operations::LeaseUntil).big_integer().null())
                .col(
                    ColumnDef::new(Operations::DeadlineAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Operations::StartedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Operations::EndedAt).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_operations_status_lease")
                .table(Operations::Table)
                .col(Operations::Status)
                .col(Operations::LeaseUntil)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_operations_resource")
                .table(Operations::Table)
                .col(Operations::ResourceKey)
                .col(Operations::Status)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(
                    ColumnDef::new(Outbox::Seq)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Outbox::EventId)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Outbox::ResourceKey).string().not_null())
                .col(ColumnDef::new(Outbox::EventType).string().not_null())
                .col(ColumnDef::new(Outbox::RoutingKey).string().not_null())
                .col(ColumnDef::new(Outbox::Payload).json_binary().not_null())
                .col(ColumnDef::new(Outbox::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(Outbox::SentAt).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_outbox_unsent")
                .table(Outbox::Table)
                .col(Outbox::SentAt)
                .col(Outbox::Seq)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ActivityLog::Table)
                .col(
                    ColumnDef::new(ActivityLog::Seq)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(ActivityLog::EventId).string().not_null())
                .col(
                    ColumnDef::new(ActivityLog::SubscriptionKey)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(ActivityLog::ResourceKey).string().not_null())
                .col(ColumnDef::new(ActivityLog::ResourceId).string().not_null())
                .col(
                    ColumnDef::new(ActivityLog::OperationName)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(ActivityLog::OperationId).string().null())
                .col(ColumnDef::new(ActivityLog::Status).string().not_null())
                .col(ColumnDef::new(ActivityLog::StatusCode).integer().not_null())
                .col(ColumnDef::new(ActivityLog::Caller).string().not_null())
                .col(
                    ColumnDef::new(ActivityLog::CorrelationId)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(ActivityLog::Method).string().not_null())
                .col(ColumnDef::new(ActivityLog::At).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_activity_sub_seq")
                .table(ActivityLog::Table)
                .col(ActivityLog::SubscriptionKey)
                .col(ActivityLog::Seq)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ActivityLog::Table.into_iden(),
            Outbox::Table.into_iden(),
            Operations::Table.into_iden(),
            Resources::Table.into_iden(),
            Subscriptions::Table.into_iden(),
            Tenants::Table.into_iden(),
            Meta::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
