// What the alert fuzz targets run, shared with the corpus replay test so CI replays
// exactly what the fuzzer exercised. Included with `include!` by
// fuzz_targets/alerts_exposition.rs, fuzz_targets/alerts_post.rs and by
// crates/bulwark-alerts/tests/fuzz_corpus.rs.
//
// Beyond "no panic": whatever parses is within the crate's documented limits and
// syntax, and printing the parsed result back out and parsing it again gives the same
// result, so the parser neither invents nor loses data.

/// Prometheus text exposition on arbitrary text.
#[allow(dead_code)]
pub fn exposition(text: &str) {
    use bulwark_alerts::exposition::{MAX_LABELS_PER_SAMPLE, MAX_SAMPLES};
    use bulwark_alerts::{ExpositionError, parse_exposition};

    let line_count = text.lines().count();
    let samples = match parse_exposition(text) {
        Ok(samples) => samples,
        Err(ExpositionError::Line { line, .. }) => {
            assert!(line >= 1 && line <= line_count, "error line {line} exists");
            return;
        }
        Err(_) => return,
    };
    // Blank and `#` lines are skipped; every other line is exactly one sample.
    let sample_lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(samples.len(), sample_lines, "one sample per sample line");
    assert!(samples.len() <= MAX_SAMPLES);
    for sample in &samples {
        assert!(
            is_metric_name(&sample.name),
            "metric name {:?}",
            sample.name
        );
        assert!(sample.labels.len() <= MAX_LABELS_PER_SAMPLE);
        for name in sample.labels.keys() {
            assert!(is_label_name(name), "label name {name:?}");
        }
    }
    let printed = print_exposition(&samples);
    let again = parse_exposition(&printed).expect("printed samples parse again");
    assert_eq!(again.len(), samples.len());
    for (a, b) in samples.iter().zip(&again) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.labels, b.labels);
        // NaN != NaN, so compare NaN-ness and otherwise the value (0.0 == -0.0 is fine).
        assert!(
            (a.value.is_nan() && b.value.is_nan()) || a.value == b.value,
            "{} reprinted as {}",
            a.value,
            b.value
        );
    }
}

/// A `POST /admin/v1/alerts` body on arbitrary bytes.
#[allow(dead_code)]
pub fn posted_alerts(body: &[u8]) {
    use bulwark_alerts::parse_posted_alerts;
    use bulwark_alerts::post::{
        MAX_ALERTS_PER_POST, MAX_ANNOTATION_VALUE_BYTES, MAX_ANNOTATIONS, MAX_LABEL_VALUE_BYTES,
        MAX_LABELS, MAX_URL_BYTES,
    };
    use bulwark_alerts::{AlertType, Severity};

    // Two clocks: validity must not depend on `now`, and an alert whose start differs
    // between them had no `startsAt` (one given in the body cannot equal both).
    const NOW: i64 = 1_700_000_000_000;
    let first = parse_posted_alerts(body, NOW);
    let second = parse_posted_alerts(body, NOW + 1);
    let (alerts, later) = match (first, second) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(_), Err(_)) => return,
        (a, b) => panic!("validity depends on now: {a:?} vs {b:?}"),
    };
    assert!(alerts.len() <= MAX_ALERTS_PER_POST);
    assert_eq!(alerts.len(), later.len());
    for (alert, at_later) in alerts.iter().zip(&later) {
        assert_eq!(alert.labels, at_later.labels);
        assert_eq!(alert.annotations, at_later.annotations);
        assert_eq!(alert.ends_at_ms, at_later.ends_at_ms);
        assert_eq!(alert.generator_url, at_later.generator_url);
        if alert.starts_at_ms == at_later.starts_at_ms {
            if let Some(ends) = alert.ends_at_ms {
                assert!(alert.starts_at_ms <= ends, "ends before it starts");
            }
        } else {
            assert_eq!((alert.starts_at_ms, at_later.starts_at_ms), (NOW, NOW + 1));
        }

        let alertname = alert.labels.get("alertname").expect("alertname label");
        assert!(!alertname.trim().is_empty());
        let severity = alert.labels.get("severity").expect("severity label");
        assert!(
            Severity::ALL.iter().any(|s| s.label() == severity),
            "{severity}"
        );
        let alert_type = alert.labels.get("type").expect("type label");
        assert!(
            AlertType::ALL.iter().any(|t| t.label() == alert_type),
            "{alert_type}"
        );
        // MAX_LABELS bounds the posted labels; a missing severity and type are added after.
        assert!(alert.labels.len() <= MAX_LABELS + 2);
        for (name, value) in &alert.labels {
            assert!(is_label_name(name), "label name {name:?}");
            assert!(value.len() <= MAX_LABEL_VALUE_BYTES);
        }
        assert!(alert.annotations.len() <= MAX_ANNOTATIONS);
        for value in alert.annotations.values() {
            assert!(value.len() <= MAX_ANNOTATION_VALUE_BYTES);
        }
        assert!(alert.generator_url.len() <= MAX_URL_BYTES);
    }

    let printed = print_posted_alerts(&alerts);
    let again = parse_posted_alerts(printed.as_bytes(), NOW).expect("printed alerts parse again");
    assert_eq!(again, alerts, "print then parse gives the same alerts");
}

#[allow(dead_code)]
fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[allow(dead_code)]
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[allow(dead_code)]
fn print_exposition(samples: &[bulwark_alerts::Sample]) -> String {
    let mut out = String::new();
    for sample in samples {
        out.push_str(&sample.name);
        out.push('{');
        for (name, value) in &sample.labels {
            let escaped = value
                .replace('\\', "\\\\")
                .replace('\n', "\\n")
                .replace('"', "\\\"");
            out.push_str(&format!("{name}=\"{escaped}\","));
        }
        out.push_str("} ");
        let value = sample.value;
        if value.is_nan() {
            out.push_str("NaN");
        } else if value == f64::INFINITY {
            out.push_str("+Inf");
        } else if value == f64::NEG_INFINITY {
            out.push_str("-Inf");
        } else {
            // Display is the shortest text that reads back as the same f64.
            out.push_str(&value.to_string());
        }
        out.push('\n');
    }
    out
}

/// Writes alerts back as a postable body. An alert that started exactly at the zero time
/// cannot be written: that text means "not set".
#[allow(dead_code)]
fn print_posted_alerts(alerts: &[bulwark_alerts::Alert]) -> String {
    use bulwark_alerts::rfc3339::format_ms;

    let map = |m: &std::collections::BTreeMap<String, String>| {
        let fields: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
            .collect();
        format!("{{{}}}", fields.join(","))
    };
    let items: Vec<String> = alerts
        .iter()
        .map(|a| {
            let mut item = format!(
                "{{\"labels\":{},\"annotations\":{},\"startsAt\":{},\"generatorURL\":{}",
                map(&a.labels),
                map(&a.annotations),
                json_string(&format_ms(a.starts_at_ms)),
                json_string(&a.generator_url),
            );
            if let Some(ends) = a.ends_at_ms {
                item.push_str(&format!(",\"endsAt\":{}", json_string(&format_ms(ends))));
            }
            item.push('}');
            item
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[allow(dead_code)]
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
