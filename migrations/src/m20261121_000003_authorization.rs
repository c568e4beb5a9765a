//! Role-based access: custom role definitions, role assignments, and the policy version that
//! tells every replica to reload. Built-in roles are not rows: they ship in `policies/`.
//!
//! The creator of a subscription is its Owner: existing subscriptions get that assignment
//! here, named after the subscription id (a GUID, and unique per subscription).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RoleDefinitions {
    Table,
    NameKey,
    Id,
    ScopeKey,
    RoleNameKey,
    Body,
    CreatedAt,
    UpdatedAt,
    CreatedBy,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum RoleAssignments {
    Table,
    NameKey,
    Id,
    ScopeKey,
    Scope,
    RoleDefinitionKey,
    RoleDefinitionId,
    PrincipalId,
    PrincipalType,
    Condition,
    ConditionVersion,
    Description,
    CreatedOn,
    UpdatedOn,
    CreatedBy,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum AuthzState {
    Table,
    Id,
    Version,
}

#[derive(DeriveIden)]
enum Resources {
    Table,
    ProvisioningState,
}

/// The Owner role's GUID, the same in every Azure cloud.
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

fn key(m: &SchemaManager, column: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    def.string();
    if m.get_database_backend() == DbBackend::Postgres {
        def.extra("COLLATE \"C\"");
    }
    def
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RoleDefinitions::Table)
                .col(key(m, RoleDefinitions::NameKey).not_null().primary_key())
                .col(ColumnDef::new(RoleDefinitions::Id).string().not_null())
                .col(key(m, RoleDefinitions::ScopeKey).not_null())
                .col(key(m, RoleDefinitions::RoleNameKey).not_null())
                .col(ColumnDef::new(RoleDefinitions::Body).json().not_null())
                .col(
                    ColumnDef::new(RoleDefinitions::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RoleDefinitions::UpdatedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RoleDefinitions::CreatedBy)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RoleDefinitions::UpdatedBy)
                        .string()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        // Azure: a custom role's name is unique in its tenant; Kiln has one directory.
        m.create_index(
            Index::create()
                .name("ux_role_definitions_name")
                .table(RoleDefinitions::Table)
                .col(RoleDefinitions::RoleNameKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RoleAssignments::Table)
                .col(key(m, RoleAssignments::NameKey).not_null().primary_key())
                .col(ColumnDef::new(RoleAssignments::Id).string().not_null())
                .col(key(m, RoleAssignments::ScopeKey).not_null())
                .col(ColumnDef::new(RoleAssignments::Scope).string().not_null())
                .col(key(m, RoleAssignments::RoleDefinitionKey).not_null())
                .col(
                    ColumnDef::new(RoleAssignments::RoleDefinitionId)
                        .string()
                        .not_null(),
                )
                .col(key(m, RoleAssignments::PrincipalId).not_null())
                .col(
                    ColumnDef::new(RoleAssignments::PrincipalType)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(RoleAssignments::Condition).text().null())
                .col(
                    ColumnDef::new(RoleAssignments::ConditionVersion)
                        .string()
                        .null(),
                )
                .col(ColumnDef::new(RoleAssignments::Description).text().null())
                .col(
                    ColumnDef::new(RoleAssignments::CreatedOn)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RoleAssignments::UpdatedOn)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RoleAssignments::CreatedBy)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RoleAssignments::UpdatedBy)
                        .string()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        // One assignment per (scope, role, principal): a second name is 409 RoleAssignmentExists,
        // and the index makes that hold under concurrent PUTs too.
        m.create_index(
            Index::create()
                .name("ux_role_assignments_triple")
                .table(RoleAssignments::Table)
                .col(RoleAssignments::ScopeKey)
                .col(RoleAssignments::RoleDefinitionKey)
                .col(RoleAssignments::PrincipalId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_role_assignments_principal")
                .table(RoleAssignments::Table)
                .col(RoleAssignments::PrincipalId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AuthzState::Table)
                .col(
                    ColumnDef::new(AuthzState::Id)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(AuthzState::Version).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared("INSERT INTO authz_state (id, version) VALUES (1, 1)")
            .await?;
        let backfill = format!(
            "INSERT INTO role_assignments (name_key, id, scope_key, scope, role_definition_key, \
             role_definition_id, principal_id, principal_type, created_on, updated_on, created_by, updated_by) \
             SELECT lower(subscription_id), \
                    '/subscriptions/' || subscription_id || '/providers/Microsoft.Authorization/roleAssignments/' || lower(subscription_id), \
                    key, '/subscriptions/' || subscription_id, '{OWNER}', \
                    '/subscriptions/' || subscription_id || '/providers/Microsoft.Authorization/roleDefinitions/{OWNER}', \
                    lower(created_by), 'User', created_at, created_at, created_by, created_by \
             FROM subscriptions"
        );
        db.execute_unprepared(&backfill).await?;
        // The sweeper looks for resources left mid-operation on every pass.
        m.create_index(
            Index::create()
                .name("ix_resources_provisioning_state")
                .table(Resources::Table)
                .col(Resources::ProvisioningState)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_resources_provisioning_state")
                .table(Resources::Table)
                .to_owned(),
        )
        .await?;
        for table in [
            AuthzState::Table.into_iden(),
            RoleAssignments::Table.into_iden(),
            RoleDefinitions::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
