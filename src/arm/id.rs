//! ARM resource ids: parsed once, compared by a lower-cased key, displayed in the user's casing.

use std::collections::HashMap;

/// A resource id under a subscription:
/// `/subscriptions/{s}[/resourceGroups/{rg}[/providers/{ns}/{type}/{name}[/{child}/{name}]…]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceId {
    pub subscription: String,
    pub resource_group: Option<String>,
    pub provider: Option<ProviderPath>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPath {
    /// The namespace in its canonical casing (`Microsoft.MachineLearningServices`).
    pub namespace: String,
    /// (type segment in canonical casing, name in the user's casing), outermost first.
    pub segments: Vec<(String, String)>,
}

impl ResourceId {
    pub fn subscription(subscription: &str) -> Self {
        Self {
            subscription: subscription.to_owned(),
            resource_group: None,
            provider: None,
        }
    }

    pub fn resource_group(subscription: &str, group: &str) -> Self {
        Self {
            resource_group: Some(group.to_owned()),
            ..Self::subscription(subscription)
        }
    }

    pub fn resource(
        subscription: &str,
        group: &str,
        namespace: &str,
        segments: &[(&str, &str)],
    ) -> Self {
        Self {
            provider: Some(ProviderPath {
                namespace: namespace.to_owned(),
                segments: segments
                    .iter()
                    .map(|(t, n)| ((*t).to_owned(), (*n).to_owned()))
                    .collect(),
            }),
            ..Self::resource_group(subscription, group)
        }
    }

    /// The id as displayed: canonical fixed segments, names as the user wrote them.
    pub fn display(&self) -> String {
        let mut out = format!("/subscriptions/{}", self.subscription);
        if let Some(group) = &self.resource_group {
            out.push_str("/resourceGroups/");
            out.push_str(group);
        }
        if let Some(provider) = &self.provider {
            out.push_str("/providers/");
            out.push_str(&provider.namespace);
            for (ty, name) in &provider.segments {
                out.push('/');
                out.push_str(ty);
                out.push('/');
                out.push_str(name);
            }
        }
        out
    }

    /// The lookup key: the display form lower-cased.
    /// The provider namespace; `Microsoft.Resources` for subscriptions and resource groups.
    pub fn namespace(&self) -> &str {
        self.provider
            .as_ref()
            .map_or("Microsoft.Resources", |p| p.namespace.as_str())
    }

    pub fn key(&self) -> String {
        self.display().to_lowercase()
    }

    pub fn subscription_key(&self) -> String {
        format!("/subscriptions/{}", self.subscription.to_lowercase())
    }

    pub fn group_id(&self) -> Option<ResourceId> {
        self.resource_group
            .as_ref()
            .map(|g| Self::resource_group(&self.subscription, g))
    }

    /// `Microsoft.MachineLearningServices/workspaces/connections`, or the ARM types of
    /// subscriptions and resource groups.
    pub fn type_name(&self) -> String {
        match (&self.provider, &self.resource_group) {
            (Some(p), _) => {
                let mut out = p.namespace.clone();
                for (ty, _) in &p.segments {
                    out.push('/');
                    out.push_str(ty);
                }
                out
            }
            (None, Some(_)) => "Microsoft.Resources/resourceGroups".into(),
            (None, None) => "Microsoft.Resources/subscriptions".into(),
        }
    }

    pub fn type_key(&self) -> String {
        self.type_name().to_lowercase()
    }

    pub fn name(&self) -> &str {
        match (&self.provider, &self.resource_group) {
            (Some(p), _) => p
                .segments
                .last()
                .map(|(_, n)| n.as_str())
                .unwrap_or_default(),
            (None, Some(g)) => g,
            (None, None) => &self.subscription,
        }
    }

    /// The enclosing resource: a child's parent, a top-level resource's group, a group's
    /// subscription.
    pub fn parent(&self) -> Option<ResourceId> {
        match &self.provider {
            Some(p) if p.segments.len() > 1 => {
                let mut parent = self.clone();
                if let Some(pp) = parent.provider.as_mut() {
                    pp.segments.pop();
                }
                Some(parent)
            }
            Some(_) => self.group_id(),
            None if self.resource_group.is_some() => Some(Self::subscription(&self.subscription)),
            None => None,
        }
    }

    pub fn is_top_level(&self) -> bool {
        self.provider
            .as_ref()
            .is_some_and(|p| p.segments.len() == 1)
    }

    /// The namespace of this id when Kiln serves nothing in it: such ids are refused before
    /// anything is looked up for them.
    pub fn unserved_namespace(&self, vocabulary: &PathVocabulary) -> Option<&str> {
        self.provider
            .as_ref()
            .map(|p| p.namespace.as_str())
            .filter(|namespace| !vocabulary.contains(namespace))
    }

    /// Parses an id written by a client (for example `properties.hubResourceId`), canonicalizing
    /// the fixed segments it knows.
    pub fn parse(raw: &str, vocabulary: &PathVocabulary) -> Option<ResourceId> {
        if raw.len() > MAX_ID_LENGTH {
            return None;
        }
        let segments: Vec<&str> = raw.trim_end_matches('/').split('/').collect();
        let rest = segments.strip_prefix(&[""])?;
        let [subs, subscription, rest @ ..] = rest else {
            return None;
        };
        if !subs.eq_ignore_ascii_case("subscriptions") || subscription.is_empty() {
            return None;
        }
        let mut id = ResourceId::subscription(subscription);
        let rest = match rest {
            [] => return Some(id),
            [rg, group, rest @ ..]
                if rg.eq_ignore_ascii_case("resourceGroups") && !group.is_empty() =>
            {
                id.resource_group = Some((*group).to_owned());
                rest
            }
            _ => return None,
        };
        let rest = match rest {
            [] => return Some(id),
            [providers, namespace, rest @ ..] if providers.eq_ignore_ascii_case("providers") => {
                id.provider = Some(ProviderPath {
                    namespace: vocabulary.canonical(namespace),
                    segments: vec![],
                });
                rest
            }
            _ => return None,
        };
        if rest.is_empty() || rest.len() % 2 != 0 || rest.len() / 2 > MAX_TYPE_DEPTH {
            return None;
        }
        let provider = id.provider.as_mut()?;
        for pair in rest.chunks(2) {
            if pair[0].is_empty() || pair[1].is_empty() {
                return None;
            }
            provider
                .segments
                .push((vocabulary.canonical(pair[0]), pair[1].to_owned()));
        }
        Some(id)
    }
}

/// Longest resource id accepted, in bytes. Azure's deepest published ids are a few hundred
/// characters; the bound keeps every walk, key and lookup of an id cheap.
pub const MAX_ID_LENGTH: usize = 2048;
/// Most type segments under a namespace (`storageAccounts/blobServices/containers` is 3; the
/// deepest in Azure's published specs are 5 or 6).
pub const MAX_TYPE_DEPTH: usize = 12;

/// The fixed path segments Kiln serves (namespaces, type names, `resourceGroups`, …), by their
/// lower-cased form. ARM matches them case-insensitively: `az` sends `/resourcegroups/`.
#[derive(Debug, Clone, Default)]
pub struct PathVocabulary {
    canonical: HashMap<String, String>,
}

impl PathVocabulary {
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        let canonical = words
            .into_iter()
            .map(|w| (w.to_lowercase(), w.to_owned()))
            .collect();
        Self { canonical }
    }

    pub fn contains(&self, segment: &str) -> bool {
        self.canonical.contains_key(&segment.to_lowercase())
    }

    pub fn canonical(&self, segment: &str) -> String {
        self.canonical
            .get(&segment.to_lowercase())
            .cloned()
            .unwrap_or_else(|| segment.to_owned())
    }

    /// Rewrites the fixed segments of a request path to their canonical casing and drops a
    /// trailing slash, so routes can be declared once in canonical form. Names are untouched:
    /// a fixed segment is one in a fixed position (`subscriptions/{s}/resourceGroups/{g}`,
    /// `providers/{Namespace}/{type}/{name}/{type}/{name}…`). Returns `None` when nothing changes.
    pub fn canonicalize_path(&self, path: &str) -> Option<String> {
        // ARM collapses empty segments, anywhere: `az cloud register` with a trailing `/`
        // asks for `//metadata/endpoints`.
        let collapsed = path.contains("//").then(|| {
            let mut out = String::with_capacity(path.len());
            for c in path.chars() {
                if !(c == '/' && out.ends_with('/')) {
                    out.push(c);
                }
            }
            out
        });
        let path = collapsed.as_deref().unwrap_or(path);
        let first = path.split('/').nth(1).unwrap_or_default();
        if !first.eq_ignore_ascii_case("subscriptions") && !first.eq_ignore_ascii_case("providers")
        {
            return collapsed; // not an ARM path: /healthz, /docs/, …
        }
        let trimmed = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let mut out = String::with_capacity(path.len());
        let mut expect_fixed = true;
        let mut namespace_next = false;
        let mut changed = collapsed.is_some() || trimmed.len() != path.len();
        for segment in trimmed.split('/').skip(1) {
            out.push('/');
            if expect_fixed {
                let canonical = self.canonical.get(&segment.to_ascii_lowercase());
                match canonical {
                    Some(c) if c != segment => {
                        changed = true;
                        out.push_str(c);
                    }
                    _ => out.push_str(segment),
                }
                if segment.eq_ignore_ascii_case("providers") {
                    namespace_next = true;
                } else if namespace_next {
                    // The namespace is followed by a type segment, also fixed.
                    namespace_next = false;
                } else {
                    expect_fixed = false;
                }
            } else {
                out.push_str(segment);
                expect_fixed = true;
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        changed.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> PathVocabulary {
        PathVocabulary::new([
            "subscriptions",
            "resourceGroups",
            "providers",
            "Microsoft.MachineLearningServices",
            "workspaces",
            "connections",
        ])
    }

    #[test]
    fn canonicalizes_fixed_segments_only() {
        let v = vocabulary();
        let path = "/SUBSCRIPTIONS/Sub/resourcegroups/Providers/providers/microsoft.machinelearningservices/WORKSPACES/Workspaces/";
        assert_eq!(
            v.canonicalize_path(path).as_deref(),
            Some(
                "/subscriptions/Sub/resourceGroups/Providers/providers/Microsoft.MachineLearningServices/workspaces/Workspaces"
            )
        );
        assert_eq!(
            v.canonicalize_path("/subscriptions/x/resourceGroups/y"),
            None
        );
        assert_eq!(v.canonicalize_path("/"), None);
        assert_eq!(v.canonicalize_path("/docs/"), None);
    }

    #[test]
    fn collapses_empty_segments_as_arm_does() {
        let v = vocabulary();
        assert_eq!(
            v.canonicalize_path(
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices//workspaces/hub"
            )
            .as_deref(),
            Some("/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/hub")
        );
        // `az resource create` sends `…/providers/{namespace}//{type}/{name}` for a type
        // without a parent path; `az cloud register` with a trailing `/` asks for
        // `//metadata/endpoints`.
        assert_eq!(
            v.canonicalize_path("//subscriptions/s").as_deref(),
            Some("/subscriptions/s")
        );
        assert_eq!(
            v.canonicalize_path("//metadata/endpoints").as_deref(),
            Some("/metadata/endpoints")
        );
    }

    #[test]
    fn parses_and_displays_ids() {
        let v = vocabulary();
        let id = ResourceId::parse(
            "/subscriptions/S1/resourcegroups/RG/providers/microsoft.machinelearningservices/workspaces/Hub/connections/c1",
            &v,
        )
        .unwrap();
        assert_eq!(
            id.display(),
            "/subscriptions/S1/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/Hub/connections/c1"
        );
        assert_eq!(
            id.type_name(),
            "Microsoft.MachineLearningServices/workspaces/connections"
        );
        assert_eq!(id.name(), "c1");
        let parent = id.parent().unwrap();
        assert_eq!(parent.name(), "Hub");
        assert!(parent.is_top_level());
        assert_eq!(
            parent.parent().unwrap().type_name(),
            "Microsoft.Resources/resourceGroups"
        );
        assert!(
            ResourceId::parse(
                "/subscriptions/S1/resourceGroups/RG/providers/ns/workspaces",
                &v
            )
            .is_none()
        );
        assert!(ResourceId::parse("subscriptions/S1", &v).is_none());
        assert!(ResourceId::parse("/subscriptions/S1/foo/bar", &v).is_none());
    }
}
