//! What each namespace Kiln serves offers: its resource types (registered types from the
//! registry, platform endpoints from [`PLATFORM`]) with their api-versions and locations, and
//! every action Kiln authorizes in it. Provider metadata, `…/operations` and
//! Microsoft.Authorization's `providerOperations` are all views of this one catalogue.

use serde::Serialize;

use crate::arm::api_versions;
use crate::arm::registry::Registry;
use crate::resources::authorization::{assignments, check_access, definitions};
use crate::resources::{activity_log, cognitive, resource_lists, subscriptions, tags, workspaces};

/// A type the platform serves with routes of its own, not a registered type.
pub struct PlatformType {
    pub namespace: &'static str,
    /// `subscriptions/resourceGroups/resources`.
    pub type_path: &'static str,
    /// The key of its api-versions in the published table.
    pub versions_of: &'static str,
    /// The actions Kiln authorizes on it, with what each does.
    pub actions: &'static [(&'static str, &'static str)],
}

const RESOURCES: &str = "Microsoft.Resources/resources";
const SUBSCRIPTIONS: &str = "Microsoft.Resources/subscriptions";

/// The platform's own endpoints, as their providers list them.
pub static PLATFORM: &[PlatformType] = &[
    PlatformType {
        namespace: "Microsoft.Resources",
        type_path: "subscriptions",
        versions_of: SUBSCRIPTIONS,
        actions: &[(subscriptions::READ, "Gets the list of subscriptions.")],
    },
    PlatformType {
        namespace: "Microsoft.Resources",
        type_path: "tenants",
        versions_of: "Microsoft.Resources/tenants",
        actions: &[],
    },
    PlatformType {
        namespace: "Microsoft.Resources",
        type_path: "locations",
        versions_of: "Microsoft.Resources/locations",
        actions: &[],
    },
    PlatformType {
        namespace: "Microsoft.Resources",
        type_path: "subscriptions/locations",
        versions_of: "Microsoft.Resources/locations",
        actions: &[],
    },
    PlatformType {
        namespace: "Microsoft.Resources",
        type_path: "providers",
        versions_of: "Microsoft.Resources/providers",
        actions: &[],
    },
    PlatformType {
        namespace: "Microsoft.Resources",
        type_path: "operations",
        versions_of: "Microsoft.Resources/operations",
        actions: &[],
    },
    PlatformType {
        namespace: "Microsoft.Resources",
        type_path: "resources",
        versions_of: RESOURCES,
        actions: &[],
    },
    PlatformType {
        namespace: "Microsoft.Resources",
        type_path: "subscriptions/resources",
        versions_of: RESOURCES,
        actions: &[(
            resource_lists::SUBSCRIPTION_READ,
            "Gets the resources of a subscription.",
        )],
    },
    PlatformType {
        namespace: "Microsoft.Resources",
        type_path: "subscriptions/resourceGroups/resources",
        versions_of: RESOURCES,
        actions: &[(
            resource_lists::GROUP_READ,
            "Gets the resources of a resource group.",
        )],
    },
    PlatformType {
        namespace: "Microsoft.Resources",
        type_path: "tags",
        versions_of: "Microsoft.Resources/tags",
        actions: &[
            (tags::READ, "Gets the tags of a resource."),
            (tags::WRITE, "Creates or updates the tags of a resource."),
            (tags::DELETE, "Deletes the tags of a resource."),
        ],
    },
    PlatformType {
        namespace: "Microsoft.Authorization",
        type_path: "roleAssignments",
        versions_of: crate::authz::assignments::TYPE,
        actions: &[
            (assignments::READ, "Gets role assignments."),
            (assignments::WRITE, "Creates a role assignment at a scope."),
            (assignments::DELETE, "Deletes a role assignment at a scope."),
        ],
    },
    PlatformType {
        namespace: "Microsoft.Authorization",
        type_path: "roleDefinitions",
        versions_of: crate::authz::definitions::TYPE,
        actions: &[
            (definitions::READ, "Gets role definitions."),
            (
                definitions::WRITE,
                "Creates or updates a custom role definition.",
            ),
            (definitions::DELETE, "Deletes a custom role definition."),
        ],
    },
    PlatformType {
        namespace: "Microsoft.Authorization",
        type_path: "providerOperations",
        versions_of: "Microsoft.Authorization/providerOperations",
        actions: &[],
    },
    PlatformType {
        namespace: "Microsoft.Authorization",
        type_path: "checkAccess",
        versions_of: check_access::CHECK_ACCESS_TYPE,
        actions: &[(
            check_access::CHECK_ACCESS_ACTION,
            "Checks whether a principal may perform actions.",
        )],
    },
    PlatformType {
        namespace: cognitive::NAMESPACE,
        type_path: "locations/resourceGroups/deletedAccounts",
        versions_of: cognitive::deleted::TYPE,
        actions: &[
            (cognitive::deleted::READ, "Gets soft-deleted accounts."),
            (cognitive::deleted::PURGE, "Purges a soft-deleted account."),
        ],
    },
    PlatformType {
        namespace: cognitive::NAMESPACE,
        type_path: "deletedAccounts",
        versions_of: cognitive::deleted::TYPE,
        actions: &[],
    },
    PlatformType {
        namespace: cognitive::NAMESPACE,
        type_path: "checkDomainAvailability",
        versions_of: cognitive::platform::TYPE,
        actions: &[(
            cognitive::platform::CHECK_DOMAIN,
            "Checks whether a custom subdomain is available.",
        )],
    },
    PlatformType {
        namespace: cognitive::NAMESPACE,
        type_path: "skus",
        versions_of: cognitive::platform::TYPE,
        actions: &[(cognitive::platform::READ_SKUS, "Gets the skus of accounts.")],
    },
    PlatformType {
        namespace: cognitive::NAMESPACE,
        type_path: "locations/models",
        versions_of: cognitive::platform::TYPE,
        actions: &[(
            cognitive::models::READ_LOCATION_MODELS,
            "Lists the models of a region's catalog.",
        )],
    },
    PlatformType {
        namespace: cognitive::NAMESPACE,
        type_path: "locations/usages",
        versions_of: cognitive::platform::TYPE,
        actions: &[(
            cognitive::models::READ_LOCATION_USAGES,
            "Lists the quota usages of a subscription in a region.",
        )],
    },
    PlatformType {
        namespace: cognitive::NAMESPACE,
        type_path: "accounts/models",
        versions_of: cognitive::platform::TYPE,
        actions: &[(
            cognitive::models::READ_ACCOUNT_MODELS,
            "Lists the models an account can deploy.",
        )],
    },
    PlatformType {
        namespace: cognitive::NAMESPACE,
        type_path: "accounts/usages",
        versions_of: cognitive::platform::TYPE,
        actions: &[(
            cognitive::models::READ_ACCOUNT_USAGES,
            "Lists the quota usages of an account.",
        )],
    },
    PlatformType {
        namespace: "Microsoft.Insights",
        type_path: "eventtypes",
        versions_of: activity_log::EVENTS_TYPE,
        actions: &[(
            activity_log::READ,
            "Reads the activity log of a subscription.",
        )],
    },
];

/// Actions on registered types beyond their verbs and POST actions.
const LINK_ACTIONS: &[(&str, &str, &str)] = &[(
    "Microsoft.MachineLearningServices",
    "workspaces",
    workspaces::HUB_JOIN,
)];

/// One action, as `…/operations` lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub name: String,
    pub is_data_action: bool,
    pub display: Display,
    pub origin: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Display {
    pub provider: String,
    pub resource: String,
    pub operation: String,
    pub description: String,
}

/// One resource type of a namespace.
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// `workspaces/connections`.
    pub type_path: String,
    /// Newest first, as providers list them.
    pub api_versions: Vec<String>,
    /// Tracked types live in a region; the others are global.
    pub tracked: bool,
    pub tagged: bool,
    pub operations: Vec<Operation>,
}

fn operation(namespace: &str, type_path: &str, action: &str, description: &str) -> Operation {
    let verb = action.rsplit('/').next().unwrap_or_default();
    let resource = type_path.rsplit('/').next().unwrap_or(type_path);
    let what = match verb {
        "read" => format!("Read {resource}"),
        "write" => format!("Create or update {resource}"),
        "delete" => format!("Delete {resource}"),
        _ => description.trim_end_matches('.').to_owned(),
    };
    Operation {
        name: action.to_owned(),
        is_data_action: false,
        display: Display {
            provider: namespace.to_owned(),
            resource: resource.to_owned(),
            operation: what,
            description: description.to_owned(),
        },
        origin: "user,system",
    }
}

fn newest_first(key: &str) -> Vec<String> {
    api_versions::published(key).iter().rev().cloned().collect()
}

/// The namespaces Kiln serves: every registered type's and the platform's, sorted.
pub fn namespaces(registry: &Registry) -> Vec<&'static str> {
    let mut out = registry.namespaces();
    out.extend(PLATFORM.iter().map(|p| p.namespace));
    out.sort_unstable_by_key(|ns| ns.to_lowercase());
    out.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    out
}

/// The served namespace `namespace` names, ignoring case.
pub fn served(registry: &Registry, namespace: &str) -> Option<&'static str> {
    namespaces(registry)
        .into_iter()
        .find(|ns| ns.eq_ignore_ascii_case(namespace))
}

/// The resource types of `namespace`, sorted by type path.
pub fn resource_types(registry: &Registry, namespace: &str) -> Vec<ResourceType> {
    let mut out: Vec<ResourceType> = registry
        .descriptors()
        .filter(|d| d.namespace.eq_ignore_ascii_case(namespace))
        .map(|d| {
            let type_path = d.type_path.join("/");
            let mut operations = vec![operation(
                d.namespace,
                &type_path,
                &d.action("read"),
                &format!("Gets {type_path}."),
            )];
            if d.verbs.put.is_some() || d.verbs.patch.is_some() {
                let description = format!("Creates or updates {type_path}.");
                operations.push(operation(
                    d.namespace,
                    &type_path,
                    &d.action("write"),
                    &description,
                ));
            }
            if d.verbs.delete.is_some() {
                let description = format!("Deletes {type_path}.");
                operations.push(operation(
                    d.namespace,
                    &type_path,
                    &d.action("delete"),
                    &description,
                ));
            }
            for decl in d.actions {
                operations.push(operation(
                    d.namespace,
                    &type_path,
                    &d.action(decl.rbac),
                    decl.summary,
                ));
            }
            for (_, _, action) in LINK_ACTIONS
                .iter()
                .filter(|(ns, ty, _)| d.namespace == *ns && type_path == *ty)
            {
                let description = "Links a project to this hub.";
                operations.push(operation(d.namespace, &type_path, action, description));
            }
            ResourceType {
                api_versions: d
                    .api_versions()
                    .iter()
                    .rev()
                    .map(|v| (*v).to_owned())
                    .collect(),
                tracked: d.tracked,
                tagged: d.tagged(),
                operations,
                type_path,
            }
        })
        .collect();
    out.extend(
        PLATFORM
            .iter()
            .filter(|p| p.namespace.eq_ignore_ascii_case(namespace))
            .map(|p| ResourceType {
                type_path: p.type_path.to_owned(),
                api_versions: newest_first(p.versions_of),
                tracked: false,
                tagged: false,
                operations: p
                    .actions
                    .iter()
                    .map(|(action, description)| {
                        operation(p.namespace, p.type_path, action, description)
                    })
                    .collect(),
            }),
    );
    out.sort_by_key(|t| t.type_path.to_lowercase());
    out
}

/// The actions of the namespace itself, not of one of its types.
pub fn namespace_operations(namespace: &str) -> Vec<Operation> {
    [
        (
            "register/action",
            "Registers the subscription for the resource provider.",
        ),
        (
            "unregister/action",
            "Unregisters the subscription for the resource provider.",
        ),
    ]
    .iter()
    .map(|(verb, description)| {
        operation(
            namespace,
            namespace,
            &format!("{namespace}/{verb}"),
            description,
        )
    })
    .collect()
}

/// The api-versions of `GET /providers/{namespace}/operations`: every version the namespace
/// publishes for any of its types, newest first.
pub fn operations_versions(registry: &Registry, namespace: &str) -> Vec<String> {
    let mut versions: Vec<String> = resource_types(registry, namespace)
        .into_iter()
        .flat_map(|t| t.api_versions)
        .collect();
    versions.sort_by(|a, b| api_versions::order(b).cmp(&api_versions::order(a)));
    versions.dedup();
    versions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_kiln_authorizes_is_listed() {
        let registry = crate::resources::registry();
        let names: Vec<String> = namespaces(&registry)
            .into_iter()
            .flat_map(|ns| {
                resource_types(&registry, ns)
                    .into_iter()
                    .flat_map(|t| t.operations)
                    .chain(namespace_operations(ns))
                    .map(|o| o.name)
            })
            .collect();
        for action in [
            "Microsoft.MachineLearningServices/workspaces/read",
            "Microsoft.MachineLearningServices/workspaces/write",
            "Microsoft.MachineLearningServices/workspaces/connections/listsecrets/action",
            workspaces::HUB_JOIN,
            "Microsoft.Resources/subscriptions/resourceGroups/delete",
            assignments::WRITE,
            "Microsoft.MachineLearningServices/register/action",
        ] {
            assert!(names.iter().any(|n| n == action), "{action} is not listed");
        }
    }

    #[test]
    fn every_listed_type_has_published_versions() {
        let registry = crate::resources::registry();
        for ns in namespaces(&registry) {
            for t in resource_types(&registry, ns) {
                assert!(
                    !t.api_versions.is_empty(),
                    "{ns}/{} has no api-versions",
                    t.type_path
                );
            }
            assert!(!operations_versions(&registry, ns).is_empty(), "{ns}");
        }
    }
}
