//! Test helpers shared by the condition modules' unit tests: a request built field by field,
//! parsing that panics with the text, and tables of expected results.

use super::{AccessRequest, AttributeSource, Condition};

/// A request whose action, sub-operation and attributes a test sets.
#[derive(Default)]
pub(super) struct Req {
    action: String,
    sub_operation: Option<String>,
    attributes: Vec<(AttributeSource, String, Vec<String>)>,
}

impl Req {
    pub(super) fn new(action: &str) -> Self {
        let action = action.to_owned();
        Req {
            action,
            ..Req::default()
        }
    }
    pub(super) fn sub(mut self, sub_operation: &str) -> Self {
        self.sub_operation = Some(sub_operation.to_owned());
        self
    }
    pub(super) fn with(mut self, source: AttributeSource, name: &str, values: &[&str]) -> Self {
        let values = values.iter().map(|v| v.to_string()).collect();
        self.attributes.push((source, name.to_owned(), values));
        self
    }
}

impl AccessRequest for Req {
    fn action(&self) -> &str {
        &self.action
    }
    fn sub_operation(&self) -> Option<&str> {
        self.sub_operation.as_deref()
    }
    fn attribute(&self, source: AttributeSource, name: &str) -> Vec<String> {
        let found = self
            .attributes
            .iter()
            .find(|(s, n, _)| *s == source && n == name);
        found
            .map(|(_, _, values)| values.clone())
            .unwrap_or_default()
    }
}

pub(super) fn parse(text: &str) -> Condition {
    Condition::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// `@Resource[x] <tail>` with attribute x holding `values` (none = absent).
pub(super) fn check(tail: &str, values: &[&str]) -> bool {
    let request = Req::new("a").with(AttributeSource::Resource, "x", values);
    parse(&format!("@Resource[x] {tail}")).evaluate(&request)
}

pub(super) fn error(text: &str) -> (usize, String) {
    let e = Condition::parse(text).expect_err(text);
    (e.position, e.message)
}

/// Non-blank lines of a table, split into cells on " | ".
pub(super) fn rows(table: &str) -> impl Iterator<Item = Vec<&str>> {
    let lines = table.lines().map(str::trim).filter(|line| !line.is_empty());
    lines.map(|line| line.split(" | ").collect())
}

/// Rows of `values | tail | expected` through [`check`]; values are `;`-separated, `-` = absent.
pub(super) fn truth_table(table: &str) {
    for row in rows(table) {
        let values: Vec<&str> = match row[0] {
            "-" => Vec::new(),
            values => values.split(';').collect(),
        };
        assert_eq!(check(row[1], &values), row[2] == "true", "{row:?}");
    }
}
