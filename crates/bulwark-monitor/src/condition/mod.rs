//! Monitor conditions in Gatus's syntax: `[STATUS] == 200`, `[BODY].status == UP`,
//! `len([BODY].items) > 0`, `[CERTIFICATE_EXPIRATION] > 48h`, ...
//!
//! A condition is `left operator right`. The left side is a placeholder (optionally with a
//! JSON path after `[BODY]`) or one of the functions `len(...)` / `has(...)`; the right side
//! is a placeholder, a function, a literal, `pat(...)` or `any(...)`. Operators: `==`, `!=`,
//! `<`, `<=`, `>`, `>=`.
//!
//! # Semantics, and where they differ from Gatus
//!
//! Gatus's README (conditions, placeholders and functions tables) is the reference. The
//! choices made here:
//!
//! - Placeholders: `[STATUS]` (HTTP status), `[RESPONSE_TIME]` (whole milliseconds),
//!   `[BODY]` (the body as text, or a JSON value with a path), `[CERTIFICATE_EXPIRATION]`
//!   (milliseconds until the certificate expires), `[CONNECTED]` (`true` / `false`).
//!   Gatus's `[IP]`, `[DNS_RCODE]` and `[DOMAIN_EXPIRATION]` are refused at parse time with
//!   an "unsupported placeholder" error: bulwark's probes do not observe them.
//! - JSON paths: `[BODY].a.b`, `[BODY].items[0].name`, and `[BODY][0]` for a top-level
//!   array. A key is any run of characters other than whitespace and `.[]()=!<>,`. At most
//!   32 segments. A string resolves to its content (no quotes), a number to its JSON text,
//!   `true`/`false`/`null` to those words, an object or array to its minified JSON.
//! - `len(path)`: the element count of an array, otherwise the number of characters of the
//!   value resolved as above (so `len([BODY].name) == 8` for `"john.doe"`). `len([BODY])` is
//!   the number of characters of the whole body. Only `[BODY]` is accepted, as in Gatus.
//! - `has(path)`: whether the path exists in the JSON body; `false` when the body is not
//!   JSON. A path is required. It compares only with `true` / `false`.
//! - `pat(...)`: a glob where `*` matches any run of characters (possibly empty) and every
//!   other character matches itself, case-sensitively, against the whole value. Like Gatus,
//!   only with `==` / `!=`, and only on the right side. The text between the parentheses is
//!   taken verbatim, spaces included.
//! - `any(a, b, ...)`: equal to at least one item; items are trimmed and may not be empty.
//!   Only with `==` / `!=` (`!=` means equal to none of them).
//! - Numbers and durations: a literal is a number (`-?digits[.digits]`) or a duration made
//!   of `<digits><unit>` parts with units `ms`, `s`, `m`, `h`, `d` (`48h`, `1h30m`, `7d`),
//!   which counts as its milliseconds wherever a number is expected, as Gatus does with
//!   Go durations (Gatus has no `d`; we add it because certificate thresholds are in days).
//!   A plain number next to `[CERTIFICATE_EXPIRATION]` is therefore milliseconds, as in
//!   Gatus.
//! - `==` / `!=` compare numerically when both sides read as numbers (so `[BODY].id == 1`
//!   holds for `1` and `1.0`), otherwise as text. Gatus always compares text; the
//!   difference only shows for spellings like `1.0`. `<`, `<=`, `>`, `>=` need numbers on
//!   both sides; a side that is not a number makes the condition fail (Gatus reads it as 0).
//! - Typed placeholders are checked at parse time: a literal next to `[STATUS]`,
//!   `[RESPONSE_TIME]`, `[CERTIFICATE_EXPIRATION]` or `len(...)` must be a number or
//!   duration, one next to `[CONNECTED]` or `has(...)` must be `true` or `false`, and
//!   booleans do not take `<` and friends.
//! - Missing data fails the condition whatever the operator, so `[STATUS] != 500` does not
//!   pass when no response arrived: a missing status, a missing body, a missing certificate
//!   (Gatus resolves that one to 0), a body that is not JSON where a path is used, or a path
//!   that does not exist (Gatus's "(INVALID)"; `has` is the one way to test for absence).
//! - Whitespace around the operator is optional (Gatus needs it); leading and trailing
//!   whitespace is ignored. Names are case-sensitive, as in Gatus.
//! - Bounds: the condition text, and its canonical printed form, are at most 1 KiB; errors name what went wrong and the
//!   1-based character column, and never repeat the text itself.
//!
//! [`Condition`]'s `Display` prints a canonical form that parses back to an equal condition.
//! Parsing and evaluation never panic, whatever the input.

mod error;
mod eval;
mod parse;
mod pattern;
#[cfg(test)]
mod tests;

use std::cell::OnceCell;
use std::fmt;
use std::time::Duration;

pub use error::ConditionError;

/// The longest condition text accepted, in bytes.
pub const MAX_CONDITION_LEN: usize = 1024;
/// The most segments a JSON path may have (`.a` and `[0]` count one each).
pub const MAX_PATH_DEPTH: usize = 32;

/// One parsed condition, ready to evaluate against any number of observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    left: Operand,
    operator: Operator,
    right: Operand,
}

/// The result of evaluating a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the condition holds.
    pub success: bool,
    /// The condition with the observed values in parentheses, Gatus-style:
    /// `[STATUS] (503) == 200`. Long values are shortened.
    pub explanation: String,
}

/// What one probe saw. Build it with [`Observation::new`] and the `with_*` methods (or set
/// the public fields); the body is only set through [`Observation::with_body`] so that the
/// JSON parsed from it, once and only when a condition needs it, can never go stale.
#[derive(Debug, Clone, Default)]
pub struct Observation<'a> {
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// How long the check took.
    pub response_time: Duration,
    /// Time left until the certificate expires, when there was one.
    pub certificate_expiration: Option<Duration>,
    /// Whether a connection could be established.
    pub connected: bool,
    body: Option<&'a [u8]>,
    json: OnceCell<Option<serde_json::Value>>,
}

impl<'a> Observation<'a> {
    /// Nothing observed: not connected, no status, no body, no certificate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the status (and implies a connection).
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self.connected = true;
        self
    }

    /// Sets the response time.
    pub fn with_response_time(mut self, response_time: Duration) -> Self {
        self.response_time = response_time;
        self
    }

    /// Sets the time left until the certificate expires.
    pub fn with_certificate_expiration(mut self, left: Duration) -> Self {
        self.certificate_expiration = Some(left);
        self
    }

    /// Sets whether a connection could be established.
    pub fn with_connected(mut self, connected: bool) -> Self {
        self.connected = connected;
        self
    }

    /// Sets the response body.
    pub fn with_body(mut self, body: &'a [u8]) -> Self {
        self.body = Some(body);
        self.json = OnceCell::new();
        self
    }

    /// The response body, when one arrived.
    pub fn body(&self) -> Option<&'a [u8]> {
        self.body
    }

    /// The body as JSON, parsed on first use; `None` when there is no body or it is not
    /// JSON.
    fn json(&self) -> Option<&serde_json::Value> {
        self.json
            .get_or_init(|| self.body.and_then(|b| serde_json::from_slice(b).ok()))
            .as_ref()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Operator {
    fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "==",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
        }
    }

    fn is_equality(self) -> bool {
        matches!(self, Operator::Eq | Operator::Ne)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Status,
    ResponseTime,
    Body,
    CertificateExpiration,
    Connected,
}

impl Placeholder {
    fn name(self) -> &'static str {
        match self {
            Placeholder::Status => "STATUS",
            Placeholder::ResponseTime => "RESPONSE_TIME",
            Placeholder::Body => "BODY",
            Placeholder::CertificateExpiration => "CERTIFICATE_EXPIRATION",
            Placeholder::Connected => "CONNECTED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// A placeholder with its JSON path (only `[BODY]` has one).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    placeholder: Placeholder,
    path: Vec<Segment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Len,
    Has,
}

/// A literal as written, with its value as a number when it reads as one (durations in
/// milliseconds).
#[derive(Debug, Clone, PartialEq)]
struct Literal {
    text: String,
    number: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Reference(Reference),
    Function(Function, Reference),
    Literal(Literal),
    Pattern(String),
    Any(Vec<Literal>),
}

/// What kind of value an operand yields, for the parse-time checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Bool,
    Text,
}

impl Operand {
    fn kind(&self) -> Kind {
        match self {
            Operand::Reference(r) => match r.placeholder {
                Placeholder::Status
                | Placeholder::ResponseTime
                | Placeholder::CertificateExpiration => Kind::Number,
                Placeholder::Connected => Kind::Bool,
                Placeholder::Body => Kind::Text,
            },
            Operand::Function(Function::Len, _) => Kind::Number,
            Operand::Function(Function::Has, _) => Kind::Bool,
            Operand::Literal(_) | Operand::Pattern(_) | Operand::Any(_) => Kind::Text,
        }
    }
}

impl Condition {
    /// Parses one condition. See the [module documentation](self) for the syntax.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        parse::parse(text)
    }

    /// Evaluates the condition against one observation. Pure; never panics.
    pub fn evaluate(&self, observation: &Observation<'_>) -> Outcome {
        eval::evaluate(self, observation)
    }
}

impl std::str::FromStr for Condition {
    type Err = ConditionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Condition::parse(text)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.placeholder.name())?;
        for segment in &self.path {
            match segment {
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Reference(r) => r.fmt(f),
            Operand::Function(Function::Len, r) => write!(f, "len({r})"),
            Operand::Function(Function::Has, r) => write!(f, "has({r})"),
            Operand::Literal(l) => f.write_str(&l.text),
            Operand::Pattern(p) => write!(f, "pat({p})"),
            Operand::Any(items) => {
                f.write_str("any(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&item.text)?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.left, self.operator.as_str(), self.right)
    }
}
