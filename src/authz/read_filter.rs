//! Which scopes a resource inherits access from, defined once ([`LINKS`]) and used twice: in
//! memory for the ancestor walk of a decision ([`walk`]), and as SQL for the rows of a list
//! the caller may read when it cannot read the list's scope ([`readable_rows`]).

use sea_orm::Condition;

use super::{Readable, Target};
use crate::arm::id::ResourceId;
use crate::store::{assignments, resource};

/// A way a resource inherits what is granted at another scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// An assignment at the resource itself.
    Itself,
    /// At what it depends on (a project's hub). Not followed further: the hub's own
    /// ancestors do not reach the project.
    DependsOn,
    /// At its parent resource, and so at everything the parent inherits from.
    Parent,
    /// At its resource group.
    Group,
}

/// Every link, in the order a decision looks at them (the nearest grant first).
pub const LINKS: [Link; 4] = [Link::Itself, Link::DependsOn, Link::Parent, Link::Group];

impl Link {
    /// The column of `resources` that holds the scope key this link reaches.
    pub fn column(self) -> resource::Column {
        match self {
            Link::Itself => resource::Column::IdKey,
            Link::DependsOn => resource::Column::DependsOnKey,
            Link::Parent => resource::Column::ParentKey,
            Link::Group => resource::Column::GroupKey,
        }
    }

    /// Rows whose scope along this link holds one of `roles` for one of `subjects` without a
    /// condition.
    pub fn granted(self, subjects: &[String], roles: &[String]) -> Condition {
        use sea_orm::ColumnTrait;
        Condition::all().add(
            self.column()
                .in_subquery(assignments::granted_scopes(subjects, roles)),
        )
    }
}

/// The parent of a resource when it is a resource too (not its group or subscription).
pub fn parent_resource(id: &ResourceId) -> Option<ResourceId> {
    id.parent().filter(|p| p.provider.is_some())
}

/// The keys of the target's resource and its parent resources, nearest first: those whose
/// [`Link::DependsOn`] a walk needs to know.
pub fn resource_levels(target: &Target<'_>) -> Vec<String> {
    let Target::Resource(id) = target else {
        return Vec::new();
    };
    let first = Some((*id).clone()).filter(|r| r.provider.is_some());
    std::iter::successors(first, parent_resource)
        .map(|r| r.key())
        .collect()
}

/// The scope keys an assignment may sit at to reach `target`, nearest first, each once: what
/// the target inherits from along [`LINKS`], then its subscription and the tenant root.
/// `depends_on` answers, for the keys [`resource_levels`] gave, what they depend on.
pub fn walk(target: &Target<'_>, depends_on: &impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut walk = Vec::with_capacity(6);
    if let Target::Resource(id) = target {
        inherit(id, depends_on, &mut walk);
        push_new(&mut walk, id.subscription_key());
    }
    walk.push("/".into());
    walk
}

fn push_new(walk: &mut Vec<String>, key: String) {
    if !walk.contains(&key) {
        walk.push(key);
    }
}

/// Appends what `id` inherits from along [`LINKS`], following [`Link::Parent`] up.
fn inherit(id: &ResourceId, depends_on: &impl Fn(&str) -> Option<String>, walk: &mut Vec<String>) {
    let push = push_new;
    for link in LINKS {
        match link {
            Link::Itself => push(walk, id.key()),
            Link::DependsOn => {
                if let Some(hub) = depends_on(&id.key()) {
                    push(walk, hub);
                }
            }
            Link::Parent => {
                if let Some(parent) = parent_resource(id) {
                    inherit(&parent, depends_on, walk);
                }
            }
            Link::Group => {
                if let Some(group) = id.group_id() {
                    push(walk, group.key());
                }
            }
        }
    }
}

/// The rows of `resources` a caller may read when it cannot read the list's scope, as a
/// query condition: one of the row's [`LINKS`] reaches a granting assignment. `None` when
/// everything is readable.
pub fn readable_rows(readable: &Readable) -> Option<Condition> {
    let Readable::Assigned { subjects, roles } = readable else {
        return None;
    };
    Some(LINKS.iter().fold(Condition::any(), |any, link| {
        any.add(link.granted(subjects, roles))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_follows_the_links_from_the_nearest_scope_up() {
        let ns = "Microsoft.MachineLearningServices";
        let child =
            ResourceId::resource("s", "g", ns, &[("workspaces", "p"), ("connections", "c")]);
        let levels = resource_levels(&Target::Resource(&child));
        let (project, connection) = (levels[1].clone(), levels[0].clone());
        assert!(connection.ends_with("/connections/c") && project.ends_with("/workspaces/p"));
        let hub = "/subscriptions/s/resourcegroups/other/providers/x/workspaces/hub".to_owned();
        let walk = walk(&Target::Resource(&child), &|key| {
            (key == project).then(|| hub.clone())
        });
        let group = "/subscriptions/s/resourcegroups/g".to_owned();
        assert_eq!(
            walk,
            [
                connection,
                project,
                hub,
                group.clone(),
                "/subscriptions/s".into(),
                "/".into()
            ]
        );
        let group_id = ResourceId::resource_group("s", "g");
        assert_eq!(
            super::walk(&Target::Resource(&group_id), &|_| None),
            [group, "/subscriptions/s".into(), "/".into()]
        );
        assert_eq!(
            super::walk(&Target::Resource(&ResourceId::subscription("s")), &|_| None),
            ["/subscriptions/s", "/"]
        );
        assert_eq!(super::walk(&Target::Root, &|_| None), ["/"]);
    }

    #[test]
    fn a_list_filter_checks_every_link() {
        let readable = Readable::Assigned {
            subjects: vec!["p".into()],
            roles: vec!["r".into()],
        };
        let Some(condition) = readable_rows(&readable) else {
            panic!("assigned rows are filtered");
        };
        use sea_orm::{EntityTrait, QueryFilter, QueryTrait};
        let sql = resource::Entity::find()
            .filter(condition)
            .build(sea_orm::DbBackend::Sqlite)
            .to_string();
        for column in ["id_key", "depends_on_key", "parent_key", "group_key"] {
            assert!(sql.contains(&format!("\"{column}\" IN (SELECT")), "{sql}");
        }
        assert_eq!(readable_rows(&Readable::All), None);
    }
}
