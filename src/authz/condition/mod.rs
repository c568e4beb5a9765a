//! Azure ABAC role-assignment conditions (`conditionVersion` "2.0").
//!
//! A condition is parsed once, when the role assignment is written, into a typed AST; every
//! authorization of a data action then walks that AST and never looks at the text again. The
//! language is the subset of Azure's documented syntax that role assignments use in practice:
//!
//! ```text
//! (
//!   ( !(ActionMatches{'<action>'} AND SubOperationMatches{'<subOp>'}) AND !(ActionMatches{…}) )
//!   OR
//!   ( @Resource[<name>] <operator> <value | {v1, v2} | @Principal[<name>]> AND … )
//! )
//! AND ( …next action block… )
//! ```
//!
//! Semantics Azure only documents by example, pinned down here:
//! - **Absent attributes.** A comparison whose attribute has no values is `false` for positive
//!   operators and `true` for negated ones (`…Not…`), with or without a cross-product prefix, so
//!   `ForAllOf…` over an absent attribute is not vacuously true. Values that cannot be read as
//!   the operator's type (`"abc"` for `NumericEquals`, a malformed date-time) are ignored, so an
//!   attribute holding only such values counts as absent. An absent attribute on the right-hand
//!   side (`StringEquals @Principal[…]`) is treated the same way.
//! - **No prefix.** A set on the right (`StringEquals {'a', 'b'}`) or several attribute values on
//!   the left mean "some value on the left matches some value on the right". A negated operator is
//!   the exact negation of its positive form: `StringNotEquals {'a', 'b'}` means "equals neither".
//! - **Cross-product prefixes** (`ForAnyOfAnyValues:` …) compare every pair with the operator as
//!   written (so negation applies per pair) and then quantify over the left and right sets. A
//!   single value is accepted where a set is usual: it is a set of one.
//! - Sets and prefixes exist for String, Numeric and Guid operators only, as in Azure.
//! - `@Request[subOperation]` (Azure's older spelling of `SubOperationMatches`) falls back to
//!   [`AccessRequest::sub_operation`] when the caller has no such attribute.
//! - `AND` and `OR` may not be mixed in one chain without parentheses, as Azure requires.
//!
//! The pieces, in the order a condition meets them: `lexer` turns the text into tokens, `parser`
//! builds the syntax tree of `ast`, whose comparisons use the typed operators of `operator`;
//! `wildcard` holds the `*` matching shared by `ActionMatches`, `StringLike` and the RBAC
//! engine. Evaluation runs on a step budget ([`EVALUATION_BUDGET`]).

mod ast;
mod lexer;
mod operator;
mod parser;
#[cfg(test)]
mod test_support;
mod wildcard;

use std::fmt;

pub use ast::EVALUATION_BUDGET;
pub use wildcard::action_matches;

use ast::{Budget, Node};
use lexer::{Tok, lex};
use parser::Parser;

/// Longest condition accepted, in characters; also bounds parse and evaluation cost.
const MAX_LEN: usize = 8192;
/// Deepest nesting of parentheses and `NOT`s; keeps the recursive parser far from the stack limit.
const MAX_DEPTH: usize = 64;

/// Why a condition was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    /// 0-based character (not byte) offset into the condition text.
    pub position: usize,
    pub message: String,
}

fn fail<T>(position: usize, message: impl Into<String>) -> Result<T, ConditionError> {
    Err(ConditionError {
        position,
        message: message.into(),
    })
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

impl std::error::Error for ConditionError {}

/// Where an attribute comes from: `@Resource[…]`, `@Request[…]`, `@Principal[…]`, `@Environment[…]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeSource {
    Resource,
    Request,
    Principal,
    Environment,
}

impl AttributeSource {
    fn name(self) -> &'static str {
        match self {
            Self::Resource => "Resource",
            Self::Request => "Request",
            Self::Principal => "Principal",
            Self::Environment => "Environment",
        }
    }
}

/// The request being authorized, as a condition sees it.
pub trait AccessRequest {
    fn action(&self) -> &str;
    fn sub_operation(&self) -> Option<&str> {
        None
    }
    /// All values of an attribute (empty = absent). `name` as written inside the brackets.
    fn attribute(&self, source: AttributeSource, name: &str) -> Vec<String>;
}

/// A parsed role-assignment condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    root: Node,
    text: String,
}

impl Condition {
    /// Parses and validates `text`. Literals are type-checked and converted here, so a bad value
    /// fails the PUT and evaluation itself cannot fail.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        if text.chars().nth(MAX_LEN).is_some() {
            return fail(
                MAX_LEN,
                format!("condition is longer than {MAX_LEN} characters"),
            );
        }
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = lex(&chars)?;
        if tokens.is_empty() {
            return fail(0, "condition is empty");
        }
        // Reversed so the parser consumes with `pop` and can push a token back.
        tokens.reverse();
        let mut parser = Parser {
            tokens,
            end: chars.len(),
            depth: 0,
        };
        let root = parser.parse_expr()?;
        match parser.tokens.pop() {
            None => Ok(Condition {
                root,
                text: text.to_owned(),
            }),
            Some((pos, Tok::RParen)) => fail(pos, "unmatched ')'"),
            Some((pos, tok)) => fail(
                pos,
                format!("unexpected {tok} after the end of the condition"),
            ),
        }
    }

    /// The condition exactly as it was written (what the API returns).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the condition holds for `request`; false when it costs more than
    /// [`EVALUATION_BUDGET`] (fails closed).
    pub fn evaluate(&self, request: &dyn AccessRequest) -> bool {
        let budget = Budget::full();
        let holds = self.root.evaluate(request, &budget);
        holds && !budget.exhausted()
    }

    /// true when the condition names this action in some ActionMatches (so control-plane code
    /// knows a condition restricts it). Patterns match as in [`action_matches`], so
    /// `ActionMatches{'*/read'}` mentions every read action.
    pub fn mentions_action(&self, action: &str) -> bool {
        self.root.mentions_action(action)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{Req, check, error, parse};
    use super::*;
    use AttributeSource::{Request, Resource};

    const READ: &str = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read";
    const WRITE: &str = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write";
    const CONTAINER: &str = "Microsoft.Storage/storageAccounts/blobServices/containers:name";

    #[test]
    fn doc_example_container_prefix() {
        let c = parse(&format!(
            "((!(ActionMatches{{'{READ}'}})) OR (@Resource[{CONTAINER}] StringStartsWith 'proj-'))"
        ));
        let read = |name: &[&str]| Req::new(READ).with(Resource, CONTAINER, name);
        assert!(c.evaluate(&read(&["proj-alpha"])));
        assert!(!c.evaluate(&read(&["other"])));
        assert!(!c.evaluate(&read(&["Proj-alpha"])));
        assert!(!c.evaluate(&read(&[])), "absent attribute");
        assert!(c.evaluate(&Req::new(WRITE)), "other actions pass");
        assert!(c.mentions_action(READ) && c.mentions_action(&READ.to_uppercase()));
        assert!(!c.mentions_action(WRITE));
    }

    #[test]
    fn doc_example_container_name_multiline() {
        let text = format!(
            "(\n  (\n    !(ActionMatches{{'{READ}'}})\n  )\n  OR\n  (\n    @Resource[{CONTAINER}]\n    \
             StringEquals 'blobs-example-container'\n  )\n)"
        );
        let c = parse(&text);
        assert_eq!(c.text(), text);
        let read = |name: &str| Req::new(READ).with(Resource, CONTAINER, &[name]);
        assert!(c.evaluate(&read("blobs-example-container")));
        assert!(!c.evaluate(&read("blobs-example-container2")));
        assert!(c.evaluate(&Req::new(WRITE)));
    }

    #[test]
    fn tags_with_cross_product_and_two_action_blocks() {
        let tag = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags:\
                   Project<$key_case_sensitive$>";
        let c = parse(&format!(
            "((!(ActionMatches{{'{READ}'}})) OR (@Resource[{tag}] ForAnyOfAnyValues:StringEquals \
             {{'Cascade', 'Baker'}})) AND ((!(ActionMatches{{'{WRITE}'}})) OR \
             (@Request[{tag}] ForAllOfAnyValues:StringEquals {{'Cascade','Baker'}}))"
        ));
        let read = |tags: &[&str]| Req::new(READ).with(Resource, tag, tags);
        assert!(c.evaluate(&read(&["Skagit", "Baker"])));
        assert!(!c.evaluate(&read(&["Skagit"])));
        assert!(!c.evaluate(&read(&["baker"])));
        let write = |tags: &[&str]| Req::new(WRITE).with(Request, tag, tags);
        assert!(c.evaluate(&write(&["Cascade", "Baker"])));
        assert!(!c.evaluate(&write(&["Cascade", "Skagit"])));
        assert!(!c.evaluate(&write(&[])));
        assert!(c.mentions_action(WRITE) && c.mentions_action(READ));
        assert!(!c.mentions_action("Microsoft.Storage/storageAccounts/read"));
    }

    #[test]
    fn sub_operations() {
        let c = parse(&format!(
            "((!(ActionMatches{{'{READ}'}} AND NOT SubOperationMatches{{'Blob.List'}})) \
             OR (@Resource[{CONTAINER}] StringEquals 'logs'))"
        ));
        let read = |container: &str| Req::new(READ).with(Resource, CONTAINER, &[container]);
        assert!(c.evaluate(&read("x").sub("Blob.List")));
        assert!(c.evaluate(&read("x").sub("blob.list")));
        assert!(!c.evaluate(&read("x")), "no sub-operation does not match");
        assert!(!c.evaluate(&read("x").sub("Blob.Other")));
        assert!(c.evaluate(&read("logs")));

        // Azure's older spelling reads the sub-operation through an attribute.
        let legacy = parse(&format!(
            "!(ActionMatches{{'{READ}'}} AND @Request[subOperation] \
             ForAnyOfAnyValues:StringEqualsIgnoreCase {{'Blob.List'}})"
        ));
        assert!(!legacy.evaluate(&Req::new(READ).sub("BLOB.LIST")));
        assert!(legacy.evaluate(&Req::new(READ)));
        assert!(legacy.evaluate(&Req::new(READ).sub("Blob.Read")));
    }

    #[test]
    fn role_assignment_guids() {
        // As Azure's docs write it: bare GUIDs, no space before the set.
        let c = parse(
            "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR \
             (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] \
             ForAnyOfAnyValues:GuidEquals{1c0163c0-47e6-4577-8991-ea5c82e286e4, \
             'FB879DF8-F326-4884-B1CF-06F3AD86BE52'}))",
        );
        let write = |id: &str| {
            let name = "Microsoft.Authorization/roleAssignments:RoleDefinitionId";
            let request = Req::new("Microsoft.Authorization/roleAssignments/write");
            c.evaluate(&request.with(Request, name, &[id]))
        };
        assert!(write("1C0163C0-47E6-4577-8991-EA5C82E286E4"));
        assert!(write("fb879df8-f326-4884-b1cf-06f3ad86be52"));
        assert!(!write("00000000-0000-0000-0000-000000000000"));
    }

    #[test]
    fn error_display() {
        let e = Condition::parse("@Resource[x] StringEqualz 'a'").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown operator 'StringEqualz' at position 13"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().ends_with("at position 13"));
    }

    #[test]
    fn length_limit_and_long_chains() {
        let atom = "ActionMatches{'a'}";
        let mut long = format!("{atom} OR {atom}");
        long.push_str(&" ".repeat(MAX_LEN - long.len()));
        assert!(parse(&long).evaluate(&Req::new("a")));
        long.push(' ');
        let too_long = (
            MAX_LEN,
            "condition is longer than 8192 characters".to_owned(),
        );
        assert_eq!(error(&long), too_long);
        // The limit counts characters: 8192 of them in two-byte UTF-8 are accepted.
        let value = "é".repeat(MAX_LEN - 28);
        let wide = format!("StringEquals '{value}'");
        assert_eq!(wide.chars().count() + "@Resource[x] ".len(), MAX_LEN);
        assert!(check(&wide, &[&value]));

        // Long flat chains are lists, not recursion.
        let chain = vec!["ActionMatches{'nope'}"; 300].join(" OR ") + " OR ActionMatches{'a*'}";
        let c = parse(&chain);
        assert!(c.evaluate(&Req::new("abc")));
        assert!(!c.evaluate(&Req::new("xyz")));
        assert!(c.mentions_action("a/b"));
    }
}
