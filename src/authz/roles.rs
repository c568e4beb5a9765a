//! Role definitions: the built-in roles shipped in `policies/builtin-roles.json`, custom roles
//! from the API, their translation into casbin `p` rules, and the one rule for whether a role
//! grants an action ([`patterns_grant`]), which casbin's matcher calls too.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::condition::action_matches;

/// One permission block of a role. Effective control-plane rights are `actions` minus
/// `notActions`; data rights are `dataActions` minus `notDataActions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
    /// A built-in role's ABAC condition on what the block grants (Foundry Account Owner may
    /// assign only some roles); custom roles carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_version: Option<String>,
}

/// `properties` of a role definition as served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionProperties {
    pub role_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `BuiltInRole` or `CustomRole`.
    #[serde(rename = "type", default)]
    pub role_type: String,
    #[serde(default)]
    pub permissions: Vec<Permission>,
    #[serde(default)]
    pub assignable_scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

pub const BUILT_IN: &str = "BuiltInRole";
pub const CUSTOM: &str = "CustomRole";

/// A role definition: its GUID (lower-cased), the scope it was created at (`/` for
/// built-ins) and its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    pub name: String,
    pub scope: String,
    pub properties: RoleDefinitionProperties,
}

/// Whether a rule pattern is a control-plane or a data-plane action. The prefix in the casbin
/// rule keeps a control-plane `*` from matching a data action.
pub fn control_action(action: &str) -> String {
    format!("a:{action}")
}

pub fn data_action(action: &str) -> String {
    format!("d:{action}")
}

/// [`control_action`] or [`data_action`].
type Plane = fn(&str) -> String;

/// Whether a role's patterns grant an action: one allow pattern matches it and no deny pattern
/// does. A deny subtracts only within the role, as Azure's `NotActions` do: another role that
/// grants the action still wins. Actions and patterns are `a:`/`d:` prefixed alike.
pub fn patterns_grant<'a>(
    action: &str,
    allow: impl IntoIterator<Item = &'a str>,
    deny: impl IntoIterator<Item = &'a str>,
) -> bool {
    !deny.into_iter().any(|d| action_matches(d, action))
        && allow.into_iter().any(|a| action_matches(a, action))
}

/// A role's patterns of both planes, prefixed: what [`patterns_grant`] decides over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolePatterns {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

impl RolePatterns {
    pub fn grant(&self, action: &str) -> bool {
        patterns_grant(
            action,
            self.allow.iter().map(String::as_str),
            self.deny.iter().map(String::as_str),
        )
    }
}

impl RoleDefinition {
    pub fn is_built_in(&self) -> bool {
        self.properties.role_type == BUILT_IN
    }

    /// The patterns of every permission block, prefixed by plane.
    pub fn patterns(&self) -> RolePatterns {
        let mut patterns = RolePatterns::default();
        for p in &self.properties.permissions {
            let lists: [(&[String], Plane, bool); 4] = [
                (&p.actions, control_action, true),
                (&p.not_actions, control_action, false),
                (&p.data_actions, data_action, true),
                (&p.not_data_actions, data_action, false),
            ];
            for (list, plane, allow) in lists {
                let into = if allow {
                    &mut patterns.allow
                } else {
                    &mut patterns.deny
                };
                into.extend(list.iter().map(|a| plane(a)));
            }
        }
        patterns
    }

    /// The casbin `p` rule of this role: `[role, allow patterns, deny patterns]`, each a JSON
    /// array, which the model's matcher hands to [`patterns_grant`] (see `policies/model.conf`).
    pub fn policy_rule(&self) -> Vec<String> {
        let patterns = self.patterns();
        let json = |list: &[String]| serde_json::to_string(list).unwrap_or_default();
        vec![
            self.name.clone(),
            json(&patterns.allow),
            json(&patterns.deny),
        ]
    }

    /// Whether this role grants a control-plane (or, with `data`, a data) action: the rule
    /// casbin applies, straight from the definition.
    pub fn grants(&self, action: &str, data: bool) -> bool {
        let action = if data {
            data_action(action)
        } else {
            control_action(action)
        };
        self.patterns().grant(&action)
    }
}

#[derive(Deserialize)]
struct BuiltInRow {
    name: String,
    properties: RoleDefinitionProperties,
}

static BUILT_INS: LazyLock<Vec<RoleDefinition>> = LazyLock::new(|| {
    #[expect(
        clippy::expect_used,
        reason = "the file is part of the source tree and a unit test parses it"
    )]
    let rows: Vec<BuiltInRow> =
        serde_json::from_str(include_str!("../../policies/builtin-roles.json"))
            .expect("policies/builtin-roles.json is valid");
    rows.into_iter()
        .map(|row| RoleDefinition {
            name: row.name.to_lowercase(),
            scope: "/".into(),
            properties: RoleDefinitionProperties {
                role_type: BUILT_IN.into(),
                ..row.properties
            },
        })
        .collect()
});

/// The built-in roles, as shipped.
pub fn built_in() -> &'static [RoleDefinition] {
    &BUILT_INS
}

pub fn built_in_named(role_name: &str) -> Option<&'static RoleDefinition> {
    BUILT_INS
        .iter()
        .find(|r| r.properties.role_name.eq_ignore_ascii_case(role_name))
}

pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub const STORAGE_BLOB_DATA_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_load_with_unique_guids_and_names() {
        let roles = built_in();
        assert!(roles.len() >= 9, "{} roles", roles.len());
        for (i, a) in roles.iter().enumerate() {
            assert!(uuid::Uuid::parse_str(&a.name).is_ok(), "{}", a.name);
            for b in &roles[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.properties.role_name, b.properties.role_name);
            }
        }
        assert_eq!(
            built_in_named("Owner").map(|r| r.name.as_str()),
            Some(OWNER)
        );
    }

    /// Whether the built-in role `role_name` grants each control-plane action of `actions`.
    fn grants_each(role_name: &str, actions: &[&str]) -> Vec<bool> {
        let role = built_in_named(role_name).unwrap();
        actions.iter().map(|a| role.grants(a, false)).collect()
    }

    const WORKSPACES: &str = "Microsoft.MachineLearningServices/workspaces";

    #[test]
    fn reader_reads_and_never_writes() {
        let actions = ["read", "write", "delete", "connections/listsecrets/action"]
            .map(|a| format!("{WORKSPACES}/{a}"));
        assert_eq!(
            grants_each("Reader", &actions.each_ref().map(String::as_str)),
            [true, false, false, false]
        );
    }

    #[test]
    fn contributor_cannot_assign_roles_and_no_control_role_reads_data() {
        let write_assignment = "Microsoft.Authorization/roleAssignments/write";
        let contributor = [
            &format!("{WORKSPACES}/write"),
            write_assignment,
            "Microsoft.Authorization/roleAssignments/delete",
        ];
        assert_eq!(
            grants_each("Contributor", &contributor),
            [true, false, false]
        );
        assert_eq!(grants_each("Owner", &[write_assignment]), [true]);
        let owner = built_in_named("Owner").unwrap();
        assert!(!owner.grants(
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            true
        ));
    }
}
