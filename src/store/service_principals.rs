//! The queries of the `service_principals` table. Secrets are hashed before they get here
//! (`identity::client_secrets`); checking one stays in `identity::service_principals`.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter};

use super::identity::service_principal;

pub async fn insert(db: &impl ConnectionTrait, row: service_principal::Model) -> Result<(), DbErr> {
    super::identity::insert_whole(db, row.into_active_model()).await
}

/// The service principal with the application (client) id `app_id`, stored lower-cased.
pub async fn find_by_app_id(
    db: &impl ConnectionTrait,
    app_id: &str,
) -> Result<Option<service_principal::Model>, DbErr> {
    service_principal::Entity::find()
        .filter(service_principal::Column::AppId.eq(app_id.to_lowercase()))
        .one(db)
        .await
}
