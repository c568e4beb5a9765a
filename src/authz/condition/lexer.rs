//! The lexer: condition text (as characters, so positions count characters) to tokens.
//! Keywords (`AND`, `or`, `Not`) and their symbols (`&&`, `||`, `!`) become the same token;
//! an attribute reference `@Source[name]` is one token.

use std::fmt;

use super::ast::Attribute;
use super::{AttributeSource, ConditionError, fail};

/// One token of a condition.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) type Token = (usize, Tok);

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '+')
}

pub(super) fn lex(chars: &[char]) -> Result<Vec<Token>, ConditionError> {
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

#[cfg(test)]
mod tests {
    use super::super::AttributeSource::{Request, Resource};
    use super::super::test_support::{Req, parse};

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
}
