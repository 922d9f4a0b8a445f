//! Properties over arbitrary input: the parsers never panic, times round-trip.

use proptest::prelude::*;

use crate::exposition::parse_exposition;
use crate::post::parse_posted_alerts;
use crate::rfc3339::{format_ms, parse_ms};

proptest! {
    #[test]
    fn rfc3339_round_trips(ms in -62_135_596_800_000i64..253_402_300_799_999i64) {
        prop_assert_eq!(parse_ms(&format_ms(ms)), Some(ms));
    }

    #[test]
    fn exposition_parser_never_panics(text in "\\PC{0,200}") {
        let _ = parse_exposition(&text);
    }

    #[test]
    fn exposition_parser_never_panics_on_near_valid_lines(
        name in "[a-z_:]{1,8}",
        labels in proptest::collection::vec(("[a-z_]{1,4}", "[ -~]{0,6}"), 0..4),
        value in "[-+0-9.eEInfNa]{0,8}",
        tail in "[ -~]{0,6}",
    ) {
        let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let line = format!("{name}{{{}}} {value}{tail}", pairs.join(","));
        let _ = parse_exposition(&line);
    }

    #[test]
    fn post_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_posted_alerts(&bytes, 0);
    }

    #[test]
    fn rfc3339_parser_never_panics(text in "\\PC{0,40}") {
        let _ = parse_ms(&text);
    }
}
