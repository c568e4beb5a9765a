//! The model catalog: which models an account can deploy, where, with which skus and
//! capacities, and the quota name each sku counts against. It is data —
//! `api-spec/azure/model-catalog.json` by default, `KILN_MODEL_CATALOG` to replace it — in
//! the shape of Azure's `GET …/locations/{l}/models` entries, with the regions each is offered
//! in.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

const DEFAULT: &str = include_str!("../../api-spec/azure/model-catalog.json");

/// Why a catalog file was refused at start.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the model catalog {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the model catalog {path} is not shaped like api-spec/azure/model-catalog.json: {source}"
    )]
    Parse {
        path: String,
        source: serde_json::Error,
    },
}

#[derive(Debug, Clone, Deserialize)]
struct CatalogFile {
    models: Vec<Value>,
}

/// One model of the catalog, as Azure lists it, and where it is offered.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The account kind that deploys it (`OpenAI`, `AIServices`).
    #[serde(default)]
    pub kind: Option<String>,
    pub model: Model,
    /// Region names, or `*` for every offered region.
    #[serde(default)]
    pub regions: Vec<String>,
    /// The entry as the file has it: Azure's `Model`, what the models lists answer.
    #[serde(skip)]
    pub raw: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    pub format: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub is_default_version: bool,
    #[serde(default)]
    pub skus: Vec<ModelSku>,
    #[serde(default)]
    pub capabilities: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSku {
    pub name: String,
    #[serde(default)]
    pub usage_name: Option<String>,
    #[serde(default)]
    pub capacity: Capacity,
    #[serde(default)]
    pub rate_limits: Vec<Value>,
    /// Where this sku is offered when narrower than its model (Standard is regional,
    /// GlobalStandard everywhere); empty: wherever the model is.
    #[serde(default)]
    pub regions: Vec<String>,
}

impl ModelSku {
    pub fn offered_in(&self, location: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| r == "*" || same(r, location))
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Capacity {
    #[serde(default)]
    pub minimum: Option<i64>,
    #[serde(default)]
    pub maximum: Option<i64>,
    #[serde(default)]
    pub step: Option<i64>,
    #[serde(default)]
    pub default: Option<i64>,
}

/// The catalog Kiln offers.
#[derive(Debug, Clone)]
pub struct Catalog {
    entries: Vec<Entry>,
}

impl Default for Catalog {
    fn default() -> Self {
        Self::parse(DEFAULT, "api-spec/azure/model-catalog.json")
            .unwrap_or(Self { entries: vec![] })
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl Catalog {
    /// The catalog of `path`, or the default when `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, CatalogError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    fn parse(text: &str, path: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile =
            serde_json::from_str(text).map_err(|source| CatalogError::Parse {
                path: path.to_owned(),
                source,
            })?;
        let parse_error = |source| CatalogError::Parse {
            path: path.to_owned(),
            source,
        };
        let entries = file
            .models
            .into_iter()
            .map(|value| {
                let mut entry: Entry =
                    serde_json::from_value(value.clone()).map_err(parse_error)?;
                entry.raw = match value {
                    Value::Object(map) => map,
                    _ => serde_json::Map::new(),
                };
                Ok(entry)
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        Ok(Self { entries })
    }

    /// The models an account of `kind` in `location` can deploy.
    pub fn offered<'a>(
        &'a self,
        kind: Option<&'a str>,
        location: &'a str,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| {
            let kind_ok = match (kind, e.kind.as_deref()) {
                // An AIServices account deploys what OpenAI accounts do, and more.
                (Some(k), Some(ek)) => same(k, ek) || (same(k, "AIServices") && same(ek, "OpenAI")),
                _ => true,
            };
            let region_ok = e.regions.iter().any(|r| r == "*" || same(r, location));
            kind_ok && region_ok
        })
    }

    /// The entry of a model at `version`, or at its default version when none is given.
    pub fn find<'a>(
        &'a self,
        kind: Option<&'a str>,
        location: &'a str,
        format: &str,
        name: &str,
        version: Option<&str>,
    ) -> Option<&'a Entry> {
        let mut matching = self
            .offered(kind, location)
            .filter(|e| same(&e.model.format, format) && same(&e.model.name, name));
        match version {
            Some(v) => matching.find(|e| same(&e.model.version, v)),
            None => {
                let all: Vec<&Entry> = matching.collect();
                all.iter()
                    .find(|e| e.model.is_default_version)
                    .or_else(|| all.last())
                    .copied()
            }
        }
    }

    /// The quota names of the catalog, each once.
    pub fn usage_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .entries
            .iter()
            .flat_map(|e| e.model.skus.iter().filter_map(|s| s.usage_name.as_deref()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

impl Entry {
    /// The sku `name` of the model, if it is offered in `location`.
    pub fn sku(&self, name: &str, location: &str) -> Option<&ModelSku> {
        self.model
            .skus
            .iter()
            .find(|s| same(&s.name, name) && s.offered_in(location))
    }

    /// The entry as Azure's lists show it in `location`: the skus offered there, without the
    /// catalog's own `regions`.
    pub fn shown_in(&self, location: &str) -> Value {
        let mut raw = self.raw.clone();
        raw.remove("regions");
        if let Some(skus) = raw
            .get_mut("model")
            .and_then(|m| m.get_mut("skus"))
            .and_then(Value::as_array_mut)
        {
            skus.retain(|sku| {
                sku["regions"].as_array().is_none_or(|regions| {
                    regions
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|r| r == "*" || same(r, location))
                })
            });
            for sku in skus.iter_mut() {
                if let Some(map) = sku.as_object_mut() {
                    map.remove("regions");
                }
            }
        }
        Value::Object(raw)
    }
}

const QUOTA_DEFAULTS: &str = include_str!("../../api-spec/azure/quota-defaults.json");

#[derive(Debug, Clone, Deserialize)]
struct QuotaFile {
    defaults: Vec<QuotaDefault>,
}

/// A quota name's default limit in every subscription and region.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaDefault {
    /// `OpenAI.Standard.gpt-4o`.
    pub name: String,
    /// `Tokens Per Minute (thousands) - GPT-4o`.
    pub localized_name: String,
    #[serde(default = "count")]
    pub unit: String,
    pub limit: i64,
}

fn count() -> String {
    "Count".into()
}

/// The default limits (`api-spec/azure/quota-defaults.json`); an administrator overrides
/// them per subscription and region.
#[derive(Debug, Clone)]
pub struct QuotaDefaults {
    defaults: Vec<QuotaDefault>,
}

impl Default for QuotaDefaults {
    fn default() -> Self {
        let file: Option<QuotaFile> = serde_json::from_str(QUOTA_DEFAULTS).ok();
        Self {
            defaults: file.map(|f| f.defaults).unwrap_or_default(),
        }
    }
}

impl QuotaDefaults {
    pub fn get(&self, name: &str) -> Option<&QuotaDefault> {
        self.defaults.iter().find(|d| same(&d.name, name))
    }

    pub fn all(&self) -> &[QuotaDefault] {
        &self.defaults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped files parse, and every quota name the catalog uses has a default limit.
    #[test]
    fn the_shipped_catalog_and_quota_defaults_agree() {
        let catalog = Catalog::parse(DEFAULT, "default").unwrap();
        assert!(!catalog.entries.is_empty());
        let file: QuotaFile = serde_json::from_str(QUOTA_DEFAULTS).unwrap();
        let defaults = QuotaDefaults {
            defaults: file.defaults,
        };
        for name in catalog.usage_names() {
            assert!(defaults.get(name).is_some(), "no default quota for {name}");
        }
    }
}
