//! The body of `POST /admin/v1/alerts`: Alertmanager's v2 API list of postable alerts,
//! `[{"labels": {...}, "annotations": {...}, "startsAt", "endsAt", "generatorURL"}]`.
//!
//! Only `labels.alertname` is required. A missing `severity` becomes `medium` and the
//! common Prometheus value `warning` is read as `medium`; any other value must be one of
//! critical, high, medium, low, info. A missing `type` becomes `business` (an app's own
//! alert). Errors name the field (`[2].labels.severity`) and never echo the input.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::matcher::is_label_name;
use crate::model::{ALERTNAME, Alert, AlertType, SEVERITY, Severity, TYPE};
use crate::rfc3339;

pub const MAX_ALERTS_PER_POST: usize = 1000;
pub const MAX_LABELS: usize = 64;
pub const MAX_ANNOTATIONS: usize = 64;
pub const MAX_LABEL_VALUE_BYTES: usize = 1024;
pub const MAX_ANNOTATION_VALUE_BYTES: usize = 16 * 1024;
pub const MAX_URL_BYTES: usize = 2048;
/// Labels, annotations and URL of one alert together: the engine holds up to
/// [`MAX_POSTED_ALERTS`](crate::engine::MAX_POSTED_ALERTS) of them, so this bounds its
/// memory (and each notification's size).
pub const MAX_ALERT_BYTES: usize = 32 * 1024;

/// `0001-01-01T00:00:00Z` (Go's zero time) and `9999-12-31T23:59:59.999Z` in Unix ms.
const ZERO_TIME_MS: i64 = -62_135_596_800_000;
const LAST_TIME_MS: i64 = 253_402_300_799_999;

#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("body is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("body must be a JSON array of alerts")]
    NotAList,
    #[error("body has {count} alerts; at most {max} per request")]
    TooManyAlerts { count: usize, max: usize },
    #[error("{field}: {problem}")]
    Field {
        field: String,
        problem: FieldProblem,
    },
    #[error("more than {max} posted alerts are active; let some resolve first")]
    TooManyActive { max: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    #[error("must be an object")]
    NotAnObject,
    #[error("is required")]
    Missing,
    #[error("must be a string")]
    NotAString,
    #[error("must not be empty")]
    Empty,
    #[error("has a name that is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)")]
    BadLabelName,
    #[error("is longer than {max} bytes")]
    TooLong { max: usize },
    #[error("has more than {max} entries")]
    TooManyEntries { max: usize },
    #[error("must be one of critical, high, medium, low, info")]
    UnknownSeverity,
    #[error("must be one of security, system, api, performance, business")]
    UnknownType,
    #[error("must be an RFC 3339 time")]
    BadTime,
    #[error("is before startsAt")]
    EndsBeforeStarts,
}

impl PostError {
    fn field(field: String, problem: FieldProblem) -> PostError {
        PostError::Field { field, problem }
    }
}

/// Parses and validates a body. `starts_at_ms` is `startsAt`, else the earlier of `now_ms`
/// and `endsAt`; `ends_at_ms` is `endsAt` when given.
pub fn parse_posted_alerts(body: &[u8], now_ms: i64) -> Result<Vec<Alert>, PostError> {
    let value: Value = serde_json::from_slice(body).map_err(PostError::Json)?;
    let Value::Array(items) = value else {
        return Err(PostError::NotAList);
    };
    if items.len() > MAX_ALERTS_PER_POST {
        return Err(PostError::TooManyAlerts {
            count: items.len(),
            max: MAX_ALERTS_PER_POST,
        });
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| parse_one(index, item, now_ms))
        .collect()
}

fn parse_one(index: usize, item: &Value, now_ms: i64) -> Result<Alert, PostError> {
    let at = |field: &str| format!("[{index}].{field}");
    let Value::Object(object) = item else {
        return Err(PostError::field(
            format!("[{index}]"),
            FieldProblem::NotAnObject,
        ));
    };
    let mut labels = match object.get("labels") {
        None | Some(Value::Null) => {
            return Err(PostError::field(at("labels"), FieldProblem::Missing));
        }
        Some(value) => string_map(
            value,
            &at("labels"),
            MAX_LABELS,
            MAX_LABEL_VALUE_BYTES,
            true,
        )?,
    };
    match labels.get(ALERTNAME) {
        None => {
            return Err(PostError::field(
                at("labels.alertname"),
                FieldProblem::Missing,
            ));
        }
        Some(name) if name.trim().is_empty() => {
            return Err(PostError::field(
                at("labels.alertname"),
                FieldProblem::Empty,
            ));
        }
        Some(_) => {}
    }
    let severity = match labels.get(SEVERITY).map(String::as_str) {
        None => Severity::Medium,
        Some(s) if s.eq_ignore_ascii_case("warning") => Severity::Medium,
        Some(s) => Severity::parse(s).ok_or_else(|| {
            PostError::field(at("labels.severity"), FieldProblem::UnknownSeverity)
        })?,
    };
    let alert_type = match labels.get(TYPE) {
        None => AlertType::Business,
        Some(t) => AlertType::parse(t)
            .ok_or_else(|| PostError::field(at("labels.type"), FieldProblem::UnknownType))?,
    };
    // Normalised so that `High` and `high` are the same alert (same fingerprint).
    labels.insert(SEVERITY.to_owned(), severity.label().to_owned());
    labels.insert(TYPE.to_owned(), alert_type.label().to_owned());

    let annotations = match object.get("annotations") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => string_map(
            value,
            &at("annotations"),
            MAX_ANNOTATIONS,
            MAX_ANNOTATION_VALUE_BYTES,
            false,
        )?,
    };
    let starts_at = optional_time(object, "startsAt", &at("startsAt"))?;
    let ends_at = optional_time(object, "endsAt", &at("endsAt"))?;
    // Like Alertmanager, an alert posted already resolved (no `startsAt`, `endsAt` in the
    // past) starts when it ended, so it never ends before it starts.
    let starts_at_ms = starts_at.unwrap_or(match ends_at {
        Some(ends) => ends.min(now_ms),
        None => now_ms,
    });
    if let Some(ends) = ends_at
        && ends < starts_at_ms
        && starts_at.is_some()
    {
        return Err(PostError::field(
            at("endsAt"),
            FieldProblem::EndsBeforeStarts,
        ));
    }
    let generator_url = match object.get("generatorURL") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(url)) if url.len() > MAX_URL_BYTES => {
            return Err(PostError::field(
                at("generatorURL"),
                FieldProblem::TooLong { max: MAX_URL_BYTES },
            ));
        }
        Some(Value::String(url)) => url.clone(),
        Some(_) => {
            return Err(PostError::field(
                at("generatorURL"),
                FieldProblem::NotAString,
            ));
        }
    };
    let size: usize = labels
        .iter()
        .chain(annotations.iter())
        .map(|(k, v)| k.len() + v.len())
        .sum::<usize>()
        + generator_url.len();
    if size > MAX_ALERT_BYTES {
        return Err(PostError::field(
            format!("[{index}]"),
            FieldProblem::TooLong {
                max: MAX_ALERT_BYTES,
            },
        ));
    }
    Ok(Alert {
        labels,
        annotations,
        starts_at_ms,
        ends_at_ms: ends_at,
        generator_url,
    })
}

fn string_map(
    value: &Value,
    field: &str,
    max_entries: usize,
    max_value_bytes: usize,
    label_names: bool,
) -> Result<BTreeMap<String, String>, PostError> {
    let Value::Object(object) = value else {
        return Err(PostError::field(
            field.to_owned(),
            FieldProblem::NotAnObject,
        ));
    };
    if object.len() > max_entries {
        return Err(PostError::field(
            field.to_owned(),
            FieldProblem::TooManyEntries { max: max_entries },
        ));
    }
    let mut out = BTreeMap::new();
    for (name, value) in object {
        if label_names && !is_label_name(name) {
            return Err(PostError::field(
                field.to_owned(),
                FieldProblem::BadLabelName,
            ));
        }
        // Names are valid label names here, so naming them in the path echoes nothing odd.
        let name_field = if label_names {
            format!("{field}.{name}")
        } else {
            field.to_owned()
        };
        let Value::String(text) = value else {
            return Err(PostError::field(name_field, FieldProblem::NotAString));
        };
        if text.len() > max_value_bytes {
            return Err(PostError::field(
                name_field,
                FieldProblem::TooLong {
                    max: max_value_bytes,
                },
            ));
        }
        out.insert(name.clone(), text.clone());
    }
    Ok(out)
}

fn optional_time(
    object: &Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<Option<i64>, PostError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => {
            // An offset can carry a time outside years 1..=9999, which could not be
            // written back out as RFC 3339; such a time is refused rather than mangled.
            let ms = rfc3339::parse_ms(text)
                .filter(|ms| (ZERO_TIME_MS..=LAST_TIME_MS).contains(ms))
                .ok_or_else(|| PostError::field(field.to_owned(), FieldProblem::BadTime))?;
            // Go's zero time means "not set" in Alertmanager's API. Go compares the
            // instant, not the spelling, so `0001-01-01T00:00:00.000Z` is zero too.
            Ok((ms != ZERO_TIME_MS).then_some(ms))
        }
        Some(_) => Err(PostError::field(field.to_owned(), FieldProblem::NotAString)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_error(body: &str) -> (String, FieldProblem) {
        match parse_posted_alerts(body.as_bytes(), 0) {
            Err(PostError::Field { field, problem }) => (field, problem),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_full_alert() {
        let body = r#"[{
            "labels": {"alertname": "PaymentWebhooksStopped", "severity": "HIGH", "shop": "eu"},
            "annotations": {"summary": "No payment webhooks for 10 minutes"},
            "startsAt": "2023-11-14T22:13:20Z",
            "endsAt": "2023-11-14T23:13:20.5+01:00",
            "generatorURL": "https://app.example/health"
        }]"#;
        let alerts = parse_posted_alerts(body.as_bytes(), 5).unwrap();
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.labels["alertname"], "PaymentWebhooksStopped");
        assert_eq!(a.labels["severity"], "high");
        assert_eq!(a.labels["type"], "business");
        assert_eq!(a.labels["shop"], "eu");
        assert_eq!(
            a.annotations["summary"],
            "No payment webhooks for 10 minutes"
        );
        assert_eq!(a.starts_at_ms, 1_700_000_000_000);
        assert_eq!(a.ends_at_ms, Some(1_700_000_000_500));
        assert_eq!(a.generator_url, "https://app.example/health");
    }

    #[test]
    fn defaults_for_a_minimal_alert() {
        let alerts = parse_posted_alerts(br#"[{"labels":{"alertname":"A","severity":"warning"},"endsAt":"0001-01-01T00:00:00Z"}]"#, 42).unwrap();
        assert_eq!(alerts[0].labels["severity"], "medium");
        assert_eq!(alerts[0].starts_at_ms, 42);
        assert_eq!(alerts[0].ends_at_ms, None);
        assert!(parse_posted_alerts(b"[]", 0).unwrap().is_empty());
    }

    // Found by the fuzz target's print-then-parse check: the start defaulted to `now`
    // even when `endsAt` was earlier, giving an alert that ends before it starts.
    #[test]
    fn resolved_alert_without_start_starts_when_it_ended() {
        let body = br#"[{"labels":{"alertname":"A"},"endsAt":"2023-11-14T22:13:20Z"}]"#;
        let alerts = parse_posted_alerts(body, 1_700_000_100_000).unwrap();
        assert_eq!(alerts[0].starts_at_ms, 1_700_000_000_000);
        assert_eq!(alerts[0].ends_at_ms, Some(1_700_000_000_000));
        // An end still ahead leaves the start at now.
        let alerts = parse_posted_alerts(body, 1_699_999_000_000).unwrap();
        assert_eq!(alerts[0].starts_at_ms, 1_699_999_000_000);
    }

    // Found by the fuzz target's print-then-parse check: the zero time spelled another way
    // was a real start in year 1, and offsets reached years 0 and 10000, which print as
    // text no parser reads.
    #[test]
    fn times_are_zero_by_instant_and_within_years_1_to_9999() {
        for zero in ["0001-01-01T00:00:00.000Z", "0001-01-01T01:00:00+01:00"] {
            let body = format!(
                r#"[{{"labels":{{"alertname":"A"}},"startsAt":"{zero}","endsAt":"{zero}"}}]"#
            );
            let alerts = parse_posted_alerts(body.as_bytes(), 7).unwrap();
            assert_eq!(
                (alerts[0].starts_at_ms, alerts[0].ends_at_ms),
                (7, None),
                "{zero}"
            );
        }
        let last = br#"[{"labels":{"alertname":"A"},"startsAt":"9999-12-31T23:59:59.999Z"}]"#;
        assert_eq!(
            parse_posted_alerts(last, 0).unwrap()[0].starts_at_ms,
            253_402_300_799_999
        );
        for (time, field) in [
            ("9999-12-31T23:59:59-01:00", "startsAt"),
            ("0001-01-01T00:00:00+00:01", "startsAt"),
            ("0000-06-01T00:00:00Z", "endsAt"),
        ] {
            let body = format!(r#"[{{"labels":{{"alertname":"A"}},"{field}":"{time}"}}]"#);
            assert_eq!(
                field_error(&body),
                (format!("[0].{field}"), FieldProblem::BadTime),
                "{time}"
            );
        }
    }

    #[test]
    fn one_alert_is_bounded_as_a_whole() {
        // Each annotation is within its own limit; together they are not.
        let big = "a".repeat(15 * 1024);
        let body = serde_json::json!([{
            "labels": { "alertname": "Big" },
            "annotations": { "a": big, "b": big, "c": big }
        }]);
        let error = parse_posted_alerts(body.to_string().as_bytes(), 0).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("[0]: {}", FieldProblem::TooLong { max: 32 * 1024 })
        );
        let fits = serde_json::json!([{
            "labels": { "alertname": "Big" },
            "annotations": { "a": big, "b": "short" }
        }]);
        assert_eq!(
            parse_posted_alerts(fits.to_string().as_bytes(), 0)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn bad_bodies_are_typed_errors() {
        assert!(matches!(
            parse_posted_alerts(b"{", 0),
            Err(PostError::Json(_))
        ));
        assert!(matches!(
            parse_posted_alerts(br#"{"labels":{}}"#, 0),
            Err(PostError::NotAList)
        ));
        let many = format!("[{}]", vec!["{}"; MAX_ALERTS_PER_POST + 1].join(","));
        assert!(matches!(
            parse_posted_alerts(many.as_bytes(), 0),
            Err(PostError::TooManyAlerts {
                count: 1001,
                max: 1000
            })
        ));
        let cases: &[(&str, &str, FieldProblem)] = &[
            (r#"[1]"#, "[0]", FieldProblem::NotAnObject),
            (r#"[{}]"#, "[0].labels", FieldProblem::Missing),
            (
                r#"[{"labels":[]}]"#,
                "[0].labels",
                FieldProblem::NotAnObject,
            ),
            (
                r#"[{"labels":{"x":"1"}}]"#,
                "[0].labels.alertname",
                FieldProblem::Missing,
            ),
            (
                r#"[{"labels":{"alertname":" "}}]"#,
                "[0].labels.alertname",
                FieldProblem::Empty,
            ),
            (
                r#"[{"labels":{"alertname":1}}]"#,
                "[0].labels.alertname",
                FieldProblem::NotAString,
            ),
            (
                r#"[{"labels":{"alertname":"A","bad-name":"x"}}]"#,
                "[0].labels",
                FieldProblem::BadLabelName,
            ),
            (
                r#"[{"labels":{"alertname":"A","severity":"urgent"}}]"#,
                "[0].labels.severity",
                FieldProblem::UnknownSeverity,
            ),
            (
                r#"[{"labels":{"alertname":"A","type":"money"}}]"#,
                "[0].labels.type",
                FieldProblem::UnknownType,
            ),
            (
                r#"[{"labels":{"alertname":"A"},"annotations":{"s":2}}]"#,
                "[0].annotations",
                FieldProblem::NotAString,
            ),
            (
                r#"[{"labels":{"alertname":"A"},"startsAt":"yesterday"}]"#,
                "[0].startsAt",
                FieldProblem::BadTime,
            ),
            (
                r#"[{"labels":{"alertname":"A"},"endsAt":5}]"#,
                "[0].endsAt",
                FieldProblem::NotAString,
            ),
            (
                r#"[{"labels":{"alertname":"A"},"startsAt":"2023-11-14T22:13:20Z","endsAt":"2023-11-14T22:13:19Z"}]"#,
                "[0].endsAt",
                FieldProblem::EndsBeforeStarts,
            ),
            (
                r#"[{"labels":{"alertname":"A"},"generatorURL":{}}]"#,
                "[0].generatorURL",
                FieldProblem::NotAString,
            ),
            (
                r#"[{"labels":{"alertname":"A"}},{"labels":{"alertname":"B","severity":"x"}}]"#,
                "[1].labels.severity",
                FieldProblem::UnknownSeverity,
            ),
        ];
        for (body, field, problem) in cases {
            assert_eq!(field_error(body), ((*field).to_owned(), *problem), "{body}");
        }
        let long = format!(
            r#"[{{"labels":{{"alertname":"{}"}}}}]"#,
            "a".repeat(MAX_LABEL_VALUE_BYTES + 1)
        );
        assert_eq!(
            field_error(&long),
            (
                "[0].labels.alertname".to_owned(),
                FieldProblem::TooLong {
                    max: MAX_LABEL_VALUE_BYTES
                }
            )
        );
    }
}
