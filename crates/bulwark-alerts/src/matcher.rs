//! Label matchers (`name="value"`, `name!="value"`) shared by routes, silences and
//! maintenance windows. As in Alertmanager, a missing label matches as the empty string.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchOp {
    Equal,
    NotEqual,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherParseError {
    #[error("matcher has no `=` or `!=` operator")]
    NoOperator,
    #[error("matcher label name {0:?} is not a valid label name")]
    BadName(String),
    #[error("matcher value is not properly quoted")]
    BadQuoting,
}

impl Matcher {
    pub fn equal(name: &str, value: &str) -> Matcher {
        Matcher {
            name: name.to_owned(),
            op: MatchOp::Equal,
            value: value.to_owned(),
        }
    }

    pub fn not_equal(name: &str, value: &str) -> Matcher {
        Matcher {
            name: name.to_owned(),
            op: MatchOp::NotEqual,
            value: value.to_owned(),
        }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let actual = labels.get(&self.name).map_or("", String::as_str);
        match self.op {
            MatchOp::Equal => actual == self.value,
            MatchOp::NotEqual => actual != self.value,
        }
    }

    /// True when the matcher also matches a label set without this label; a silence made
    /// only of such matchers would mute everything, which Alertmanager refuses too.
    pub fn matches_empty(&self) -> bool {
        match self.op {
            MatchOp::Equal => self.value.is_empty(),
            MatchOp::NotEqual => !self.value.is_empty(),
        }
    }

    /// Parses `name="value"`, `name!="value"` or the unquoted forms `name=value`.
    pub fn parse(text: &str) -> Result<Matcher, MatcherParseError> {
        let (name, op, raw) = if let Some((n, v)) = text.split_once("!=") {
            (n, MatchOp::NotEqual, v)
        } else if let Some((n, v)) = text.split_once('=') {
            (n, MatchOp::Equal, v)
        } else {
            return Err(MatcherParseError::NoOperator);
        };
        let name = name.trim();
        if !is_label_name(name) {
            return Err(MatcherParseError::BadName(name.to_owned()));
        }
        let raw = raw.trim();
        let value = if let Some(inner) = raw.strip_prefix('"') {
            let inner = inner
                .strip_suffix('"')
                .ok_or(MatcherParseError::BadQuoting)?;
            unescape(inner).ok_or(MatcherParseError::BadQuoting)?
        } else {
            raw.to_owned()
        };
        Ok(Matcher {
            name: name.to_owned(),
            op,
            value,
        })
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
        };
        write!(f, "{}{}\"{}\"", self.name, op, escape(&self.value))
    }
}

/// True when every matcher matches (an empty list matches everything).
pub fn all_match(matchers: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// Prometheus's label name syntax: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                _ => return None,
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_label_matches_as_empty() {
        let labels = BTreeMap::from([("a".to_owned(), "1".to_owned())]);
        assert!(Matcher::equal("b", "").matches(&labels));
        assert!(!Matcher::equal("b", "x").matches(&labels));
        assert!(Matcher::not_equal("b", "x").matches(&labels));
        assert!(!Matcher::not_equal("a", "1").matches(&labels));
    }

    #[test]
    fn parses_both_operators() {
        assert_eq!(
            Matcher::parse("severity=\"critical\""),
            Ok(Matcher::equal("severity", "critical"))
        );
        assert_eq!(
            Matcher::parse("env != prod"),
            Ok(Matcher::not_equal("env", "prod"))
        );
        assert_eq!(
            Matcher::parse("a=\"x\\\"y\""),
            Ok(Matcher::equal("a", "x\"y"))
        );
        assert_eq!(
            Matcher::parse("nothing"),
            Err(MatcherParseError::NoOperator)
        );
        assert_eq!(
            Matcher::parse("1a=b"),
            Err(MatcherParseError::BadName("1a".to_owned()))
        );
        assert_eq!(Matcher::parse("a=\"b"), Err(MatcherParseError::BadQuoting));
        assert_eq!(Matcher::equal("a", "x\"y").to_string(), "a=\"x\\\"y\"");
    }
}
