//! RFC 3339 times to and from Unix milliseconds (bulwark's one implementation lives in
//! `bulwark_events::time`). Output is UTC with the fraction trimmed the way Go's
//! `RFC3339Nano` trims it, which is what Alertmanager's JSON carries.

pub use bulwark_events::time::{format_rfc3339_ms as format_ms, parse_rfc3339_ms as parse_ms};

/// Alertmanager's zero time, sent as `endsAt` of an alert that is still firing.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zero_time_is_go_s_zero_instant() {
        // -62135596800 is `date -u -d 0001-01-01T00:00:00Z +%s`.
        assert_eq!(format_ms(-62_135_596_800_000), ZERO_TIME);
        assert_eq!(parse_ms(ZERO_TIME), Some(-62_135_596_800_000));
    }
}
