//! Entities of the identity migration: service principals and Kiln's token-signing keys,
//! and the insert both tables share. Their queries are in `store::service_principals` and
//! `store::signing_keys`.

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait};

/// Inserts a whole new row, every column as given (not only those marked changed).
pub(super) async fn insert_whole<A>(db: &impl ConnectionTrait, row: A) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
{
    A::Entity::insert(row.reset_all()).exec(db).await?;
    Ok(())
}

pub mod service_principal {
    use sea_orm::entity::prelude::*;

    /// A service principal with a client secret (`kiln sp create`).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_principals")]
    pub struct Model {
        /// The object id: the principal id in tokens and role assignments.
        #[sea_orm(primary_key, auto_increment = false)]
        pub object_id: String,
        /// The application (client) id, lower-cased.
        pub app_id: String,
        pub display_name: String,
        pub tenant_id: String,
        /// A salted hash of the client secret, never the secret.
        pub secret_hash: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod signing_key {
    use sea_orm::entity::prelude::*;

    /// A key pair Kiln signs its access tokens with, shared by every replica.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        /// The JWS algorithm (`ES256`).
        pub algorithm: String,
        /// PKCS#8 DER, base64.
        pub private_key: String,
        /// The public half as a JWK (JSON text).
        pub public_jwk: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
