//! The recursive-descent parser: tokens to the syntax tree, with every literal type-checked
//! against its operator so that a bad condition fails when the role assignment is written.
//! Errors say what was expected and what was found, at the character where it was found.

use super::ast::{Attribute, Comparison, Node, Operand, Quantifier};
use super::lexer::{Tok, Token};
use super::operator::{Family, Operator, Scalar, is_guid};
use super::{ConditionError, MAX_DEPTH, fail};

/// Parser state over the tokens of one condition.
pub(super) struct Parser {
    /// Remaining tokens, the next one last.
    pub(super) tokens: Vec<Token>,
    /// Character length of the text: the position reported for "found end of condition".
    pub(super) end: usize,
    pub(super) depth: usize,
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
    pub(super) fn parse_expr(&mut self) -> Result<Node, ConditionError> {
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
    use super::super::AttributeSource::Resource;
    use super::super::MAX_DEPTH;
    use super::super::test_support::{Req, error, parse, rows};

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
}
