//! A small parser for the Prometheus text exposition format (version 0.0.4), enough to
//! read bulwark's own `/metrics` for threshold rules: sample lines
//! `name{label="value",...} value [timestamp]`; `#` lines (HELP, TYPE, comments) and blank
//! lines are skipped. Bounded in input size, samples and labels; never panics, so it can be
//! fuzzed.

use std::collections::BTreeMap;

use crate::matcher::is_label_name;

/// Larger input is refused rather than half-read.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;
pub const MAX_SAMPLES: usize = 200_000;
pub const MAX_LABELS_PER_SAMPLE: usize = 64;

/// One sample line. `value` may be infinite or NaN, as the format allows.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpositionError {
    #[error("exposition is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("exposition has more than {max} samples")]
    TooManySamples { max: usize },
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: LineProblem },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    #[error("invalid metric name")]
    BadMetricName,
    #[error("invalid label name")]
    BadLabelName,
    #[error("expected `=` after a label name")]
    ExpectedEquals,
    #[error("expected a quoted label value")]
    ExpectedQuote,
    #[error("unterminated or badly escaped label value")]
    BadLabelValue,
    #[error("expected `,` or `}}` in the label set")]
    ExpectedCommaOrBrace,
    #[error("label appears twice")]
    DuplicateLabel,
    #[error("more than {MAX_LABELS_PER_SAMPLE} labels")]
    TooManyLabels,
    #[error("missing or invalid sample value")]
    BadValue,
    #[error("invalid timestamp")]
    BadTimestamp,
    #[error("unexpected text after the sample")]
    TrailingText,
}

/// Parses a whole exposition. The first bad line fails the parse: bulwark's exporter
/// writes valid text, so a bad line means the input is not what it should be.
pub fn parse_exposition(text: &str) -> Result<Vec<Sample>, ExpositionError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(ExpositionError::TooLarge {
            max: MAX_INPUT_BYTES,
        });
    }
    let mut samples = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if samples.len() >= MAX_SAMPLES {
            return Err(ExpositionError::TooManySamples { max: MAX_SAMPLES });
        }
        let sample = parse_line(line).map_err(|problem| ExpositionError::Line {
            line: index + 1,
            problem,
        })?;
        samples.push(sample);
    }
    Ok(samples)
}

fn parse_line(line: &str) -> Result<Sample, LineProblem> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(LineProblem::BadMetricName);
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = parse_labels(after_brace, &mut labels)?;
    }
    let mut fields = rest.split_ascii_whitespace();
    if !rest.starts_with([' ', '\t']) {
        return Err(LineProblem::BadValue);
    }
    let value = fields
        .next()
        .and_then(parse_value)
        .ok_or(LineProblem::BadValue)?;
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| LineProblem::BadTimestamp)?;
    }
    if fields.next().is_some() {
        return Err(LineProblem::TrailingText);
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Reads `name="value",...}` and returns what follows the closing brace.
fn parse_labels<'a>(
    mut rest: &'a str,
    labels: &mut BTreeMap<String, String>,
) -> Result<&'a str, LineProblem> {
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        if labels.len() >= MAX_LABELS_PER_SAMPLE {
            return Err(LineProblem::TooManyLabels);
        }
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        if !is_label_name(name) {
            return Err(LineProblem::BadLabelName);
        }
        rest = rest[name_end..].trim_start();
        rest = rest
            .strip_prefix('=')
            .ok_or(LineProblem::ExpectedEquals)?
            .trim_start();
        rest = rest.strip_prefix('"').ok_or(LineProblem::ExpectedQuote)?;
        let (value, after) = read_quoted(rest)?;
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(LineProblem::DuplicateLabel);
        }
        rest = after.trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err(LineProblem::ExpectedCommaOrBrace);
        }
    }
}

/// Reads an escaped value up to its closing quote; returns the value and what follows.
fn read_quoted(text: &str) -> Result<(String, &str), LineProblem> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                _ => return Err(LineProblem::BadLabelValue),
            },
            c => value.push(c),
        }
    }
    Err(LineProblem::BadLabelValue)
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        // Rust also accepts "inf" and "infinity" spelled otherwise; the format does not.
        _ if text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
        {
            None
        }
        _ => text.parse::<f64>().ok(),
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    // The example from the Prometheus exposition-format documentation, trimmed.
    #[test]
    fn parses_the_documented_example() {
        let text = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

metric_without_timestamp_and_labels 12.47
something_weird{problem="division by zero"} +Inf -3982045
http_request_duration_seconds_bucket{le="+Inf"} 144320
"#;
        let samples = parse_exposition(text).unwrap();
        assert_eq!(samples.len(), 6);
        assert_eq!(samples[0].name, "http_requests_total");
        assert_eq!(
            samples[0].labels,
            labels(&[("method", "post"), ("code", "200")])
        );
        assert_eq!(samples[0].value, 1027.0);
        assert_eq!(samples[1].value, 3.0);
        assert_eq!(
            samples[2].labels,
            labels(&[
                ("path", "C:\\DIR\\FILE.TXT"),
                ("error", "Cannot find file:\n\"FILE.TXT\"")
            ])
        );
        assert_eq!(samples[2].value, 1_458_255_915.0);
        assert!(samples[3].labels.is_empty());
        assert_eq!(samples[3].value, 12.47);
        assert_eq!(samples[4].value, f64::INFINITY);
        assert_eq!(samples[5].labels, labels(&[("le", "+Inf")]));
    }

    #[test]
    fn accepts_trailing_comma_and_empty_braces() {
        let samples = parse_exposition("a{x=\"1\",} 2\nb{} 3\n").unwrap();
        assert_eq!(samples[0].labels, labels(&[("x", "1")]));
        assert_eq!(samples[1].value, 3.0);
    }

    #[test]
    fn bad_lines_are_typed_errors_with_line_numbers() {
        let cases: &[(&str, LineProblem)] = &[
            ("9abc 1", LineProblem::BadMetricName),
            ("a{1x=\"1\"} 1", LineProblem::BadLabelName),
            ("a{=\"1\"} 1", LineProblem::BadLabelName),
            ("a{x:\"1\"} 1", LineProblem::ExpectedEquals),
            ("a{x 1", LineProblem::ExpectedEquals),
            ("a{x=1} 1", LineProblem::ExpectedQuote),
            ("a{x=\"1} 1", LineProblem::BadLabelValue),
            ("a{x=\"\\q\"} 1", LineProblem::BadLabelValue),
            ("a{x=\"1\" y=\"2\"} 1", LineProblem::ExpectedCommaOrBrace),
            ("a{x=\"1\",x=\"2\"} 1", LineProblem::DuplicateLabel),
            ("a", LineProblem::BadValue),
            ("a infinity", LineProblem::BadValue),
            ("a{x=\"1\"}1", LineProblem::BadValue),
            ("a 1 soon", LineProblem::BadTimestamp),
            ("a 1 2 3", LineProblem::TrailingText),
        ];
        for (line, problem) in cases {
            let text = format!("# first\n{line}\n");
            assert_eq!(
                parse_exposition(&text),
                Err(ExpositionError::Line {
                    line: 2,
                    problem: *problem
                }),
                "{line}"
            );
        }
    }

    #[test]
    fn label_count_is_bounded() {
        let many: Vec<String> = (0..=MAX_LABELS_PER_SAMPLE)
            .map(|i| format!("l{i}=\"v\""))
            .collect();
        let line = format!("m{{{}}} 1", many.join(","));
        assert_eq!(
            parse_exposition(&line),
            Err(ExpositionError::Line {
                line: 1,
                problem: LineProblem::TooManyLabels
            })
        );
    }

    #[test]
    fn odd_bytes_do_not_panic() {
        for text in [
            "{",
            "a{",
            "a{x",
            "a{x=",
            "a{x=\"",
            "a{x=\"\\",
            "é 1",
            "a{é=\"1\"} 1",
            "a\u{0}1",
            "\u{feff}a 1",
        ] {
            let _ = parse_exposition(text);
        }
    }
}
