//! Text formatting shared by the renderers: escaping, UTC dates, percentages.

use std::fmt::Write as _;

pub(crate) const DAY_MS: i64 = 86_400_000;

/// Escapes text for HTML and XML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub(crate) use bulwark_events::time::civil_from_days;

/// The UTC day number (days since 1970-01-01) holding an instant.
pub(crate) fn day_number(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// `2026-11-28` for the UTC day holding `ms`.
pub fn format_date(ms: i64) -> String {
    let (year, month, day) = civil_from_days(day_number(ms));
    format!("{year:04}-{month:02}-{day:02}")
}

/// `2026-11-28T04:39:40Z`: RFC 3339 in UTC, whole seconds.
pub fn format_iso(ms: i64) -> String {
    let secs = ms.rem_euclid(DAY_MS) / 1000;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_date(ms),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `2026-11-28 04:39 UTC`: the ISO date and time as shown to people.
pub fn format_display_time(ms: i64) -> String {
    let secs = ms.rem_euclid(DAY_MS) / 1000;
    format!(
        "{} {:02}:{:02} UTC",
        format_date(ms),
        secs / 3600,
        secs / 60 % 60
    )
}

/// Hundredths of a percent, rounded down so that anything short of perfect never shows
/// as 100.00%. `None` for a value that is not a fraction in 0..=1.
pub(crate) fn fraction_to_basis_points(fraction: f64) -> Option<u32> {
    if !(0.0..=1.0).contains(&fraction) {
        return None;
    }
    // The small epsilon keeps 0.9995 (stored as 0.99949999...) at 99.95%; it is far
    // below one check in ten billion, so it cannot turn a failure into 100%.
    let scaled = (fraction * 10_000.0 + 1e-7).floor();
    Some(scaled.min(10_000.0) as u32)
}

/// Hundredths of a percent of successful checks, rounded down; `None` for no checks.
pub(crate) fn counts_to_basis_points(checks: u64, successes: u64) -> Option<u32> {
    if checks == 0 {
        return None;
    }
    let successes = u128::from(successes.min(checks));
    Some((successes * 10_000 / u128::from(checks)) as u32)
}

/// `99.95%`, or `no data`.
pub(crate) fn format_basis_points(basis_points: Option<u32>) -> String {
    match basis_points {
        Some(bp) => {
            let mut out = String::new();
            let _ = write!(out, "{}.{:02}%", bp / 100, bp % 100);
            out
        }
        None => "no data".to_owned(),
    }
}

/// A fraction of uptime as shown on the page: `99.95%`, or `no data`.
pub fn format_uptime(fraction: Option<f64>) -> String {
    format_basis_points(fraction.and_then(fraction_to_basis_points))
}

/// The percentage as a JSON number with two decimals (rounded down), or null.
pub(crate) fn basis_points_to_json(basis_points: Option<u32>) -> serde_json::Value {
    match basis_points {
        Some(bp) => serde_json::Value::from(f64::from(bp) / 100.0),
        None => serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn dates_match_known_calendar_days() {
        // Values checked with `date -u -d @<seconds>`.
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_iso(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(format_iso(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_iso(1_798_432_780_000), "2026-12-28T04:39:40Z");
        assert_eq!(format_iso(-1_000), "1969-12-31T23:59:59Z");
        assert_eq!(
            format_display_time(1_700_000_000_000),
            "2023-11-14 22:13 UTC"
        );
    }

    #[test]
    fn percentages_round_down_to_two_decimals() {
        assert_eq!(format_uptime(Some(1.0)), "100.00%");
        assert_eq!(format_uptime(Some(0.9995)), "99.95%");
        assert_eq!(format_uptime(Some(0.99999)), "99.99%");
        assert_eq!(format_uptime(Some(0.5)), "50.00%");
        assert_eq!(format_uptime(Some(0.0)), "0.00%");
        assert_eq!(format_uptime(None), "no data");
        assert_eq!(format_uptime(Some(f64::NAN)), "no data");
        assert_eq!(format_uptime(Some(1.5)), "no data");
    }

    #[test]
    fn counts_give_exact_percentages() {
        assert_eq!(counts_to_basis_points(2000, 1999), Some(9995));
        assert_eq!(counts_to_basis_points(100_000, 99_999), Some(9999));
        assert_eq!(counts_to_basis_points(3, 1), Some(3333));
        assert_eq!(counts_to_basis_points(10, 10), Some(10_000));
        assert_eq!(counts_to_basis_points(10, 12), Some(10_000));
        assert_eq!(counts_to_basis_points(0, 0), None);
    }
}
