//! Comparison operators (`StringEquals`, `NumericLessThan`, `DateTimeGreaterThan`, …): their
//! names, the typed values they compare (literals and attribute values alike become a
//! [`Scalar`]) and what one left/right pair of values means.

use std::cmp::Ordering;

use super::ast::Budget;
use super::wildcard::{Glob, compile_like, like_matches};

/// The value type an operator works on: the first word of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    String,
    Numeric,
    Bool,
    Guid,
    DateTime,
}

/// What an operator checks, before negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    Equals,
    StartsWith,
    Like,
    Greater,
    GreaterEquals,
    Less,
    LessEquals,
}

/// A parsed operator name: `<Family>[Not]<Test>[IgnoreCase]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Operator {
    pub(super) family: Family,
    test: Test,
    pub(super) negated: bool,
    ignore_case: bool,
}

impl Operator {
    /// Operator names are `<Family>[Not]<Test>[IgnoreCase]`; parse that shape, then keep only
    /// the combinations Azure defines (e.g. no `NumericNotGreaterThan`, no `BoolLike`).
    pub(super) fn parse(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        let (rest, ignore_case) = match lower.strip_suffix("ignorecase") {
            Some(rest) => (rest, true),
            None => (lower.as_str(), false),
        };
        let families = [
            ("string", Family::String),
            ("numeric", Family::Numeric),
            ("bool", Family::Bool),
            ("guid", Family::Guid),
            ("datetime", Family::DateTime),
        ];
        let (family, rest) = families
            .into_iter()
            .find_map(|(p, f)| Some((f, rest.strip_prefix(p)?)))?;
        let (negated, rest) = rest
            .strip_prefix("not")
            .map_or((false, rest), |r| (true, r));
        let test = match rest {
            "equals" => Test::Equals,
            "startswith" => Test::StartsWith,
            "like" => Test::Like,
            "greaterthan" => Test::Greater,
            "greaterthanequals" => Test::GreaterEquals,
            "lessthan" => Test::Less,
            "lessthanequals" => Test::LessEquals,
            _ => return None,
        };
        let defined = match test {
            Test::Equals => true,
            Test::StartsWith | Test::Like => family == Family::String,
            _ => !negated && matches!(family, Family::Numeric | Family::DateTime),
        };
        // Case folding only means something for strings.
        let defined = defined && (!ignore_case || family == Family::String);
        defined.then_some(Operator {
            family,
            test,
            negated,
            ignore_case,
        })
    }

    /// Families that take sets and cross-product prefixes (Azure: strings, numbers, GUIDs).
    pub(super) fn multi_valued(self) -> bool {
        matches!(self.family, Family::String | Family::Numeric | Family::Guid)
    }

    pub(super) fn expects(self) -> &'static str {
        match self.family {
            Family::String => "a quoted string",
            Family::Numeric => "an integer",
            Family::Bool => "true or false",
            Family::Guid => "a GUID",
            Family::DateTime => "a quoted date-time yyyy-mm-ddThh:mm:ss[.fffffff]Z",
        }
    }

    /// A value as this operator compares it, or `None` when it is not of the operator's type.
    /// Right-hand `Like` values become patterns; folding and normalising happen here, once per
    /// literal, rather than on every comparison.
    pub(super) fn scalar(self, raw: &str, right: bool) -> Option<Scalar> {
        let folded = || {
            if self.ignore_case {
                raw.to_lowercase()
            } else {
                raw.to_owned()
            }
        };
        match self.family {
            Family::String if right && self.test == Test::Like => {
                Some(Scalar::Pattern(compile_like(&folded())))
            }
            Family::String => Some(Scalar::Text(folded())),
            Family::Numeric => raw.trim().parse().ok().map(Scalar::Int),
            Family::Bool => parse_bool(raw.trim()).map(Scalar::Bool),
            Family::Guid => Some(Scalar::Text(raw.trim().to_ascii_lowercase())),
            Family::DateTime => normalize_datetime(raw.trim()).map(Scalar::Text),
        }
    }

    /// The positive form of the test; callers apply `negated`.
    pub(super) fn holds(self, left: &Scalar, right: &Scalar, budget: &Budget) -> bool {
        use Scalar::{Int, Pattern, Text};
        // A comparison reads its text once; a pattern pays per step below.
        let text_cost = match left {
            Text(l) => l.len() as u64,
            _ => 1,
        };
        if !budget.spend(text_cost) {
            return false;
        }
        match (self.test, left, right) {
            (Test::Equals, l, r) => l == r,
            (Test::StartsWith, Text(l), Text(r)) => l.starts_with(r.as_str()),
            (Test::Like, Text(l), Pattern(p)) => like_matches(p, l, budget),
            // Date-times are normalised to fixed-width text, so text order is time order.
            (test, Int(l), Int(r)) => test.accepts(l.cmp(r)),
            (test, Text(l), Text(r)) => test.accepts(l.cmp(r)),
            _ => false,
        }
    }
}

impl Test {
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Test::Greater => ordering.is_gt(),
            Test::GreaterEquals => ordering.is_ge(),
            Test::Less => ordering.is_lt(),
            Test::LessEquals => ordering.is_le(),
            Test::Equals | Test::StartsWith | Test::Like => false,
        }
    }
}

/// A typed value. Case-insensitive strings and GUIDs are stored folded, date-times normalised.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar {
    Text(String),
    Int(i64),
    Bool(bool),
    Pattern(Vec<Glob>),
}

fn parse_bool(text: &str) -> Option<bool> {
    [("true", true), ("false", false)]
        .into_iter()
        .find_map(|(name, value)| text.eq_ignore_ascii_case(name).then_some(value))
}

pub(super) fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// `yyyy-mm-ddThh:mm:ss[.f{1,7}]Z` to `yyyy-mm-ddThh:mm:ss.fffffffZ`. The fixed width is what
/// makes plain string comparison agree with time order (`…:00Z` would otherwise sort after
/// `…:00.5Z`).
fn normalize_datetime(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let number = |at: usize, len: usize| -> Option<u32> {
        let digits = b.get(at..at + len)?;
        digits.iter().try_fold(0, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let (year, month, day) = (number(0, 4)?, number(5, 2)?, number(8, 2)?);
    let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !separators
        .iter()
        .all(|&(i, c)| b[i].eq_ignore_ascii_case(&c))
    {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=days).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Bytes 0..19 are ASCII by now, so slicing at 19 is on a character boundary.
    let (fraction, zone) = match text[19..].strip_prefix('.') {
        Some(rest) => rest.split_at(rest.bytes().take_while(u8::is_ascii_digit).count()),
        None => ("", &text[19..]),
    };
    let fraction_ok = (1..=7).contains(&fraction.len()) || !text[19..].starts_with('.');
    (fraction_ok && zone.eq_ignore_ascii_case("Z"))
        .then(|| format!("{}T{}.{fraction:0<7}Z", &text[..10], &text[11..19]))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{check, truth_table};

    #[test]
    fn string_operators() {
        truth_table(
            r"abc | StringEquals 'abc' | true
              ABC | StringEquals 'abc' | false
              ABC | StringEqualsIgnoreCase 'abc' | true
              äbc | stringequalsignorecase 'ÄBC' | true
              abc | StringNotEquals 'abc' | false
              abd | StringNotEquals 'abc' | true
              ABC | StringNotEqualsIgnoreCase 'abc' | false
              abc | StringStartsWith 'ab' | true
              abc | StringStartsWith 'AB' | false
              abc | StringStartsWithIgnoreCase 'AB' | true
              abc | StringNotStartsWith 'ab' | false
              abc | StringNotStartsWithIgnoreCase 'x' | true
              abcd | StringLike 'a*c?' | true
              abcd | StringLike 'A*C?' | false
              abcd | StringLikeIgnoreCase 'A*C?' | true
              abcd | StringLike 'a*c' | false
              é | StringLike '?' | true
              a* | StringLike 'a\*' | true
              ab | StringLike 'a\*' | false
              ab | StringLike 'a\?' | false
              a\b | StringLike 'a\b' | true
              x.log.txt | StringLike '*.log' | false
              aaaaab | StringLike '*a*a*b' | true
              abc | StringNotLike 'a*' | false
              bc | StringNotLike 'a*' | true
              abc | StringEquals {'x', 'abc'} | true
              abc | StringEquals {'x', 'y'} | false
              abc | StringNotEquals {'x', 'abc'} | false
              abc | StringNotEquals {'x', 'y'} | true",
        );
        assert!(check("StringLike '*'", &[""]));
        assert!(!check("StringLike '?'", &[""]));
    }

    #[test]
    fn numeric_bool_guid_datetime_operators() {
        truth_table(
            "10 | NumericEquals 10 | true
             10 | NumericNotEquals 10 | false
             11 | NumericGreaterThan 10 | true
             10 | NumericGreaterThan 10 | false
             10 | NumericGreaterThanEquals 10 | true
             -6 | NumericLessThan -5 | true
             100 | NumericLessThan 10 | false
             10 | NumericLessThanEquals 10 | true
             2 | NumericEquals {1, 2, 3} | true
             ten | NumericEquals 10 | false
             ten | NumericNotEquals 10 | true
             TRUE | BoolEquals true | true
             true | BoolEquals false | false
             true | BoolNotEquals false | true
             yes | BoolEquals true | false
             abcdef01-2345-6789-ABCD-ef0123456789 | GuidEquals 'ABCDEF01-2345-6789-abcd-EF0123456789' | true
             abcdef01-2345-6789-abcd-ef0123456789 | GuidNotEquals abcdef01-2345-6789-abcd-ef0123456780 | true
             2024-02-29T10:00:00.0000000Z | DateTimeEquals '2024-02-29T10:00:00Z' | true
             2024-02-29T10:00:00.1Z | DateTimeNotEquals '2024-02-29T10:00:00Z' | true
             2024-01-01T00:00:00Z | DateTimeLessThan '2024-01-01T00:00:00.5Z' | true
             2024-01-01T00:00:00Z | DateTimeGreaterThan '2024-01-01T00:00:00.5Z' | false
             2024-01-01t00:00:00z | DateTimeGreaterThanEquals '2024-01-01T00:00:00Z' | true
             2024-01-01T00:00:00Z | DateTimeLessThanEquals '2023-12-31T23:59:59.9999999Z' | false
             2024-01-01T00:00:00+01:00 | DateTimeLessThan '2030-01-01T00:00:00Z' | false",
        );
        assert!(check("NumericEquals 10", &[" 10 "]));
    }
}
