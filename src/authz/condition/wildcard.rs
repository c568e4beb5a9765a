//! `*` wildcard matching: Azure permission patterns (`ActionMatches`, and the RBAC engine's
//! `actions`/`dataActions`) and `StringLike` patterns, both on one backtracking matcher.

use super::ast::Budget;

/// Azure permission-pattern matching (case-insensitive, `*` anywhere). Public: the RBAC engine
/// reuses it.
///
/// Runs on [`star_match`] over bytes: no allocation, no recursion, because this runs for every
/// permission on every authorization. Comparing bytes is sound for UTF-8: a literal pattern byte
/// can only line up with the start of a character.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    star_match(
        pattern.as_bytes(),
        action.as_bytes(),
        |&p| p == b'*',
        |p, s| p.eq_ignore_ascii_case(s),
        || true,
    )
}

/// One element of a compiled `StringLike` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Glob {
    Char(char),
    AnyRun,
    OneChar,
}

/// `StringLike` pattern: `*` any run, `?` one character, `\*` and `\?` literal; any other
/// backslash is an ordinary character (Azure defines no other escapes).
pub(super) fn compile_like(pattern: &str) -> Vec<Glob> {
    let mut globs = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        let glob = match c {
            '\\' => Glob::Char(chars.next_if(|&n| n == '*' || n == '?').unwrap_or('\\')),
            // Collapsing runs of stars keeps the matcher's backtracking simple.
            '*' if globs.last() == Some(&Glob::AnyRun) => continue,
            '*' => Glob::AnyRun,
            '?' => Glob::OneChar,
            c => Glob::Char(c),
        };
        globs.push(glob);
    }
    globs
}

/// [`star_match`] over characters, so that `?` consumes a whole character; one budget step per
/// position tried.
pub(super) fn like_matches(pattern: &[Glob], text: &str, budget: &Budget) -> bool {
    let s: Vec<char> = text.chars().collect();
    star_match(
        pattern,
        &s,
        |g| *g == Glob::AnyRun,
        |g, c| match g {
            Glob::OneChar => true,
            Glob::Char(p) => p == c,
            Glob::AnyRun => false,
        },
        || budget.spend(1),
    )
}

/// Whether `pattern` matches the whole of `text`, where a star element (`is_star`) matches any
/// run and any other element matches one text element when `matches_one` says so.
///
/// Iterative wildcard matching that only ever backtracks to the most recent star. `step` runs
/// once per position tried; when it returns false the match stops, as a non-match.
fn star_match<P, T>(
    pattern: &[P],
    text: &[T],
    is_star: impl Fn(&P) -> bool,
    matches_one: impl Fn(&P, &T) -> bool,
    mut step: impl FnMut() -> bool,
) -> bool {
    let (mut pi, mut si) = (0, 0);
    // Index after the last star seen, and where in `text` that star's match currently ends.
    let mut resume: Option<(usize, usize)> = None;
    while si < text.len() {
        if !step() {
            return false;
        }
        match pattern.get(pi) {
            Some(p) if is_star(p) => {
                pi += 1;
                resume = Some((pi, si));
            }
            Some(p) if matches_one(p, &text[si]) => (pi, si) = (pi + 1, si + 1),
            // Mismatch: let the last star swallow one more element and retry after it.
            _ => match resume {
                Some((after_star, star_end)) => {
                    (pi, si) = (after_star, star_end + 1);
                    resume = Some((after_star, si));
                }
                None => return false,
            },
        }
    }
    pattern[pi..].iter().all(is_star)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{check, rows};
    use super::*;

    #[test]
    fn action_patterns() {
        for row in rows(
            "*/read | Microsoft.X/y/write | false
             */read | Microsoft.X/y/read | true
             Microsoft.MachineLearningServices/workspaces/*/read | microsoft.machinelearningservices/workspaces/connections/read | true
             Microsoft.MachineLearningServices/workspaces/*/read | Microsoft.MachineLearningServices/workspaces/read | false
             Microsoft.Authorization/*/Delete | Microsoft.Authorization/roleAssignments/delete | true
             * | anything/at/all | true
             Microsoft.Storage/* | MICROSOFT.STORAGE/a/b/c | true
             Microsoft.Storage/* | Microsoft.Storagex/a | false
             a*b*c | aXbYbZc | true
             a*b*c | aXbYbZcd | false
             a** | a | true
             abc | ab | false
             ab | abc | false
             é*/x | é/y/x | true",
        ) {
            assert_eq!(action_matches(row[0], row[1]), row[2] == "true", "{row:?}");
        }
        assert!(action_matches("*", ""));
        assert!(!action_matches("", "a"));
    }

    #[test]
    fn wildcards_are_not_exponential() {
        let value = "a".repeat(3000);
        assert!(!check("StringLike '*a*a*a*a*a*a*a*a*a*a*b'", &[&value]));
        assert!(!action_matches("*a*a*a*a*a*a*a*a*a*a*b", &value));
    }
}
