//! The id tree as key ranges. Resource and scope keys are lower-cased ids, so everything below
//! `key` sorts between `key/` and `key0` (`0` follows `/`): a range the primary-key index
//! answers, where `LIKE 'key/%'` would read `_` in names as a wildcard.

use sea_orm::{ColumnTrait, Condition};

/// Keys strictly below `key`.
pub fn below<C: ColumnTrait>(column: C, key: &str) -> Condition {
    Condition::all()
        .add(column.gte(format!("{key}/")))
        .add(column.lt(format!("{key}0")))
}

/// `key` itself and every key below it.
pub fn at_or_below<C: ColumnTrait + Copy>(column: C, key: &str) -> Condition {
    Condition::any()
        .add(column.eq(key.to_owned()))
        .add(below(column, key))
}

/// Keys not strictly below `key` (`key` itself counts as not below).
pub fn not_below<C: ColumnTrait + Copy>(column: C, key: &str) -> Condition {
    Condition::any()
        .add(column.lte(format!("{key}/")))
        .add(column.gte(format!("{key}0")))
}
