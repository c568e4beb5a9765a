//! Settings of resource types that reach past one request: where the data planes of
//! Cognitive Services accounts answer, and how long a deleted account stays recoverable.
//! Shared by `kiln serve` and `kiln worker` (the worker soft-deletes accounts).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::catalog::{Catalog, CatalogError, QuotaDefaults};

/// `KILN_SOFT_DELETE_RETENTION` when nobody sets it: Azure's 48 hours.
const SOFT_DELETE_RETENTION: &str = "48h";

#[derive(Debug, Clone, Args)]
pub struct TypeArgs {
    /// The DNS suffix of the data planes Kiln's resources name (an account's endpoints are
    /// `https://{subdomain}.cognitiveservices.{domain}/` and so on). Azure's own suffixes
    /// (`cognitiveservices.azure.com`, `openai.azure.com`, `services.ai.azure.com`) when absent.
    #[arg(long = "data-plane-domain", env = "KILN_DATA_PLANE_DOMAIN")]
    pub data_plane_domain: Option<String>,
    /// How long a deleted Cognitive Services account can be restored before it is purged
    /// (`48h`, `30m`, `90s`).
    #[arg(
        long = "soft-delete-retention",
        env = "KILN_SOFT_DELETE_RETENTION",
        default_value = SOFT_DELETE_RETENTION
    )]
    pub soft_delete_retention: String,
    /// The models accounts can deploy: a JSON file shaped like api-spec/azure/model-catalog.json
    /// (the default).
    #[arg(long = "model-catalog", env = "KILN_MODEL_CATALOG")]
    pub model_catalog: Option<std::path::PathBuf>,
}

/// The validated type settings.
#[derive(Debug, Clone)]
pub struct TypeSettings {
    /// `None`: Azure's hostnames.
    pub data_plane_domain: Option<String>,
    pub soft_delete_retention: Duration,
    /// The models accounts can deploy (`KILN_MODEL_CATALOG`, else the shipped catalog).
    pub model_catalog: Arc<Catalog>,
    /// The default quota limits (`api-spec/azure/quota-defaults.json`).
    pub quota_defaults: Arc<QuotaDefaults>,
}

impl Default for TypeSettings {
    fn default() -> Self {
        Self {
            data_plane_domain: None,
            soft_delete_retention: Duration::from_secs(48 * 3600),
            model_catalog: Arc::new(Catalog::default()),
            quota_defaults: Arc::new(QuotaDefaults::default()),
        }
    }
}

/// Why a type setting was refused at start.
#[derive(Debug, thiserror::Error)]
pub enum TypeSettingsError {
    #[error("KILN_SOFT_DELETE_RETENTION: '{0}' is not a duration such as 48h, 30m or 90s")]
    Retention(String),
    #[error("KILN_DATA_PLANE_DOMAIN: '{0}' is not a DNS name such as kiln.example.com")]
    Domain(String),
    #[error("KILN_MODEL_CATALOG: {0}")]
    Catalog(#[from] CatalogError),
}

impl TypeArgs {
    pub fn settings(&self) -> Result<TypeSettings, TypeSettingsError> {
        let raw = self.soft_delete_retention.trim();
        let soft_delete_retention = humantime::parse_duration(raw)
            .map_err(|_| TypeSettingsError::Retention(raw.to_owned()))?;
        let data_plane_domain = match self.data_plane_domain.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(domain) => Some(dns_name(domain)?),
        };
        Ok(TypeSettings {
            data_plane_domain,
            soft_delete_retention,
            model_catalog: Arc::new(Catalog::load(self.model_catalog.as_deref())?),
            quota_defaults: Arc::new(QuotaDefaults::default()),
        })
    }
}

/// A lower-cased DNS name: labels of letters, digits and `-`, separated by dots.
fn dns_name(raw: &str) -> Result<String, TypeSettingsError> {
    let domain = raw.trim_end_matches('.').to_ascii_lowercase();
    let valid_label = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if domain.len() <= 253 && domain.split('.').all(valid_label) {
        Ok(domain)
    } else {
        Err(TypeSettingsError::Domain(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(domain: Option<&str>, retention: &str) -> TypeArgs {
        TypeArgs {
            data_plane_domain: domain.map(str::to_owned),
            soft_delete_retention: retention.to_owned(),
            model_catalog: None,
        }
    }

    #[test]
    fn durations_and_domains_are_checked() {
        let ok = args(Some("AI.Example.com."), "90s").settings().unwrap();
        assert_eq!(ok.data_plane_domain.as_deref(), Some("ai.example.com"));
        assert_eq!(ok.soft_delete_retention, Duration::from_secs(90));
        let default = args(None, SOFT_DELETE_RETENTION).settings().unwrap();
        assert_eq!(
            default.soft_delete_retention,
            TypeSettings::default().soft_delete_retention
        );
        assert!(args(None, "two days").settings().is_err());
        for bad in [
            "https://x.example.com",
            "a..b",
            "-a.example.com",
            "a_b.example.com",
        ] {
            assert!(args(Some(bad), "1h").settings().is_err(), "{bad}");
        }
    }
}
