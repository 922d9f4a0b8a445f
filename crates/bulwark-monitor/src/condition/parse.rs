//! The condition parser: a hand-written scanner over the text, with byte positions turned
//! into 1-based character columns for errors.

use super::{
    Condition, ConditionError, Function, Kind, Literal, MAX_CONDITION_LEN, MAX_PATH_DEPTH, Operand,
    Operator, Placeholder, Reference, Segment,
};

pub(super) fn parse(text: &str) -> Result<Condition, ConditionError> {
    if text.len() > MAX_CONDITION_LEN {
        return Err(ConditionError::TooLong {
            len: text.len(),
            max: MAX_CONDITION_LEN,
        });
    }
    if text.trim().is_empty() {
        return Err(ConditionError::Empty);
    }
    let mut p = Scanner { text, pos: 0 };
    p.skip_whitespace();
    let left = p.left_operand()?;
    p.skip_whitespace();
    let operator_column = p.column();
    let operator = p.operator()?;
    p.skip_whitespace();
    let start = p.pos;
    let right_text = text[start..].trim_end();
    if right_text.is_empty() {
        return Err(ConditionError::ExpectedRightOperand { column: p.column() });
    }
    let end = start + right_text.len();
    let right_column = p.column();
    let (right, item_columns) = right_operand(text, start, end)?;

    // Parse-time checks of what goes with what.
    if !operator.is_equality() {
        match right {
            Operand::Pattern(_) => {
                return Err(ConditionError::EqualityOnly {
                    function: "pat",
                    column: right_column,
                });
            }
            Operand::Any(_) => {
                return Err(ConditionError::EqualityOnly {
                    function: "any",
                    column: right_column,
                });
            }
            _ => {}
        }
        let right_is_bool = matches!(right, Operand::Reference(_) | Operand::Function(..))
            && right.kind() == Kind::Bool;
        if left.kind() == Kind::Bool || right_is_bool {
            return Err(ConditionError::BooleanOrdering {
                column: operator_column,
            });
        }
    }
    let literals: Vec<(&Literal, usize)> = match &right {
        Operand::Literal(l) => vec![(l, right_column)],
        Operand::Any(items) => items.iter().zip(item_columns).collect(),
        _ => Vec::new(),
    };
    for (literal, column) in literals {
        match left.kind() {
            Kind::Number if literal.number.is_none() => {
                return Err(ConditionError::ExpectedNumber { column });
            }
            Kind::Bool if literal.text != "true" && literal.text != "false" => {
                return Err(ConditionError::ExpectedBool { column });
            }
            _ => {}
        }
    }
    let condition = Condition {
        left,
        operator,
        right,
    };
    // The printed form adds spaces around the operator and after commas; bound it too, so
    // that every parsed condition prints to text that parses again.
    let printed = condition.to_string().len();
    if printed > MAX_CONDITION_LEN {
        return Err(ConditionError::TooLong {
            len: printed,
            max: MAX_CONDITION_LEN,
        });
    }
    Ok(condition)
}

/// Parses the right side, `text[start..end]` (already trimmed). Also returns the column of
/// each `any(...)` item.
fn right_operand(
    text: &str,
    start: usize,
    end: usize,
) -> Result<(Operand, Vec<usize>), ConditionError> {
    let s = &text[start..end];
    let column = column_of(text, start);
    for (prefix, function) in [("pat(", "pat"), ("any(", "any")] {
        if let Some(after) = s.strip_prefix(prefix) {
            let Some(inner) = after.strip_suffix(')') else {
                return Err(ConditionError::UnclosedFunction { function, column });
            };
            if function == "pat" {
                return Ok((Operand::Pattern(inner.to_string()), Vec::new()));
            }
            let mut items = Vec::new();
            let mut columns = Vec::new();
            let mut offset = start + prefix.len();
            for raw in inner.split(',') {
                let leading = raw.len() - raw.trim_start().len();
                let item = raw.trim();
                let item_column = column_of(text, offset + leading);
                if item.is_empty() {
                    return Err(ConditionError::EmptyAnyItem {
                        column: item_column,
                    });
                }
                items.push(literal(item));
                columns.push(item_column);
                offset += raw.len() + 1;
            }
            return Ok((Operand::Any(items), columns));
        }
    }
    let structured = s.starts_with("len(") || s.starts_with("has(") || looks_like_placeholder(s);
    if structured {
        let mut p = Scanner {
            text: &text[..end],
            pos: start,
        };
        let operand = p.left_operand()?;
        if p.pos != end {
            return Err(ConditionError::TrailingText { column: p.column() });
        }
        return Ok((operand, Vec::new()));
    }
    Ok((Operand::Literal(literal(s)), Vec::new()))
}

/// `[NAME]` with an upper-case name: a placeholder, not a literal that happens to start
/// with a bracket.
fn looks_like_placeholder(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('[') else {
        return false;
    };
    let name_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_uppercase() || *b == b'_')
        .count();
    name_len > 0 && rest.as_bytes().get(name_len) == Some(&b']')
}

fn literal(text: &str) -> Literal {
    Literal {
        text: text.to_string(),
        number: numeric(text),
    }
}

/// A number (`-?digits[.digits]`) or a duration (`48h`, `1h30m`, `500ms`, `7d`) in
/// milliseconds; `None` for anything else, and for values too large to be useful.
pub(super) fn numeric(text: &str) -> Option<f64> {
    number(text).or_else(|| duration_ms(text).map(|ms| ms as f64))
}

fn number(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn duration_ms(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut i = 0;
    let mut total: u64 = 0;
    while i < bytes.len() {
        let digits_start = i;
        let mut value: u64 = 0;
        while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            i += 1;
        }
        if i == digits_start {
            return None;
        }
        let (unit_ms, unit_len) = match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'm'), Some(b's')) => (1, 2),
            (Some(b's'), _) => (1_000, 1),
            (Some(b'm'), _) => (60_000, 1),
            (Some(b'h'), _) => (3_600_000, 1),
            (Some(b'd'), _) => (86_400_000, 1),
            _ => return None,
        };
        i += unit_len;
        total = total.checked_add(value.checked_mul(unit_ms)?)?;
    }
    Some(total)
}

fn column_of(text: &str, pos: usize) -> usize {
    text.get(..pos).map_or(1, |s| s.chars().count() + 1)
}

fn is_key_char(c: char) -> bool {
    !c.is_whitespace() && !".[]()=!<>,".contains(c)
}

struct Scanner<'t> {
    text: &'t str,
    pos: usize,
}

impl Scanner<'_> {
    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn column(&self) -> usize {
        column_of(self.text, self.pos)
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn operator(&mut self) -> Result<Operator, ConditionError> {
        for (s, op) in [
            ("==", Operator::Eq),
            ("!=", Operator::Ne),
            ("<=", Operator::Le),
            (">=", Operator::Ge),
            ("<", Operator::Lt),
            (">", Operator::Gt),
        ] {
            if self.eat(s) {
                return Ok(op);
            }
        }
        Err(ConditionError::ExpectedOperator {
            column: self.column(),
        })
    }

    /// A placeholder with its path, or `len(...)` / `has(...)`.
    fn left_operand(&mut self) -> Result<Operand, ConditionError> {
        for (prefix, function, name) in [
            ("len(", Function::Len, "len"),
            ("has(", Function::Has, "has"),
        ] {
            let column = self.column();
            if self.eat(prefix) {
                self.skip_whitespace();
                let inner_column = self.column();
                if !self.rest().starts_with('[') {
                    return Err(ConditionError::FunctionNeedsBody {
                        function: name,
                        column: inner_column,
                    });
                }
                let reference = self.reference()?;
                if reference.placeholder != Placeholder::Body {
                    return Err(ConditionError::FunctionNeedsBody {
                        function: name,
                        column: inner_column,
                    });
                }
                if function == Function::Has && reference.path.is_empty() {
                    return Err(ConditionError::HasNeedsPath {
                        column: inner_column,
                    });
                }
                self.skip_whitespace();
                if !self.eat(")") {
                    return Err(ConditionError::UnclosedFunction {
                        function: name,
                        column,
                    });
                }
                return Ok(Operand::Function(function, reference));
            }
        }
        if self.rest().starts_with('[') {
            return Ok(Operand::Reference(self.reference()?));
        }
        Err(ConditionError::ExpectedLeftOperand {
            column: self.column(),
        })
    }

    fn reference(&mut self) -> Result<Reference, ConditionError> {
        let column = self.column();
        let rest = self.rest();
        let Some(close) = rest.find(']') else {
            return Err(ConditionError::UnclosedPlaceholder { column });
        };
        let placeholder = match &rest[1..close] {
            "STATUS" => Placeholder::Status,
            "RESPONSE_TIME" => Placeholder::ResponseTime,
            "BODY" => Placeholder::Body,
            "CERTIFICATE_EXPIRATION" => Placeholder::CertificateExpiration,
            "CONNECTED" => Placeholder::Connected,
            "IP" => return Err(unsupported("IP", column)),
            "DNS_RCODE" => return Err(unsupported("DNS_RCODE", column)),
            "DOMAIN_EXPIRATION" => return Err(unsupported("DOMAIN_EXPIRATION", column)),
            _ => return Err(ConditionError::UnknownPlaceholder { column }),
        };
        self.pos += close + 1;
        let mut path = Vec::new();
        loop {
            let segment_column = self.column();
            let segment = if self.eat(".") {
                let key: String = self
                    .rest()
                    .chars()
                    .take_while(|c| is_key_char(*c))
                    .collect();
                if key.is_empty() {
                    return Err(ConditionError::InvalidPath {
                        column: self.column(),
                        reason: "expected a key after '.'",
                    });
                }
                self.pos += key.len();
                Segment::Key(key)
            } else if self.eat("[") {
                let digits = self.rest().bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0 {
                    return Err(ConditionError::InvalidPath {
                        column: self.column(),
                        reason: "expected an array index after '['",
                    });
                }
                let index = self.rest()[..digits].parse::<usize>();
                self.pos += digits;
                let Ok(index) = index else {
                    return Err(ConditionError::InvalidPath {
                        column: segment_column,
                        reason: "array index too large",
                    });
                };
                if !self.eat("]") {
                    return Err(ConditionError::InvalidPath {
                        column: self.column(),
                        reason: "expected ']' after the array index",
                    });
                }
                Segment::Index(index)
            } else {
                break;
            };
            if placeholder != Placeholder::Body {
                return Err(ConditionError::PathNotAllowed {
                    column: segment_column,
                });
            }
            if path.len() == MAX_PATH_DEPTH {
                return Err(ConditionError::PathTooDeep {
                    column: segment_column,
                    max: MAX_PATH_DEPTH,
                });
            }
            path.push(segment);
        }
        Ok(Reference { placeholder, path })
    }
}

fn unsupported(name: &'static str, column: usize) -> ConditionError {
    ConditionError::UnsupportedPlaceholder { name, column }
}
