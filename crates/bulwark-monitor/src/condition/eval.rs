//! Evaluation: resolve both sides against an observation, then compare. Missing data fails
//! the condition whatever the operator (see the module documentation).

use std::borrow::Cow;

use serde_json::Value as Json;

use super::parse::numeric;
use super::{
    Condition, Function, Observation, Operand, Operator, Outcome, Placeholder, Reference, Segment,
    pattern,
};

/// How many characters of a value an explanation shows.
const SHOWN_CHARS: usize = 64;

enum Value<'o> {
    Number(f64),
    Bool(bool),
    Text(Cow<'o, str>),
    Missing(&'static str),
}

impl Value<'_> {
    fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(t) => numeric(t),
            Value::Bool(_) | Value::Missing(_) => None,
        }
    }

    fn render(&self) -> Cow<'_, str> {
        match self {
            Value::Number(n) => Cow::Owned(render_number(*n)),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Text(t) => Cow::Borrowed(t),
            Value::Missing(reason) => Cow::Borrowed(reason),
        }
    }

    fn shown(&self) -> String {
        match self {
            Value::Missing(reason) => format!("missing: {reason}"),
            _ => shorten(&self.render()),
        }
    }
}

fn render_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn shorten(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .take(SHOWN_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(SHOWN_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

fn equal(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a.as_number(), b.as_number()) {
        (Some(x), Some(y)) => x == y,
        _ => a.render() == b.render(),
    }
}

pub(super) fn evaluate(condition: &Condition, observation: &Observation<'_>) -> Outcome {
    let left = resolve(&condition.left, observation);
    let operator = condition.operator;
    let mut explanation = format!("{} ({})", condition.left, left.shown());
    explanation.push(' ');
    explanation.push_str(operator.as_str());
    explanation.push(' ');
    explanation.push_str(&condition.right.to_string());
    let negate = operator == Operator::Ne;
    let success = match &condition.right {
        _ if matches!(left, Value::Missing(_)) => false,
        Operand::Pattern(p) => pattern::matches(p, &left.render()) != negate,
        Operand::Any(items) => {
            items
                .iter()
                .any(|item| equal(&left, &Value::Text(Cow::Borrowed(&item.text))))
                != negate
        }
        right_operand => {
            let right = resolve(right_operand, observation);
            if matches!(right_operand, Operand::Reference(_) | Operand::Function(..)) {
                explanation.push_str(&format!(" ({})", right.shown()));
            }
            compare(&left, operator, &right)
        }
    };
    Outcome {
        success,
        explanation,
    }
}

fn compare(left: &Value<'_>, operator: Operator, right: &Value<'_>) -> bool {
    if matches!(right, Value::Missing(_)) {
        return false;
    }
    match operator {
        Operator::Eq => equal(left, right),
        Operator::Ne => !equal(left, right),
        _ => {
            let (Some(l), Some(r)) = (left.as_number(), right.as_number()) else {
                return false;
            };
            match operator {
                Operator::Lt => l < r,
                Operator::Le => l <= r,
                Operator::Gt => l > r,
                _ => l >= r,
            }
        }
    }
}

fn resolve<'o>(operand: &'o Operand, observation: &'o Observation<'_>) -> Value<'o> {
    match operand {
        Operand::Reference(reference) => resolve_reference(reference, observation),
        Operand::Function(function, reference) => {
            resolve_function(*function, reference, observation)
        }
        Operand::Literal(literal) => Value::Text(Cow::Borrowed(&literal.text)),
        // Only ever on the right, where evaluate() handles them.
        Operand::Pattern(p) => Value::Text(Cow::Borrowed(p)),
        Operand::Any(_) => Value::Missing("any() is not a value"),
    }
}

fn millis(d: std::time::Duration) -> f64 {
    d.as_millis() as f64
}

fn resolve_reference<'o>(reference: &Reference, observation: &'o Observation<'_>) -> Value<'o> {
    match reference.placeholder {
        Placeholder::Status => observation
            .status
            .map_or(Value::Missing("no status"), |s| Value::Number(f64::from(s))),
        Placeholder::ResponseTime => Value::Number(millis(observation.response_time)),
        Placeholder::CertificateExpiration => observation
            .certificate_expiration
            .map_or(Value::Missing("no certificate"), |d| {
                Value::Number(millis(d))
            }),
        Placeholder::Connected => Value::Bool(observation.connected),
        Placeholder::Body => {
            let Some(body) = observation.body() else {
                return Value::Missing("no body");
            };
            if reference.path.is_empty() {
                return Value::Text(String::from_utf8_lossy(body));
            }
            match lookup(reference, observation) {
                Ok(json) => json_text(json),
                Err(reason) => Value::Missing(reason),
            }
        }
    }
}

fn lookup<'o>(
    reference: &Reference,
    observation: &'o Observation<'_>,
) -> Result<&'o Json, &'static str> {
    let Some(mut json) = observation.json() else {
        return Err("body is not JSON");
    };
    for segment in &reference.path {
        let next = match segment {
            Segment::Key(key) => json.as_object().and_then(|o| o.get(key)),
            Segment::Index(i) => json.as_array().and_then(|a| a.get(*i)),
        };
        json = next.ok_or("no such path")?;
    }
    Ok(json)
}

fn json_text(json: &Json) -> Value<'_> {
    match json {
        Json::String(s) => Value::Text(Cow::Borrowed(s)),
        Json::Bool(b) => Value::Bool(*b),
        other => Value::Text(Cow::Owned(other.to_string())),
    }
}

fn resolve_function<'o>(
    function: Function,
    reference: &Reference,
    observation: &'o Observation<'_>,
) -> Value<'o> {
    let Some(body) = observation.body() else {
        return Value::Missing("no body");
    };
    match function {
        Function::Has => Value::Bool(lookup(reference, observation).is_ok()),
        Function::Len if reference.path.is_empty() => {
            Value::Number(String::from_utf8_lossy(body).chars().count() as f64)
        }
        Function::Len => match lookup(reference, observation) {
            Ok(Json::Array(items)) => Value::Number(items.len() as f64),
            Ok(json) => Value::Number(json_text(json).render().chars().count() as f64),
            Err(reason) => Value::Missing(reason),
        },
    }
}
