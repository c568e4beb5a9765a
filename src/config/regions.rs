//! The regions Kiln offers: what `GET /subscriptions/{s}/locations` lists and where a tracked
//! resource may live. The default is `api-spec/azure/regions.json`, a realistic set of real
//! Azure regions; `KILN_REGIONS` names a file of the same shape to offer others.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ArmError, ErrorCode};

const DEFAULT: &str = include_str!("../../api-spec/azure/regions.json");

/// `West US` → `westus`: ARM compares locations ignoring case and spaces.
pub fn normalize_location(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
}

/// One region as the regions file has it; ARM's `Location` is built from it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    /// `eastus`: what resources carry in `location`.
    pub name: String,
    /// `East US`.
    pub display_name: String,
    /// `(US) East US`.
    pub regional_display_name: String,
    pub metadata: RegionMetadata,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegionMetadata {
    /// `Physical` or `Logical`.
    pub region_type: String,
    /// `Recommended` or `Other`.
    pub region_category: String,
    pub geography: String,
    pub geography_group: String,
    /// Degrees, as strings: ARM writes them so.
    pub longitude: String,
    pub latitude: String,
    pub physical_location: String,
    /// The names of the paired regions.
    #[serde(default)]
    pub paired_region: Vec<String>,
}

/// Why a regions file was refused at startup.
#[derive(Debug, thiserror::Error)]
pub enum RegionsError {
    #[error("cannot read the regions file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the regions file {path} is not a JSON list of regions: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("the regions file {path} {problem}")]
    Invalid { path: String, problem: String },
}

/// The offered regions, in the file's order.
#[derive(Debug, Clone)]
pub struct Regions {
    list: Vec<Region>,
}

impl Default for Regions {
    fn default() -> Self {
        Self::azure_default()
    }
}

impl Regions {
    /// The default set, compiled in.
    pub fn azure_default() -> Self {
        // The default file is checked by a unit test; a broken one would offer nothing.
        Self::parse(DEFAULT, "api-spec/azure/regions.json").unwrap_or(Self { list: vec![] })
    }

    /// The regions of `path`, or the default when `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, RegionsError> {
        let Some(path) = path else {
            return Ok(Self::azure_default());
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RegionsError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    fn parse(text: &str, path: &str) -> Result<Self, RegionsError> {
        let list: Vec<Region> =
            serde_json::from_str(text).map_err(|source| RegionsError::Parse {
                path: path.into(),
                source,
            })?;
        let invalid = |problem: String| RegionsError::Invalid {
            path: path.into(),
            problem,
        };
        if list.is_empty() {
            return Err(invalid("lists no region".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for region in &list {
            if region.name.is_empty() || normalize_location(&region.name) != region.name {
                return Err(invalid(format!(
                    "has a region name '{}' that is not lower case without spaces",
                    region.name
                )));
            }
            if !seen.insert(region.name.as_str()) {
                return Err(invalid(format!("lists '{}' twice", region.name)));
            }
        }
        Ok(Self { list })
    }

    pub fn all(&self) -> &[Region] {
        &self.list
    }

    /// The region a `location` names, by name or display name, ignoring case and spaces.
    pub fn find(&self, location: &str) -> Option<&Region> {
        let wanted = normalize_location(location);
        self.list
            .iter()
            .find(|r| r.name == wanted || normalize_location(&r.display_name) == wanted)
    }

    /// The display names, as a provider's `resourceTypes[].locations` lists them.
    pub fn display_names(&self) -> Vec<&str> {
        self.list.iter().map(|r| r.display_name.as_str()).collect()
    }

    /// Refuses a tracked resource of `full_type` (a resource group when `None`) outside the
    /// offered regions, with ARM's error naming the allowed ones.
    pub fn check(&self, location: &str, full_type: Option<&str>) -> Result<(), ArmError> {
        if self.find(location).is_some() {
            return Ok(());
        }
        let names: Vec<&str> = self.list.iter().map(|r| r.name.as_str()).collect();
        let allowed = names.join(",");
        Err(match full_type {
            None => ArmError::new(
                ErrorCode::LocationNotAvailableForResourceGroup,
                format!(
                    "The provided location '{location}' is not available for resource group. \
                     List of available regions is '{allowed}'."
                ),
            ),
            Some(full_type) => ArmError::new(
                ErrorCode::LocationNotAvailableForResourceType,
                format!(
                    "The provided location '{location}' is not available for resource type \
                     '{full_type}'. List of available regions for the resource type is '{allowed}'."
                ),
            ),
        }
        .with_target("location"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_set_is_valid_real_regions() {
        let regions = Regions::parse(DEFAULT, "default").expect("the default regions parse");
        assert!(regions.all().len() >= 30);
        assert_eq!(
            regions.find("East US").map(|r| r.name.as_str()),
            Some("eastus")
        );
        assert!(regions.find("westeurope").is_some());
        for region in regions.all() {
            for paired in &region.metadata.paired_region {
                assert_ne!(paired, &region.name, "{} pairs with itself", region.name);
            }
            let lat: f64 = region.metadata.latitude.parse().expect("a latitude");
            assert!((-90.0..=90.0).contains(&lat), "{}", region.name);
        }
    }

    #[test]
    fn a_location_outside_the_set_is_refused_naming_the_allowed_ones() {
        let regions = Regions::azure_default();
        let err = regions
            .check("moon", Some("Microsoft.MachineLearningServices/workspaces"))
            .expect_err("moon is no region");
        assert_eq!(err.detail.code, "LocationNotAvailableForResourceType");
        assert!(
            err.detail.message.contains("eastus,"),
            "{}",
            err.detail.message
        );
        let err = regions.check("moon", None).expect_err("moon is no region");
        assert_eq!(err.detail.code, "LocationNotAvailableForResourceGroup");
        assert!(regions.check("West Europe", None).is_ok());
    }

    #[test]
    fn a_bad_file_is_refused_with_a_reason() {
        assert!(matches!(
            Regions::parse("[]", "f"),
            Err(RegionsError::Invalid { .. })
        ));
        assert!(matches!(
            Regions::parse("{", "f"),
            Err(RegionsError::Parse { .. })
        ));
        let twice = format!(
            "[{0},{0}]",
            serde_json::to_string(&Regions::azure_default().all()[0]).unwrap_or_default()
        );
        assert!(matches!(
            Regions::parse(&twice, "f"),
            Err(RegionsError::Invalid { .. })
        ));
    }
}
