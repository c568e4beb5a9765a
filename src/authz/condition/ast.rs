//! The syntax tree a condition is parsed into, and its evaluation against a request under a
//! step budget. Comparisons quantify over attribute values here; what one pair of values
//! means is the operator's business (`operator`).

use std::cell::Cell;
use std::fmt;

use super::operator::{Operator, Scalar};
use super::wildcard::action_matches;
use super::{AccessRequest, AttributeSource};

/// Steps one evaluation may take (a character compared, a pattern position tried). Conditions
/// are bounded in length, but the attributes they meet come from requests: an 8 KB pattern
/// against a 200 KB attribute is billions of steps. Past the budget the condition is false:
/// the assignment does not grant, whatever the `NOT`s around the expensive part would say.
pub const EVALUATION_BUDGET: u64 = 200_000;

/// What is left of one evaluation's budget.
pub(super) struct Budget(Cell<u64>);

impl Budget {
    /// A whole [`EVALUATION_BUDGET`], for one evaluation.
    pub(super) fn full() -> Self {
        Budget(Cell::new(EVALUATION_BUDGET))
    }

    /// Takes `steps`; false once the budget is spent.
    pub(super) fn spend(&self, steps: u64) -> bool {
        let left = self.0.get();
        self.0.set(left.saturating_sub(steps));
        left >= steps
    }

    pub(super) fn exhausted(&self) -> bool {
        self.0.get() == 0
    }
}

/// One node of a parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    ActionMatches(String),
    SubOperationMatches(String),
    Exists(Attribute),
    Compare(Box<Comparison>),
}

impl Node {
    pub(super) fn evaluate(&self, request: &dyn AccessRequest, budget: &Budget) -> bool {
        if !budget.spend(1) {
            return false;
        }
        match self {
            Node::All(nodes) => nodes.iter().all(|n| n.evaluate(request, budget)),
            Node::Any(nodes) => nodes.iter().any(|n| n.evaluate(request, budget)),
            Node::Not(node) => !node.evaluate(request, budget),
            Node::ActionMatches(pattern) => action_matches(pattern, request.action()),
            Node::SubOperationMatches(sub) => request
                .sub_operation()
                .is_some_and(|s| s.eq_ignore_ascii_case(sub)),
            Node::Exists(attribute) => !attribute.values(request).is_empty(),
            Node::Compare(comparison) => comparison.evaluate(request, budget),
        }
    }

    pub(super) fn mentions_action(&self, action: &str) -> bool {
        match self {
            Node::All(nodes) | Node::Any(nodes) => nodes.iter().any(|n| n.mentions_action(action)),
            Node::Not(node) => node.mentions_action(action),
            Node::ActionMatches(pattern) => action_matches(pattern, action),
            _ => false,
        }
    }
}

/// `@Source[name]`: a named attribute of the request, the resource, the principal or the
/// environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Attribute {
    pub(super) source: AttributeSource,
    pub(super) name: String,
}

impl Attribute {
    fn values(&self, request: &dyn AccessRequest) -> Vec<String> {
        let values = request.attribute(self.source, &self.name);
        let legacy_sub_operation = self.source == AttributeSource::Request
            && self.name.eq_ignore_ascii_case("subOperation");
        if values.is_empty() && legacy_sub_operation {
            return request
                .sub_operation()
                .into_iter()
                .map(str::to_owned)
                .collect();
        }
        values
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}[{}]", self.source.name(), self.name)
    }
}

/// `<attribute> [<prefix>:]<operator> <operand>`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Comparison {
    pub(super) left: Attribute,
    pub(super) quantifier: Option<Quantifier>,
    pub(super) op: Operator,
    pub(super) right: Operand,
}

/// The right-hand side of a comparison: literals (already typed) or another attribute.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    Values(Vec<Scalar>),
    Attribute(Attribute),
}

/// A cross-product prefix (`ForAnyOfAnyValues:` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Quantifier {
    AnyOfAny,
    AllOfAny,
    AnyOfAll,
    AllOfAll,
}

impl Comparison {
    fn evaluate(&self, request: &dyn AccessRequest, budget: &Budget) -> bool {
        let op = self.op;
        let typed = |attribute: &Attribute, right: bool| -> Vec<Scalar> {
            let values = attribute.values(request);
            values.iter().filter_map(|v| op.scalar(v, right)).collect()
        };
        let left = typed(&self.left, false);
        let fetched;
        let right: &[Scalar] = match &self.right {
            Operand::Values(values) => values,
            Operand::Attribute(attribute) => {
                fetched = typed(attribute, true);
                &fetched
            }
        };
        if left.is_empty() || right.is_empty() {
            return op.negated;
        }
        let holds = |l: &Scalar, r: &Scalar| op.holds(l, r, budget);
        let pair = |l: &Scalar, r: &Scalar| holds(l, r) != op.negated;
        let (l, r) = (left.iter(), right.iter());
        match self.quantifier {
            None => l.clone().any(|l| r.clone().any(|r| holds(l, r))) != op.negated,
            Some(Quantifier::AnyOfAny) => l.clone().any(|l| r.clone().any(|r| pair(l, r))),
            Some(Quantifier::AllOfAny) => l.clone().all(|l| r.clone().any(|r| pair(l, r))),
            Some(Quantifier::AnyOfAll) => l.clone().any(|l| r.clone().all(|r| pair(l, r))),
            Some(Quantifier::AllOfAll) => l.clone().all(|l| r.clone().all(|r| pair(l, r))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::AttributeSource::{Environment, Principal, Request, Resource};
    use super::super::test_support::{Req, parse, truth_table};

    #[test]
    fn principal_and_environment_attributes() {
        let principal = "Microsoft.Directory/CustomSecurityAttributes/Id:Engineering_Project";
        let c = parse(&format!(
            "@Resource[tag] StringEquals @Principal[{principal}]"
        ));
        let request = |tag: &str, attr: &[&str]| {
            let request = Req::new("a").with(Resource, "tag", &[tag]);
            c.evaluate(&request.with(Principal, principal, attr))
        };
        assert!(request("Alpine", &["Baker", "Alpine"]));
        assert!(!request("Alpine", &["Baker"]));
        assert!(!request("Alpine", &[]));
        let c = parse("@Resource[tag] StringNotEquals @Request[y]");
        let request = |y: &[&str]| {
            let request = Req::new("a").with(Resource, "tag", &["a"]);
            c.evaluate(&request.with(Request, "y", y))
        };
        assert!(
            request(&[]),
            "an absent right-hand attribute counts as absent"
        );
        assert!(request(&["b"]));
        assert!(!request(&["b", "a"]));

        let c = parse(
            "@Environment[UtcNow] DateTimeGreaterThan '2023-05-01T13:00:00.000Z' \
             && @Environment[isPrivateLink] BoolEquals true",
        );
        let env = |now: &str, link: &str| {
            let request = Req::new("a").with(Environment, "UtcNow", &[now]);
            request.with(Environment, "isPrivateLink", &[link])
        };
        assert!(c.evaluate(&env("2023-05-01T13:00:00.0000001Z", "True")));
        assert!(!c.evaluate(&env("2023-05-01T13:00:00Z", "true")));
        assert!(!c.evaluate(&env("2023-06-01T00:00:00Z", "false")));
        assert!(parse("Exists @Environment[isPrivateLink]").evaluate(&env("x", "y")));
        assert!(!parse("NOT Exists @Environment[isPrivateLink]").evaluate(&env("x", "y")));
        assert!(!parse("Exists @Environment[Other]").evaluate(&env("x", "y")));
    }

    #[test]
    fn cross_product_quantifiers() {
        // Azure's documented truth table, then negated, case-folded and single-value forms, and
        // finally the prefix-less form on a multi-valued attribute ("some value matches").
        truth_table(
            "red;blue | ForAnyOfAnyValues:StringEquals {'blue', 'green'} | true
             red;blue | ForAnyOfAnyValues:StringEquals {'orange', 'green'} | false
             red;blue | ForAllOfAnyValues:StringEquals {'orange', 'red', 'blue'} | true
             red;blue | ForAllOfAnyValues:StringEquals {'red', 'green'} | false
             10;20 | ForAnyOfAllValues:NumericLessThan {15, 18} | true
             10;20 | ForAllOfAllValues:NumericLessThan {5, 15, 18} | false
             10;20 | ForAllOfAllValues:NumericLessThan {25, 30} | true
             10;20 | ForAllOfAllValues:NumericLessThan {15, 25, 30} | false
             20;30 | ForAnyOfAllValues:NumericLessThan {15, 18} | false
             red;blue | ForAnyOfAnyValues:StringNotEquals {'red'} | true
             red;blue | ForAllOfAllValues:StringNotEquals {'green', 'pink'} | true
             red;blue | ForAllOfAllValues:StringNotEquals {'green', 'red'} | false
             Red | forallofanyvalues:stringequalsignorecase {'RED'} | true
             red | ForAnyOfAnyValues:StringEquals 'red' | true
             00000000-0000-0000-0000-000000000000 | ForAnyOfAllValues:GuidNotEquals {1c0163c0-47e6-4577-8991-ea5c82e286e4} | true
             1C0163C0-47E6-4577-8991-EA5C82E286E4 | ForAnyOfAllValues:GuidNotEquals {1c0163c0-47e6-4577-8991-ea5c82e286e4} | false
             red;blue | StringEquals 'blue' | true
             red;blue | StringNotEquals 'blue' | false",
        );
    }

    #[test]
    fn absent_attributes() {
        truth_table(
            "- | StringEquals 'a' | false
             - | StringNotEquals 'a' | true
             - | StringStartsWith 'a' | false
             - | StringNotStartsWith 'a' | true
             - | StringLike '*' | false
             - | StringNotLike 'a' | true
             - | NumericGreaterThan 1 | false
             - | NumericNotEquals 1 | true
             - | BoolEquals true | false
             - | BoolNotEquals true | true
             - | GuidNotEquals 00000000-0000-0000-0000-000000000000 | true
             - | DateTimeLessThan '2024-01-01T00:00:00Z' | false
             - | ForAllOfAllValues:StringEquals {'a'} | false
             - | ForAllOfAnyValues:StringNotEquals {'a'} | true
             - | StringEquals @Request[y] | false
             one | NumericEquals 1 | false
             one;1 | ForAllOfAnyValues:NumericEquals {1} | true",
        );
    }

    /// The review's case: an 8 KB pattern against a 200 KB attribute took 15 s a call. The
    /// budget stops it and the condition fails closed, under a NOT too (unbounded, the NOT of a
    /// non-match would have granted).
    #[test]
    fn an_evaluation_past_its_budget_fails_closed() {
        let pattern = "*a".repeat(4000) + "b";
        let value = "a".repeat(200_000);
        let like = format!("@Resource[x] StringLike '{pattern}'");
        let request = Req::new("a").with(Resource, "x", &[&value]);
        assert!(!parse(&like).evaluate(&request));
        assert!(!parse(&format!("NOT ({like})")).evaluate(&request));
        assert!(!parse(&format!("@Resource[x] StringNotLike '{pattern}'")).evaluate(&request));
        // Cheap conditions on short values are untouched by the budget.
        let short = Req::new("a").with(Resource, "x", &["aab"]);
        assert!(parse(&like.replace(&pattern, "*a*b")).evaluate(&short));
        assert!(parse("NOT (@Resource[x] StringLike '*c')").evaluate(&short));
    }
}
