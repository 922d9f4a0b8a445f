//! Properties of the condition parser: it never panics, and a parsed condition prints back
//! to text that parses to the same condition.

use bulwark_monitor::{Condition, Observation};
use proptest::prelude::*;

/// Pieces of the language, so that random strings are often valid conditions.
const TOKENS: &[&str] = &[
    "[STATUS]",
    "[RESPONSE_TIME]",
    "[BODY]",
    "[CERTIFICATE_EXPIRATION]",
    "[CONNECTED]",
    "[IP]",
    "[",
    "]",
    ".a",
    ".é",
    "[0]",
    "[12]",
    "len(",
    "has(",
    "pat(",
    "any(",
    ")",
    ",",
    " ",
    "  ",
    "\t",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "!",
    "200",
    "-1.5",
    "48h",
    "1h30m",
    "7d",
    "500ms",
    "true",
    "false",
    "UP",
    "*",
    "x y",
    "\u{a0}",
    "\n",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..12).prop_map(|t| t.concat())
}

fn round_trips(text: &str) {
    if let Ok(condition) = Condition::parse(text) {
        let printed = condition.to_string();
        let again = Condition::parse(&printed)
            .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse: {e}"));
        assert_eq!(again, condition, "{text:?} -> {printed:?}");
        assert_eq!(again.to_string(), printed);
        let body = br#"{"a":[1,{"b":"UP"}]}"#;
        let _ = condition.evaluate(&Observation::new().with_status(200).with_body(body));
        let _ = condition.evaluate(&Observation::new());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_any_text(text in any::<String>()) {
        let _ = Condition::parse(&text);
        round_trips(&text);
    }

    #[test]
    fn display_then_parse_round_trips(text in token_soup()) {
        round_trips(&text);
    }

    #[test]
    fn valid_conditions_round_trip(
        left in prop::sample::select(&[
            "[STATUS]", "[RESPONSE_TIME]", "[CERTIFICATE_EXPIRATION]", "len([BODY].a)",
            "[BODY].a[0].b", "[BODY]",
        ][..]),
        op in prop::sample::select(&["==", "!=", "<", "<=", ">", ">="][..]),
        right in prop::sample::select(&[
            "200", "48h", "0.5", "any(1, 2)", "pat(2*)", "[BODY].x", "len([BODY])",
        ][..]),
        gap in "[ \t]{0,2}",
    ) {
        round_trips(&format!("{gap}{left}{gap}{op}{gap}{right}{gap}"));
    }
}
