//! `GET /metadata/endpoints`: the cloud description that Terraform's `metadata_host`,
//! go-azure-sdk's `environments.FromEndpoint`, `az cloud register --endpoint-resource-manager`
//! and Azure PowerShell read to learn where a cloud's login and Resource Manager are.
//!
//! The shape follows the api-version, as ARM's does: 2022-09-01 and later answer one object
//! for this cloud (what go-azure-sdk reads), 2019-05-01 up to it a list of clouds, and older
//! versions the 2015-01-01 object.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde_json::{Value, json};

use super::IdentityState;
use crate::error::{ArmError, ErrorResponse};

/// The cloud description of a Kiln at `origin` whose tokens carry `audience`.
pub fn cloud(origin: &str, audience: &str) -> Value {
    json!({
        "name": "Kiln",
        "portal": origin,
        "resourceManager": format!("{origin}/"),
        "authentication": {
            "loginEndpoint": origin,
            "audiences": [audience],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        // Data planes Kiln does not serve: the public cloud's names, so that clients that
        // require them find well-formed values.
        "media": "https://rest.media.azure.net",
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "storageSyncEndpointSuffix": "afs.azure.net",
            "mhsmDns": "managedhsm.azure.net",
            "mysqlServerEndpoint": "mysql.database.azure.com",
            "postgresqlServerEndpoint": "postgres.database.azure.com",
            "mariadbServerEndpoint": "mariadb.database.azure.com",
            "synapseAnalytics": "dev.azuresynapse.net",
            "attestationEndpoint": "attest.azure.net",
        },
        "batch": "https://batch.core.windows.net/",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net",
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        "logAnalyticsResourceId": "https://api.loganalytics.io",
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
    })
}

/// The 2015-01-01 shape.
fn legacy(origin: &str, audience: &str) -> Value {
    json!({
        "galleryEndpoint": "",
        "graphEndpoint": "https://graph.windows.net/",
        "portalEndpoint": origin,
        "authentication": {"loginEndpoint": format!("{origin}/"), "audiences": [audience]},
    })
}

/// Where this cloud's login endpoint and Resource Manager are, and the token audience.
#[utoipa::path(
    tag = "Metadata",
    params(("api-version" = String, Query, description = "2022-09-01 (one object), 2019-05-01 (a list), 2015-01-01")),
    responses(
        (status = 200, description = "The cloud description (its shape depends on the api-version)"),
        (status = 400, body = ErrorResponse),
    )
)]
#[get("/metadata/endpoints")]
pub async fn get_metadata_endpoints(
    req: HttpRequest,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse, ArmError> {
    let version = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(ArmError::missing_api_version)?;
    let origin = state.origin(&req);
    // api-versions are dates (or the old `1.0`), so they compare as strings.
    let body = if version.as_str() >= "2022-09-01" {
        cloud(&origin, &state.audience)
    } else if version.as_str() >= "2019-05-01" {
        json!([cloud(&origin, &state.audience)])
    } else {
        legacy(&origin, &state.audience)
    };
    Ok(HttpResponse::Ok().json(body))
}
