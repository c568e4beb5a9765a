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

use std::cell::Cell;
use std::cmp::Ordering;
use std::fmt;

/// Longest condition accepted, in characters; also bounds parse and evaluation cost.
const MAX_LEN: usize = 8192;
/// Deepest nesting of parentheses and `NOT`s; keeps the recursive parser far from the stack limit.
const MAX_DEPTH: usize = 64;

/// Steps one evaluation may take (a character compared, a pattern position tried). Conditions
/// are bounded in length, but the attributes they meet come from requests: an 8 KB pattern
/// against a 200 KB attribute is billions of steps. Past the budget the condition is false:
/// the assignment does not grant, whatever the `NOT`s around the expensive part would say.
pub const EVALUATION_BUDGET: u64 = 200_000;

/// What is left of one evaluation's budget.
struct Budget(Cell<u64>);

impl Budget {
    /// Takes `steps`; false once the budget is spent.
    fn spend(&self, steps: u64) -> bool {
        let left = self.0.get();
        self.0.set(left.saturating_sub(steps));
        left >= steps
    }

    fn exhausted(&self) -> bool {
        self.0.get() == 0
    }
}

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
        let budget = Budget(Cell::new(EVALUATION_BUDGET));
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

/// Azure permission-pattern matching (case-insensitive, `*` anywhere). Public: the RBAC engine
/// reuses it.
///
/// Iterative wildcard matching that only ever backtracks to the most recent `*`: no allocation,
/// no recursion, because this runs for every permission on every authorization. Comparing bytes
/// is sound for UTF-8: a literal pattern byte can only line up with the start of a character.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), action.as_bytes());
    let (mut pi, mut si) = (0, 0);
    // Index after the last `*` seen, and where in `s` that star's match currently ends.
    let mut resume: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                resume = Some((pi, si));
            }
            Some(c) if c.eq_ignore_ascii_case(&s[si]) => (pi, si) = (pi + 1, si + 1),
            // Mismatch: let the last star swallow one more byte and retry after it.
            _ => match resume {
                Some((after_star, star_end)) => {
                    (pi, si) = (after_star, star_end + 1);
                    resume = Some((after_star, si));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

// ---------------------------------------------------------------------------------------------
// AST and evaluation
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    ActionMatches(String),
    SubOperationMatches(String),
    Exists(Attribute),
    Compare(Box<Comparison>),
}

impl Node {
    fn evaluate(&self, request: &dyn AccessRequest, budget: &Budget) -> bool {
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

    fn mentions_action(&self, action: &str) -> bool {
        match self {
            Node::All(nodes) | Node::Any(nodes) => nodes.iter().any(|n| n.mentions_action(action)),
            Node::Not(node) => node.mentions_action(action),
            Node::ActionMatches(pattern) => action_matches(pattern, action),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Attribute {
    source: AttributeSource,
    name: String,
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

#[derive(Debug, Clone, PartialEq)]
struct Comparison {
    left: Attribute,
    quantifier: Option<Quantifier>,
    op: Operator,
    right: Operand,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Values(Vec<Scalar>),
    Attribute(Attribute),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantifier {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    String,
    Numeric,
    Bool,
    Guid,
    DateTime,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    family: Family,
    test: Test,
    negated: bool,
    ignore_case: bool,
}

impl Operator {
    /// Operator names are `<Family>[Not]<Test>[IgnoreCase]`; parse that shape, then keep only
    /// the combinations Azure defines (e.g. no `NumericNotGreaterThan`, no `BoolLike`).
    fn parse(name: &str) -> Option<Self> {
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
    fn multi_valued(self) -> bool {
        matches!(self.family, Family::String | Family::Numeric | Family::Guid)
    }

    fn expects(self) -> &'static str {
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
    fn scalar(self, raw: &str, right: bool) -> Option<Scalar> {
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
    fn holds(self, left: &Scalar, right: &Scalar, budget: &Budget) -> bool {
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
enum Scalar {
    Text(String),
    Int(i64),
    Bool(bool),
    Pattern(Vec<Glob>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glob {
    Char(char),
    AnyRun,
    OneChar,
}

/// `StringLike` pattern: `*` any run, `?` one character, `\*` and `\?` literal; any other
/// backslash is an ordinary character (Azure defines no other escapes).
fn compile_like(pattern: &str) -> Vec<Glob> {
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

/// Same backtrack-to-last-star algorithm as [`action_matches`], over characters so that `?`
/// consumes a whole character.
fn like_matches(pattern: &[Glob], text: &str, budget: &Budget) -> bool {
    let s: Vec<char> = text.chars().collect();
    let (mut pi, mut si) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while si < s.len() {
        if !budget.spend(1) {
            return false;
        }
        match pattern.get(pi) {
            Some(Glob::AnyRun) => {
                pi += 1;
                resume = Some((pi, si));
            }
            Some(Glob::OneChar) => (pi, si) = (pi + 1, si + 1),
            Some(Glob::Char(c)) if *c == s[si] => (pi, si) = (pi + 1, si + 1),
            _ => match resume {
                Some((after_star, star_end)) => {
                    (pi, si) = (after_star, star_end + 1);
                    resume = Some((after_star, si));
                }
                None => return false,
            },
        }
    }
    pattern[pi..].iter().all(|g| *g == Glob::AnyRun)
}

fn parse_bool(text: &str) -> Option<bool> {
    [("true", true), ("false", false)]
        .into_iter()
        .find_map(|(name, value)| text.eq_ignore_ascii_case(name).then_some(value))
}

fn is_guid(text: &str) -> bool {
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

// ---------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    And,
    Or,
    Not,
    Str(String),
    /// Function and operator names and bare values (numbers, booleans, GUIDs).
    Word(String),
    Attr(Attribute),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::LBrace => f.write_str("'{'"),
            Tok::RBrace => f.write_str("'}'"),
            Tok::Comma => f.write_str("','"),
            Tok::And => f.write_str("AND"),
            Tok::Or => f.write_str("OR"),
            Tok::Not => f.write_str("NOT"),
            Tok::Str(s) => write!(f, "string '{s}'"),
            Tok::Word(w) => write!(f, "'{w}'"),
            Tok::Attr(a) => write!(f, "attribute '{a}'"),
        }
    }
}

/// A token and the character position it starts at.
type Token = (usize, Tok);

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '+')
}

fn lex(chars: &[char]) -> Result<Vec<Token>, ConditionError> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let c = chars[i];
        i += 1;
        let tok = match c {
            c if c.is_whitespace() => continue,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            ',' => Tok::Comma,
            '!' => Tok::Not,
            '&' | '|' if chars.get(i) == Some(&c) => {
                i += 1;
                if c == '&' { Tok::And } else { Tok::Or }
            }
            '&' | '|' => return fail(start, format!("expected '{c}{c}'")),
            '\'' => {
                // Azure has no escape for a quote inside a string, so the next quote ends it.
                let Some(len) = chars[i..].iter().position(|&c| c == '\'') else {
                    return fail(start, "unterminated string");
                };
                i += len + 1;
                Tok::Str(chars[start + 1..i - 1].iter().collect())
            }
            '@' => {
                let (attribute, next) = lex_attribute(chars, start)?;
                i = next;
                Tok::Attr(attribute)
            }
            c if is_word_char(c) => {
                i += chars[i..].iter().take_while(|&&c| is_word_char(c)).count();
                let word: String = chars[start..i].iter().collect();
                match word.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    _ => Tok::Word(word),
                }
            }
            c => return fail(start, format!("unexpected character '{c}'")),
        };
        tokens.push((start, tok));
    }
    Ok(tokens)
}

/// `@Source[name]` starting at `at`; returns the attribute and the index after `]`. The name is
/// free text (it contains `/`, `:`, `<$key_case_sensitive$>`), so it runs to the first `]`.
fn lex_attribute(chars: &[char], at: usize) -> Result<(Attribute, usize), ConditionError> {
    let open = at
        + 1
        + chars[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
    let source_name: String = chars[at + 1..open].iter().collect();
    let sources = [
        AttributeSource::Resource,
        AttributeSource::Request,
        AttributeSource::Principal,
        AttributeSource::Environment,
    ];
    let Some(source) = sources
        .into_iter()
        .find(|s| s.name().eq_ignore_ascii_case(&source_name))
    else {
        return fail(at, format!("unknown attribute source '@{source_name}'"));
    };
    if chars.get(open) != Some(&'[') {
        return fail(open, format!("expected '[' after '@{source_name}'"));
    }
    let Some(len) = chars[open + 1..].iter().position(|&c| c == ']') else {
        return fail(open, "unterminated attribute name, missing ']'");
    };
    let name: String = chars[open + 1..open + 1 + len].iter().collect();
    if name.trim().is_empty() {
        return fail(open, "empty attribute name");
    }
    Ok((Attribute { source, name }, open + len + 2))
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

struct Parser {
    /// Remaining tokens, the next one last.
    tokens: Vec<Token>,
    /// Character length of the text: the position reported for "found end of condition".
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.last().map(|(_, tok)| tok)
    }

    fn pos(&self) -> usize {
        self.tokens.last().map_or(self.end, |&(pos, _)| pos)
    }

    fn eat(&mut self, want: &Tok) -> Option<usize> {
        if self.peek() == Some(want) {
            self.tokens.pop().map(|(pos, _)| pos)
        } else {
            None
        }
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "end of condition".to_owned(), Tok::to_string)
    }

    fn unexpected<T>(&self, expected: &str) -> Result<T, ConditionError> {
        fail(
            self.pos(),
            format!("expected {expected}, found {}", self.found()),
        )
    }

    /// A missing `)` or `}`: reported at the opener when the text just ends, otherwise at
    /// whatever stands where the closer should be.
    fn unclosed<T>(&self, opener: char, at: usize, expected: &str) -> Result<T, ConditionError> {
        match self.peek() {
            None => fail(at, format!("unclosed '{opener}'")),
            Some(_) => self.unexpected(expected),
        }
    }

    /// `unary ((AND | OR) unary)*`, with a single kind of connective per chain.
    fn parse_expr(&mut self) -> Result<Node, ConditionError> {
        let first = self.parse_unary()?;
        let joiner = |tok: Option<&Tok>| match tok {
            Some(Tok::And) => Some(true),
            Some(Tok::Or) => Some(false),
            _ => None,
        };
        let Some(is_and) = joiner(self.peek()) else {
            return Ok(first);
        };
        let mut items = vec![first];
        while let Some(next_is_and) = joiner(self.peek()) {
            if next_is_and != is_and {
                return fail(
                    self.pos(),
                    "AND and OR cannot be mixed without parentheses; \
                     write '(a AND b) OR c' or 'a AND (b OR c)'",
                );
            }
            self.tokens.pop();
            items.push(self.parse_unary()?);
        }
        Ok(if is_and {
            Node::All(items)
        } else {
            Node::Any(items)
        })
    }

    fn parse_unary(&mut self) -> Result<Node, ConditionError> {
        let nests = matches!(self.peek(), Some(Tok::Not | Tok::LParen));
        if nests && self.depth == MAX_DEPTH {
            return fail(
                self.pos(),
                format!("condition is nested deeper than {MAX_DEPTH} levels"),
            );
        }
        let node = match self.tokens.pop() {
            Some((_, Tok::Not)) => {
                self.depth += 1;
                Node::Not(Box::new(self.parse_unary()?))
            }
            Some((open, Tok::LParen)) => {
                self.depth += 1;
                let inner = self.parse_expr()?;
                if self.eat(&Tok::RParen).is_none() {
                    return self.unclosed('(', open, "')', AND or OR");
                }
                inner
            }
            other => {
                self.tokens.extend(other);
                return self.parse_primary();
            }
        };
        self.depth -= 1;
        Ok(node)
    }

    fn parse_primary(&mut self) -> Result<Node, ConditionError> {
        let is = |word: &str, name: &str| word.eq_ignore_ascii_case(name);
        match self.tokens.pop() {
            Some((_, Tok::Word(w))) if is(&w, "ActionMatches") => Ok(Node::ActionMatches(
                self.parse_function_argument("ActionMatches")?,
            )),
            Some((_, Tok::Word(w))) if is(&w, "SubOperationMatches") => {
                let sub_operation = self.parse_function_argument("SubOperationMatches")?;
                Ok(Node::SubOperationMatches(sub_operation))
            }
            Some((_, Tok::Word(w))) if is(&w, "Exists") => match self.tokens.pop() {
                Some((_, Tok::Attr(attribute))) => Ok(Node::Exists(attribute)),
                other => {
                    self.tokens.extend(other);
                    self.unexpected("an attribute such as @Resource[name] after Exists")
                }
            },
            Some((_, Tok::Attr(left))) => self.parse_comparison(left),
            other => {
                self.tokens.extend(other);
                self.unexpected("an attribute, a function such as ActionMatches, NOT or '('")
            }
        }
    }

    /// `{'text'}` after ActionMatches / SubOperationMatches.
    fn parse_function_argument(&mut self, function: &str) -> Result<String, ConditionError> {
        let Some(open) = self.eat(&Tok::LBrace) else {
            return self.unexpected(&format!("'{{' after {function}"));
        };
        let argument = match self.tokens.pop() {
            Some((_, Tok::Str(s))) => s,
            other => {
                self.tokens.extend(other);
                return self.unexpected(&format!("a quoted string in {function}{{…}}"));
            }
        };
        match self.eat(&Tok::RBrace) {
            Some(_) => Ok(argument),
            None => self.unclosed('{', open, "'}'"),
        }
    }

    fn parse_comparison(&mut self, left: Attribute) -> Result<Node, ConditionError> {
        let (op_pos, name) = match self.tokens.pop() {
            Some((pos, Tok::Word(w))) => (pos, w),
            other => {
                self.tokens.extend(other);
                return self.unexpected(&format!("an operator after '{left}'"));
            }
        };
        let (quantifier, base) = match name.split_once(':') {
            Some((prefix, base)) => {
                let quantifier = match prefix.to_ascii_lowercase().as_str() {
                    "foranyofanyvalues" => Quantifier::AnyOfAny,
                    "forallofanyvalues" => Quantifier::AllOfAny,
                    "foranyofallvalues" => Quantifier::AnyOfAll,
                    "forallofallvalues" => Quantifier::AllOfAll,
                    _ => return fail(op_pos, format!("unknown cross-product prefix '{prefix}'")),
                };
                (Some(quantifier), base)
            }
            None => (None, name.as_str()),
        };
        let Some(op) = Operator::parse(base) else {
            return fail(op_pos, format!("unknown operator '{name}'"));
        };
        if quantifier.is_some() && !op.multi_valued() {
            let message = "cross-product prefixes only apply to String, Numeric and Guid operators";
            return fail(op_pos, format!("'{name}': {message}"));
        }
        let right = self.parse_operand(op, &name)?;
        Ok(Node::Compare(Box::new(Comparison {
            left,
            quantifier,
            op,
            right,
        })))
    }

    /// A value, a set `{v1, v2}`, or another attribute.
    fn parse_operand(&mut self, op: Operator, op_name: &str) -> Result<Operand, ConditionError> {
        match self.tokens.pop() {
            Some((_, Tok::Attr(attribute))) => Ok(Operand::Attribute(attribute)),
            Some((open, Tok::LBrace)) => {
                if !op.multi_valued() {
                    return fail(open, format!("'{op_name}' takes a single value, not a set"));
                }
                if self.peek() == Some(&Tok::RBrace) {
                    return fail(open, "empty set");
                }
                let mut values = vec![self.parse_value(op, op_name)?];
                while self.eat(&Tok::Comma).is_some() {
                    values.push(self.parse_value(op, op_name)?);
                }
                match self.eat(&Tok::RBrace) {
                    Some(_) => Ok(Operand::Values(values)),
                    None => self.unclosed('{', open, "',' or '}'"),
                }
            }
            other => {
                self.tokens.extend(other);
                Ok(Operand::Values(vec![self.parse_value(op, op_name)?]))
            }
        }
    }

    /// One literal, typed by the operator so that bad literals fail at PUT, not at evaluation.
    fn parse_value(&mut self, op: Operator, op_name: &str) -> Result<Scalar, ConditionError> {
        let pos = self.pos();
        let (text, quoted) = match self.tokens.pop() {
            Some((_, Tok::Str(s))) => (s, true),
            Some((_, Tok::Word(w))) => (w, false),
            other => {
                self.tokens.extend(other);
                return fail(
                    pos,
                    format!("missing value after '{op_name}' (found {})", self.found()),
                );
            }
        };
        // Strings and date-times are quoted, numbers and booleans bare; Azure writes GUIDs both ways.
        let form_ok = match op.family {
            Family::String | Family::DateTime => quoted,
            Family::Numeric | Family::Bool => !quoted,
            Family::Guid => true,
        };
        let scalar = if op.family == Family::Guid && !is_guid(&text) {
            None
        } else {
            op.scalar(&text, true)
        };
        match scalar {
            Some(scalar) if form_ok => Ok(scalar),
            _ => {
                let shown = if quoted { format!("'{text}'") } else { text };
                fail(
                    pos,
                    format!(
                        "invalid value {shown} for '{op_name}'; expected {}",
                        op.expects()
                    ),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttributeSource::{Environment, Principal, Request, Resource};

    const READ: &str = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read";
    const WRITE: &str = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write";
    const CONTAINER: &str = "Microsoft.Storage/storageAccounts/blobServices/containers:name";

    #[derive(Default)]
    struct Req {
        action: String,
        sub_operation: Option<String>,
        attributes: Vec<(AttributeSource, String, Vec<String>)>,
    }

    impl Req {
        fn new(action: &str) -> Self {
            let action = action.to_owned();
            Req {
                action,
                ..Req::default()
            }
        }
        fn sub(mut self, sub_operation: &str) -> Self {
            self.sub_operation = Some(sub_operation.to_owned());
            self
        }
        fn with(mut self, source: AttributeSource, name: &str, values: &[&str]) -> Self {
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

    fn parse(text: &str) -> Condition {
        Condition::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    /// `@Resource[x] <tail>` with attribute x holding `values` (none = absent).
    fn check(tail: &str, values: &[&str]) -> bool {
        let request = Req::new("a").with(Resource, "x", values);
        parse(&format!("@Resource[x] {tail}")).evaluate(&request)
    }

    fn error(text: &str) -> (usize, String) {
        let e = Condition::parse(text).expect_err(text);
        (e.position, e.message)
    }

    /// Non-blank lines of a table, split into cells on " | ".
    fn rows(table: &str) -> impl Iterator<Item = Vec<&str>> {
        let lines = table.lines().map(str::trim).filter(|line| !line.is_empty());
        lines.map(|line| line.split(" | ").collect())
    }

    /// Rows of `values | tail | expected` through [`check`]; values are `;`-separated, `-` = absent.
    fn truth_table(table: &str) {
        for row in rows(table) {
            let values: Vec<&str> = match row[0] {
                "-" => Vec::new(),
                values => values.split(';').collect(),
            };
            assert_eq!(check(row[1], &values), row[2] == "true", "{row:?}");
        }
    }

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
    fn symbol_and_keyword_forms_are_equivalent() {
        let forms = [
            "((!(ActionMatches{'p/read'})) || (@Resource[a] StringEquals 'x' && @Request[b] StringEquals 'y'))",
            "((not (actionmatches{'p/read'})) or (@resource[a] stringequals 'x' and @REQUEST[b] STRINGEQUALS 'y'))",
            "((NOT(ActionMatches{'p/read'}))OR(@Resource[a] StringEquals'x'AND@Request[b]StringEquals'y'))",
        ];
        for form in forms {
            let c = parse(form);
            let request = |action, a, b| {
                let request = Req::new(action).with(Resource, "a", &[a]);
                c.evaluate(&request.with(Request, "b", &[b]))
            };
            assert!(request("p/read", "x", "y"), "{form}");
            assert!(!request("p/read", "x", "z"), "{form}");
            assert!(!request("P/READ", "z", "y"), "{form}");
            assert!(request("p/write", "z", "z"), "{form}");
        }
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

    #[test]
    fn grouping_rules() {
        let (t, f) = (
            "@Resource[t] BoolEquals true",
            "@Resource[f] BoolEquals true",
        );
        let request = Req::new("a").with(Resource, "t", &["true"]);
        let eval = |text: String| parse(&text).evaluate(&request);
        assert!(eval(format!("{t} AND {t} AND {t}")));
        assert!(!eval(format!("{t} && {t} && {f}")));
        assert!(eval(format!("{f} OR {f} || {t}")));
        assert!(eval(format!("({f} AND {t}) OR {t}")));
        assert!(!eval(format!("{f} AND ({t} OR {t})")));
        assert!(eval(format!("!{f} AND NOT ({f})")));
        assert!(eval(format!("!!{t}")));

        for (text, culprit) in [
            (format!("{t} AND {t} OR {t}"), "OR"),
            (format!("{t} || {t} && {t}"), "&&"),
            (format!("({t} AND {t} OR {t})"), "OR"),
        ] {
            let (pos, message) = error(&text);
            assert_eq!(pos, text.rfind(culprit).unwrap(), "{text}");
            assert!(
                message.starts_with("AND and OR cannot be mixed"),
                "{message}"
            );
        }
    }

    #[test]
    fn error_positions() {
        // position | condition | start of the message
        let table = r"
            0 | ((ActionMatches{'a'}) | unclosed '('
            20 | (ActionMatches{'a'} ActionMatches{'b'}) | expected ')', AND or OR, found 'ActionMatches'
            18 | ActionMatches{'a'}) | unmatched ')'
            13 | ActionMatches{'a' | unclosed '{'
            19 | ActionMatches{'a'  ActionMatches | expected '}', found 'ActionMatches'
            14 | ActionMatches 'a' | expected '{' after ActionMatches, found string 'a'
            14 | ActionMatches{a} | expected a quoted string in ActionMatches{…}, found 'a'
            26 | @Resource[x] StringEquals 'abc | unterminated string
            13 | @Resource[x] StringEqualz 'a' | unknown operator 'StringEqualz'
            13 | @Resource[x] NumericEqualsIgnoreCase 1 | unknown operator 'NumericEqualsIgnoreCase'
            13 | @Resource[x] NumericNotLessThan 1 | unknown operator 'NumericNotLessThan'
            13 | @Resource[x] ForSome:StringEquals {'a'} | unknown cross-product prefix 'ForSome'
            13 | @Resource[x] ForAnyOfAnyValues:BoolEquals true | 'ForAnyOfAnyValues:BoolEquals': cross-product prefixes only apply to String, Numeric and Guid operators
            24 | @Resource[x] BoolEquals {true, false} | 'BoolEquals' takes a single value, not a set
            26 | @Resource[x] StringEquals {} | empty set
            31 | @Resource[x] StringEquals {'a' 'b'} | expected ',' or '}', found string 'b'
            26 | @Resource[x] StringEquals {'a' | unclosed '{'
            31 | @Resource[x] StringEquals {'a', | missing value after 'StringEquals' (found end of condition)
            0 | @Reso[x] StringEquals 'a' | unknown attribute source '@Reso'
            9 | @Resource x | expected '[' after '@Resource'
            9 | @Resource[x StringEquals 'a' | unterminated attribute name, missing ']'
            9 | @Resource[] StringEquals 'a' | empty attribute name
            25 | @Resource[x] StringEquals | missing value after 'StringEquals' (found end of condition)
            26 | (@Resource[x] StringEquals) | missing value after 'StringEquals' (found ')')
            33 | @Resource[x] StringEquals 'a' AND | expected an attribute, a function such as ActionMatches, NOT or '(', found end of condition
            13 | @Resource[x] 'a' | expected an operator after '@Resource[x]', found string 'a'
            26 | @Resource[x] StringEquals abc | invalid value abc for 'StringEquals'; expected a quoted string
            27 | @Resource[x] NumericEquals '1' | invalid value '1' for 'NumericEquals'; expected an integer
            27 | @Resource[x] NumericEquals 1.5 | invalid value 1.5 for 'NumericEquals'; expected an integer
            24 | @Resource[x] BoolEquals yes | invalid value yes for 'BoolEquals'; expected true or false
            25 | @Resource[x] GuidEquals {'not-a-guid'} | invalid value 'not-a-guid' for 'GuidEquals'; expected a GUID
            28 | @Resource[x] DateTimeEquals '2023-02-29T00:00:00Z' | invalid value '2023-02-29T00:00:00Z' for 'DateTimeEquals'; expected a quoted date-time
            28 | @Resource[x] DateTimeEquals '2023-01-01T00:00:00.12345678Z' | invalid value
            28 | @Resource[x] DateTimeEquals '2023-01-01T00:00:00.Z' | invalid value
            28 | @Resource[x] DateTimeEquals '2023-01-01 00:00:00Z' | invalid value
            30 | @Resource[x] StringEquals 'a' extra | unexpected 'extra' after the end of the condition
            7 | Exists ActionMatches | expected an attribute such as @Resource[name] after Exists, found 'ActionMatches'
            0 | Frobnicate{'a'} | expected an attribute, a function such as ActionMatches, NOT or '(', found 'Frobnicate'
            1 | () | expected an attribute, a function such as ActionMatches, NOT or '(', found ')'
            19 | ActionMatches{'a'} & ActionMatches{'b'} | expected '&&'
            19 | ActionMatches{'a'} # x | unexpected character '#'
            32 | @Resource[ééé] StringEquals 'ü' ? | unexpected character '?'";
        for row in rows(table) {
            let (pos, message) = error(row[1]);
            assert!(message.starts_with(row[2]), "{row:?}: got {message:?}");
            assert_eq!(pos.to_string(), row[0], "{row:?}: {message}");
        }
        // The last row shows positions count characters, not bytes.
        assert_eq!(error(""), (0, "condition is empty".to_owned()));
        assert_eq!(error(" \n\t "), (0, "condition is empty".to_owned()));
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
    fn nesting_limit() {
        let atom = "ActionMatches{'a'}";
        let nested = |n: usize| format!("{}{atom}{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nested(MAX_DEPTH)).evaluate(&Req::new("a")));
        let too_deep = (
            MAX_DEPTH,
            "condition is nested deeper than 64 levels".to_owned(),
        );
        assert_eq!(error(&nested(MAX_DEPTH + 1)), too_deep);
        let nots = |n: usize| format!("{}{atom}", "!".repeat(n));
        assert!(
            parse(&nots(MAX_DEPTH)).evaluate(&Req::new("a")),
            "even number of NOTs"
        );
        assert_eq!(error(&nots(MAX_DEPTH + 1)), too_deep);
        // Far beyond the limit is still a clean error, not a stack overflow.
        assert_eq!(error(&"(!".repeat(4000)).0, MAX_DEPTH);
        // Depth is nesting, not a count: siblings at full depth are fine.
        let siblings = format!("{} OR {}", nested(MAX_DEPTH - 1), nested(MAX_DEPTH - 1));
        assert!(parse(&format!("({siblings})")).evaluate(&Req::new("a")));
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

    #[test]
    fn wildcards_are_not_exponential() {
        let value = "a".repeat(3000);
        assert!(!check("StringLike '*a*a*a*a*a*a*a*a*a*a*b'", &[&value]));
        assert!(!action_matches("*a*a*a*a*a*a*a*a*a*a*b", &value));
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
