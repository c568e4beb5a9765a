//! Entities, one per table of the foundation migration.

pub mod resource {
    use sea_orm::entity::prelude::*;

    /// One ARM resource of any type, including resource groups.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "resources")]
    pub struct Model {
        /// The id lower-cased: the lookup key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_key: String,
        /// The id as the user last wrote it.
        pub id: String,
        pub subscription_key: String,
        pub group_key: String,
        pub parent_key: String,
        pub type_key: String,
        pub name: String,
        pub kind_key: Option<String>,
        pub location: Option<String>,
        pub top_level: bool,
        /// The resource this one depends on (a project's hub).
        pub depends_on_key: Option<String>,
        /// The resource that created this one and removes it with itself (a hub, for its
        /// storage account and key vault).
        pub managed_by_key: Option<String>,
        /// tags, kind, sku, identity, properties (spec) and systemData.
        pub body: Json,
        pub etag: String,
        pub provisioning_state: String,
        pub generation: i64,
        pub observed_generation: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod operation {
    use sea_orm::entity::prelude::*;

    /// An asynchronous operation: what a status monitor reports and a worker drives.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "operations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub subscription_key: String,
        pub resource_key: String,
        pub resource_id: String,
        pub namespace: String,
        pub location: String,
        pub verb: String,
        pub status: String,
        pub target_generation: i64,
        pub request_hash: String,
        pub api_version: String,
        pub caller: String,
        pub correlation_id: String,
        pub traceparent: Option<String>,
        pub error: Option<Json>,
        pub attempts: i32,
        pub lease_owner: Option<String>,
        pub lease_until: Option<i64>,
        pub deadline_at: i64,
        pub started_at: i64,
        pub ended_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod outbox {
    use sea_orm::entity::prelude::*;

    /// An event committed with the write that caused it, waiting for the relay.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub event_id: String,
        pub resource_key: String,
        pub event_type: String,
        pub routing_key: String,
        pub payload: Json,
        pub created_at: i64,
        pub sent_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod activity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "activity_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub event_id: String,
        pub subscription_key: String,
        pub resource_key: String,
        pub resource_id: String,
        pub operation_name: String,
        pub operation_id: Option<String>,
        pub status: String,
        pub status_code: i32,
        pub caller: String,
        pub correlation_id: String,
        pub method: String,
        pub at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod subscription {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "subscriptions")]
    pub struct Model {
        /// `/subscriptions/{id}` lower-cased.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub subscription_id: String,
        pub tenant_id: String,
        pub display_name: String,
        pub state: String,
        pub created_by: String,
        pub created_at: i64,
        /// The tags API's tags of the subscription (a JSON object), absent until tagged.
        pub tags: Option<Json>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tenant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub display_name: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod meta_kv {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "meta")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub value: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod role_definition {
    use sea_orm::entity::prelude::*;

    /// A custom role definition. Built-in roles ship in `policies/` and are not rows.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "role_definitions")]
    pub struct Model {
        /// The GUID, lower-cased.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name_key: String,
        /// The id as first written: `{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}`.
        pub id: String,
        pub scope_key: String,
        pub role_name_key: String,
        /// `properties` as served (roleName, description, type, permissions, assignableScopes).
        pub body: Json,
        pub created_at: i64,
        pub updated_at: i64,
        pub created_by: String,
        pub updated_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod role_assignment {
    use sea_orm::entity::prelude::*;

    /// (principal, role definition, scope, optional condition).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "role_assignments")]
    pub struct Model {
        /// The GUID name, lower-cased.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name_key: String,
        pub id: String,
        /// The canonical scope: a lower-cased resource id, or `/` for the tenant root.
        pub scope_key: String,
        pub scope: String,
        /// The role definition's GUID, lower-cased.
        pub role_definition_key: String,
        pub role_definition_id: String,
        /// Lower-cased object id.
        pub principal_id: String,
        pub principal_type: String,
        pub condition: Option<String>,
        pub condition_version: Option<String>,
        pub description: Option<String>,
        pub created_on: i64,
        pub updated_on: i64,
        pub created_by: String,
        pub updated_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod authz_state {
    use sea_orm::entity::prelude::*;

    /// One row: the policy version, bumped in every transaction that changes role definitions
    /// or assignments. Replicas reload when it moves.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "authz_state")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod resource_secret {
    use sea_orm::entity::prelude::*;

    /// The sealed secret of one resource (a connection's credentials): ciphertext only.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "resource_secrets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub resource_key: String,
        pub master_key_id: String,
        pub wrapped_key: String,
        pub ciphertext: String,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod reserved_name {
    use sea_orm::entity::prelude::*;

    /// A name unique across the service within its realm (an account's custom subdomain),
    /// held by one resource, also after that resource is soft-deleted.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "reserved_names")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub name_key: String,
        pub owner_key: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod deleted_account {
    use sea_orm::entity::prelude::*;

    /// A soft-deleted Cognitive Services account: what it was, until it is purged.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "deleted_accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub account_key: String,
        pub subscription_key: String,
        pub location: String,
        /// The account's row, its children's and its sealed keys, as stored.
        pub archive: Json,
        pub deleted_at: i64,
        pub purge_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod quota {
    use sea_orm::entity::prelude::*;

    /// One quota of a subscription in a region: the row a quota decision locks, and the limit
    /// an administrator set (the quota name's default when `None`).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "quotas")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub subscription_key: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub location: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub limit_override: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod quota_usage {
    use sea_orm::entity::prelude::*;

    /// What one model deployment holds of a quota (see the migration for when it counts).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "quota_usages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub resource_key: String,
        pub account_key: String,
        pub subscription_key: String,
        pub location: String,
        pub name: String,
        pub amount: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
