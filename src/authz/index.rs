//! The role assignments of a policy snapshot, indexed for the ancestor walk: casbin's `g`
//! (subject, role, scope) links behind casbin's `RoleManager` trait.
//!
//! casbin's `DefaultRoleManager` keeps one graph per domain and finds a subject by scanning
//! that graph's nodes, and copies its strings per domain; with scopes as domains that is slow
//! and large at a million assignments. This index interns every string once and answers "the
//! roles of this subject at exactly this scope" with two hash lookups.

use std::collections::HashMap;

use casbin::{MatchingFn, RoleManager};

/// Strings to dense ids, and back.
#[derive(Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }
}

#[derive(Default)]
pub struct AssignmentIndex {
    names: Interner,
    /// (scope, subject) → role tokens.
    links: HashMap<(u32, u32), Vec<u32>>,
    /// subject → (scope, role token), for "where may this caller read" (list filtering).
    by_subject: HashMap<u32, Vec<(u32, u32)>>,
    count: usize,
}

impl AssignmentIndex {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn add(&mut self, subject: &str, role: &str, scope: &str) {
        let (subject, role, scope) = (
            self.names.intern(subject),
            self.names.intern(role),
            self.names.intern(scope),
        );
        let roles = self.links.entry((scope, subject)).or_default();
        if roles.contains(&role) {
            return;
        }
        roles.push(role);
        self.by_subject
            .entry(subject)
            .or_default()
            .push((scope, role));
        self.count += 1;
    }

    pub fn remove(&mut self, subject: &str, role: &str, scope: &str) -> bool {
        let (Some(subject), Some(role), Some(scope)) = (
            self.names.get(subject),
            self.names.get(role),
            self.names.get(scope),
        ) else {
            return false;
        };
        let Some(roles) = self.links.get_mut(&(scope, subject)) else {
            return false;
        };
        let before = roles.len();
        roles.retain(|r| *r != role);
        if roles.len() == before {
            return false;
        }
        if roles.is_empty() {
            self.links.remove(&(scope, subject));
        }
        if let Some(entries) = self.by_subject.get_mut(&subject) {
            entries.retain(|e| *e != (scope, role));
        }
        self.count -= 1;
        true
    }

    /// Calls `found` with each role token the subject holds at exactly this scope, until it
    /// returns true. No allocation: this is the hot path.
    pub fn any_role_at(
        &self,
        subject: &str,
        scope: &str,
        mut found: impl FnMut(&str) -> bool,
    ) -> bool {
        let (Some(subject), Some(scope)) = (self.names.get(subject), self.names.get(scope)) else {
            return false;
        };
        self.links
            .get(&(scope, subject))
            .is_some_and(|roles| roles.iter().any(|r| found(self.names.name(*r))))
    }

    /// Every (scope, role token) the subject holds anywhere.
    pub fn assignments_of<'a>(
        &'a self,
        subject: &str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let entries = self
            .names
            .get(subject)
            .and_then(|s| self.by_subject.get(&s))
            .map(Vec::as_slice)
            .unwrap_or_default();
        entries
            .iter()
            .map(|(scope, role)| (self.names.name(*scope), self.names.name(*role)))
    }
}

/// casbin's view: `g(subject, role, scope)`. Matching functions are not used: scopes are
/// exact, and the walk over ancestors is explicit.
impl RoleManager for AssignmentIndex {
    fn clear(&mut self) {
        *self = Self::default();
    }

    fn add_link(&mut self, name1: &str, name2: &str, domain: Option<&str>) {
        self.add(name1, name2, domain.unwrap_or("/"));
    }

    fn matching_fn(&mut self, _role: Option<MatchingFn>, _domain: Option<MatchingFn>) {}

    fn delete_link(
        &mut self,
        name1: &str,
        name2: &str,
        domain: Option<&str>,
    ) -> casbin::Result<()> {
        self.remove(name1, name2, domain.unwrap_or("/"));
        Ok(())
    }

    fn has_link(&self, name1: &str, name2: &str, domain: Option<&str>) -> bool {
        name1 == name2 || self.any_role_at(name1, domain.unwrap_or("/"), |r| r == name2)
    }

    fn get_roles(&self, name: &str, domain: Option<&str>) -> Vec<String> {
        let mut roles = Vec::new();
        self.any_role_at(name, domain.unwrap_or("/"), |r| {
            roles.push(r.to_owned());
            false
        });
        roles
    }

    fn get_users(&self, name: &str, domain: Option<&str>) -> Vec<String> {
        let (Some(role), Some(scope)) =
            (self.names.get(name), self.names.get(domain.unwrap_or("/")))
        else {
            return Vec::new();
        };
        self.links
            .iter()
            .filter(|((s, _), roles)| *s == scope && roles.contains(&role))
            .map(|((_, subject), _)| self.names.name(*subject).to_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_exact_per_scope_and_removable() {
        let mut index = AssignmentIndex::default();
        index.add("p1", "reader", "/subscriptions/s");
        index.add("p1", "reader", "/subscriptions/s");
        index.add("p1", "owner", "/subscriptions/s/resourcegroups/rg");
        assert_eq!(index.len(), 2);
        assert!(index.has_link("p1", "reader", Some("/subscriptions/s")));
        assert!(!index.has_link("p1", "reader", Some("/subscriptions/s/resourcegroups/rg")));
        assert!(!index.has_link("p2", "reader", Some("/subscriptions/s")));
        assert_eq!(
            index.get_users("reader", Some("/subscriptions/s")),
            vec!["p1"]
        );
        assert_eq!(index.assignments_of("p1").count(), 2);
        assert!(index.remove("p1", "reader", "/subscriptions/s"));
        assert!(!index.remove("p1", "reader", "/subscriptions/s"));
        assert!(index.get_roles("p1", Some("/subscriptions/s")).is_empty());
        assert_eq!(index.assignments_of("p1").count(), 1);
        assert_eq!(index.len(), 1);
    }
}
