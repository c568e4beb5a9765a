//! Keys of the id tree as ranges: a subtree is every key from `key/` up to (not including)
//! `key0`, because `0` is the character after `/`. A range and not `LIKE 'key/%'`: LIKE treats
//! the `_` in resource names as a wildcard, and a range uses the key's index.

use sea_orm::{ColumnTrait, Condition};

/// Keys strictly below `key` in the id tree (`key/` ≤ k < `key0`). Below the tenant root `/`
/// is every other key.
pub fn below<C: ColumnTrait>(column: C, key: &str) -> Condition {
    let base = key.trim_end_matches('/');
    let range = Condition::all()
        .add(column.gte(format!("{base}/")))
        .add(column.lt(format!("{base}0")));
    if base.is_empty() {
        // `/` ≤ k < `0` holds for the root key itself too.
        range.add(column.ne("/"))
    } else {
        range
    }
}

/// `key` itself and every key below it.
pub fn at_or_below<C: ColumnTrait + Copy>(column: C, key: &str) -> Condition {
    Condition::any().add(column.eq(key)).add(below(column, key))
}

/// Keys not strictly below `key` (`key` itself counts as not below).
pub fn not_below<C: ColumnTrait + Copy>(column: C, key: &str) -> Condition {
    Condition::any()
        .add(column.lte(format!("{key}/")))
        .add(column.gte(format!("{key}0")))
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, EntityTrait, QueryFilter, QueryTrait};

    use super::*;
    use crate::store::role_assignment::{Column, Entity};

    fn sql(condition: Condition) -> String {
        Entity::find()
            .filter(condition)
            .build(DbBackend::Sqlite)
            .to_string()
    }

    #[test]
    fn a_subtree_is_a_key_range() {
        let strictly = sql(below(Column::ScopeKey, "/subscriptions/s"));
        assert!(
            strictly.contains(r#""scope_key" >= '/subscriptions/s/' AND "role_assignments"."scope_key" < '/subscriptions/s0'"#),
            "{strictly}"
        );
        let with_key = sql(at_or_below(Column::ScopeKey, "/subscriptions/s"));
        assert!(
            with_key.contains(r#""scope_key" = '/subscriptions/s' OR"#),
            "{with_key}"
        );
        let root = sql(below(Column::ScopeKey, "/"));
        assert!(root.contains(r#"<> '/'"#), "{root}");
    }
}
