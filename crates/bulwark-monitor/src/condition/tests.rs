//! Expected results come from Gatus's README (the "Conditions" examples table with its
//! passing and failing values, the placeholder and function tables, and the examples at the
//! top), not from running this code. Cases marked "bulwark" test our documented choices.

use std::time::Duration;

use super::{Condition, ConditionError, MAX_CONDITION_LEN, Observation};

fn parse(text: &str) -> Condition {
    Condition::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn with_status(condition: &str, status: u16) -> bool {
    parse(condition)
        .evaluate(&Observation::new().with_status(status))
        .success
}

fn with_body(condition: &str, body: &str) -> bool {
    let observation = Observation::new()
        .with_status(200)
        .with_body(body.as_bytes());
    parse(condition).evaluate(&observation).success
}

fn err(text: &str) -> ConditionError {
    match Condition::parse(text) {
        Ok(c) => panic!("{text:?} should not parse, got {c}"),
        Err(e) => e,
    }
}

// --- Gatus README, "Conditions" table ---

#[test]
fn status_equal() {
    assert!(with_status("[STATUS] == 200", 200));
    for failing in [201, 404] {
        assert!(!with_status("[STATUS] == 200", failing));
    }
}

#[test]
fn status_less_than() {
    for passing in [200, 201, 299] {
        assert!(with_status("[STATUS] < 300", passing));
    }
    for failing in [301, 302] {
        assert!(!with_status("[STATUS] < 300", failing));
    }
}

#[test]
fn status_less_or_equal() {
    for passing in [200, 201, 299] {
        assert!(with_status("[STATUS] <= 299", passing));
    }
    for failing in [301, 302] {
        assert!(!with_status("[STATUS] <= 299", failing));
    }
}

#[test]
fn status_greater_than() {
    for passing in [401, 402, 403, 404] {
        assert!(with_status("[STATUS] > 400", passing));
    }
    for failing in [400, 200] {
        assert!(!with_status("[STATUS] > 400", failing));
    }
}

#[test]
fn status_any() {
    for passing in [200, 429] {
        assert!(with_status("[STATUS] == any(200, 429)", passing));
    }
    for failing in [201, 400] {
        assert!(!with_status("[STATUS] == any(200, 429)", failing));
    }
}

#[test]
fn connected() {
    let c = parse("[CONNECTED] == true");
    assert!(c.evaluate(&Observation::new().with_connected(true)).success);
    assert!(
        !c.evaluate(&Observation::new().with_connected(false))
            .success
    );
}

#[test]
fn response_time_in_milliseconds() {
    let c = parse("[RESPONSE_TIME] < 500");
    for passing in [100, 200, 300] {
        let o = Observation::new().with_response_time(Duration::from_millis(passing));
        assert!(c.evaluate(&o).success, "{passing}ms");
    }
    for failing in [500, 501] {
        let o = Observation::new().with_response_time(Duration::from_millis(failing));
        assert!(!c.evaluate(&o).success, "{failing}ms");
    }
}

#[test]
fn whole_body() {
    assert!(with_body("[BODY] == 1", "1"));
    assert!(!with_body("[BODY] == 1", "{}"));
    assert!(!with_body("[BODY] == 1", "2"));
}

#[test]
fn json_path() {
    assert!(with_body(
        "[BODY].user.name == john",
        r#"{"user":{"name":"john"}}"#
    ));
    assert!(with_body(
        "[BODY].data[0].id == 1",
        r#"{"data":[{"id":1}]}"#
    ));
}

#[test]
fn placeholder_on_both_sides() {
    assert!(with_body("[BODY].age == [BODY].id", r#"{"age":1,"id":1}"#));
}

#[test]
fn len_of_array_and_string() {
    assert!(with_body("len([BODY].data) < 5", r#"{"data":[{"id":1}]}"#));
    assert!(with_body("len([BODY].name) == 8", r#"{"name":"john.doe"}"#));
    assert!(!with_body("len([BODY].name) == 8", r#"{"name":"bob"}"#));
}

#[test]
fn has() {
    assert!(with_body(
        "has([BODY].errors) == false",
        r#"{"name":"john.doe"}"#
    ));
    assert!(!with_body(
        "has([BODY].errors) == false",
        r#"{"errors":[]}"#
    ));
    assert!(with_body("has([BODY].users) == true", r#"{"users":[]}"#));
    assert!(!with_body("has([BODY].users) == true", "{}"));
}

#[test]
fn pattern_on_json_value() {
    assert!(with_body(
        "[BODY].name == pat(john*)",
        r#"{"name":"john.doe"}"#
    ));
    assert!(!with_body("[BODY].name == pat(john*)", r#"{"name":"bob"}"#));
}

#[test]
fn any_on_json_value() {
    for passing in ["1", "2"] {
        assert!(with_body(
            "[BODY].id == any(1, 2)",
            &format!(r#"{{"id":{passing}}}"#)
        ));
    }
    for failing in ["3", "4", "5"] {
        assert!(!with_body(
            "[BODY].id == any(1, 2)",
            &format!(r#"{{"id":{failing}}}"#)
        ));
    }
}

#[test]
fn certificate_expiration() {
    let c = parse("[CERTIFICATE_EXPIRATION] > 48h");
    for hours in [49, 50, 123] {
        let o = Observation::new().with_certificate_expiration(Duration::from_secs(hours * 3600));
        assert!(c.evaluate(&o).success, "{hours}h");
    }
    for hours in [1, 24] {
        let o = Observation::new().with_certificate_expiration(Duration::from_secs(hours * 3600));
        assert!(!c.evaluate(&o).success, "{hours}h");
    }
}

// --- Gatus README, the examples above the table and the functions table ---

#[test]
fn readme_examples() {
    assert!(with_body("[BODY].status == UP", r#"{"status":"UP"}"#));
    assert!(!with_body("[BODY].status == UP", r#"{"status":"DOWN"}"#));
    let page = "<html><body><h1>Example Domain</h1></body></html>";
    assert!(with_body("[BODY] == pat(*<h1>Example Domain</h1>*)", page));
    assert!(!with_body(
        "[BODY] == pat(*<h1>Example Domain</h1>*)",
        "<h1>Other</h1>"
    ));
    // `len` on something that is neither an array nor a string: its minified JSON.
    assert!(with_body(
        "len([BODY].username) > 8",
        r#"{"username":"johnathan.doe"}"#
    ));
    assert!(!with_body(
        "len([BODY].username) > 8",
        r#"{"username":"bob"}"#
    ));
    assert!(with_body("len([BODY].o) == 7", r#"{"o": {"a": 1}}"#));
    // The tip under the functions table: pat() on a status works, just slower.
    assert!(with_status("[STATUS] == pat(2*)", 204));
    assert!(!with_status("[STATUS] == pat(2*)", 304));
}

// --- bulwark's choices (module documentation) ---

#[test]
fn operators_not_equal_and_greater_or_equal() {
    assert!(with_status("[STATUS] != 500", 200));
    assert!(!with_status("[STATUS] != 500", 500));
    assert!(with_status("[STATUS] >= 200", 200));
    assert!(!with_status("[STATUS] >= 200", 199));
    assert!(with_status("[STATUS] != any(500, 503)", 200));
    assert!(!with_status("[STATUS] != any(500, 503)", 503));
    assert!(with_body(
        "[BODY].status != pat(DOWN*)",
        r#"{"status":"UP"}"#
    ));
}

#[test]
fn bulwark_paths() {
    let body = r#"{"items":[{"name":"a"},{"name":"b"}],"a":{"b":true}}"#;
    assert!(with_body("[BODY].items[1].name == b", body));
    assert!(with_body("[BODY].a.b == true", body));
    assert!(with_body("len([BODY].items) > 0", body));
    assert!(with_body("[BODY][0] == x", r#"["x"]"#));
    assert!(with_body("len([BODY]) == 5", r#"["x"]"#));
}

#[test]
fn bulwark_durations() {
    let c = parse("[CERTIFICATE_EXPIRATION] > 7d");
    let eight_days = Observation::new().with_certificate_expiration(Duration::from_secs(8 * 86400));
    assert!(c.evaluate(&eight_days).success);
    assert!(
        parse("[RESPONSE_TIME] < 1s")
            .evaluate(&Observation::new().with_response_time(Duration::from_millis(999)))
            .success
    );
    let c = parse("[CERTIFICATE_EXPIRATION] >= 1h30m");
    assert!(
        c.evaluate(&Observation::new().with_certificate_expiration(Duration::from_secs(90 * 60)))
            .success
    );
    assert!(
        parse("[RESPONSE_TIME] <= 30m")
            .evaluate(&Observation::new().with_response_time(Duration::from_secs(1800)))
            .success
    );
}

#[test]
fn numbers_compare_numerically() {
    assert!(with_body("[BODY].id == 1", r#"{"id":1.0}"#));
    assert!(with_body("[BODY].load < 0.5", r#"{"load":0.25}"#));
    assert!(!with_body("[BODY].name < 5", r#"{"name":"bob"}"#));
}

#[test]
fn missing_data_fails_whatever_the_operator() {
    let nothing = Observation::new();
    for text in [
        "[STATUS] != 500",
        "[BODY] != x",
        "[CERTIFICATE_EXPIRATION] < 48h",
        "has([BODY].errors) == false",
        "len([BODY]) == 0",
    ] {
        let outcome = parse(text).evaluate(&nothing);
        assert!(!outcome.success, "{text}");
        assert!(
            outcome.explanation.contains("missing"),
            "{}",
            outcome.explanation
        );
    }
    assert!(!with_body("[BODY].nope != x", r#"{"a":1}"#));
    assert!(!with_body("[BODY].a != x", "not json"));
    assert!(with_body("has([BODY].a) == false", "not json"));
}

#[test]
fn explanation_shows_the_observed_value() {
    let outcome = parse("[STATUS] == 200").evaluate(&Observation::new().with_status(503));
    assert_eq!(outcome.explanation, "[STATUS] (503) == 200");
    let body = r#"{"age":1,"id":2}"#;
    let o = Observation::new().with_body(body.as_bytes());
    let outcome = parse("[BODY].age == [BODY].id").evaluate(&o);
    assert_eq!(outcome.explanation, "[BODY].age (1) == [BODY].id (2)");
    let long = "x".repeat(1000);
    let o = Observation::new().with_body(long.as_bytes());
    assert!(parse("[BODY] == y").evaluate(&o).explanation.len() < 100);
}

#[test]
fn display_is_canonical() {
    assert_eq!(
        parse("  [STATUS]==any(200 ,201)  ").to_string(),
        "[STATUS] == any(200, 201)"
    );
    assert_eq!(
        parse("len( [BODY].items[0].tags )>=1").to_string(),
        "len([BODY].items[0].tags) >= 1"
    );
}

#[test]
fn json_is_parsed_once_per_observation() {
    let body = br#"{"a":1}"#;
    let o = Observation::new().with_body(body);
    assert!(parse("[BODY].a == 1").evaluate(&o).success);
    assert!(o.json.get().is_some(), "cached after first use");
    assert!(parse("has([BODY].a) == true").evaluate(&o).success);
}

// --- errors, with columns ---

#[test]
fn errors_name_what_and_where() {
    use ConditionError::*;
    let cases: Vec<(&str, ConditionError)> = vec![
        ("   ", Empty),
        ("STATUS == 200", ExpectedLeftOperand { column: 1 }),
        ("[STATUS == 200", UnclosedPlaceholder { column: 1 }),
        ("  [FOO] == 1", UnknownPlaceholder { column: 3 }),
        ("[status] == 200", UnknownPlaceholder { column: 1 }),
        (
            "[IP] == pat(192.168.*)",
            UnsupportedPlaceholder {
                name: "IP",
                column: 1,
            },
        ),
        ("[STATUS] 200", ExpectedOperator { column: 10 }),
        ("[STATUS] ==  ", ExpectedRightOperand { column: 14 }),
        ("[STATUS] == abc", ExpectedNumber { column: 13 }),
        ("[STATUS] == any(200, x)", ExpectedNumber { column: 22 }),
        ("[CONNECTED] == yes", ExpectedBool { column: 16 }),
        ("has([BODY].a) == 1", ExpectedBool { column: 18 }),
        ("[CONNECTED] < true", BooleanOrdering { column: 13 }),
        (
            "[STATUS] < any(1, 2)",
            EqualityOnly {
                function: "any",
                column: 12,
            },
        ),
        (
            "[BODY].name > pat(j*)",
            EqualityOnly {
                function: "pat",
                column: 15,
            },
        ),
        ("[STATUS].a == 1", PathNotAllowed { column: 9 }),
        (
            "[BODY]. == 1",
            InvalidPath {
                column: 8,
                reason: "expected a key after '.'",
            },
        ),
        (
            "[BODY][x] == 1",
            InvalidPath {
                column: 8,
                reason: "expected an array index after '['",
            },
        ),
        (
            "[BODY][1 == 1",
            InvalidPath {
                column: 9,
                reason: "expected ']' after the array index",
            },
        ),
        (
            "len([STATUS]) > 1",
            FunctionNeedsBody {
                function: "len",
                column: 5,
            },
        ),
        (
            "has(x) == true",
            FunctionNeedsBody {
                function: "has",
                column: 5,
            },
        ),
        ("has([BODY]) == true", HasNeedsPath { column: 5 }),
        (
            "len([BODY].a > 1",
            UnclosedFunction {
                function: "len",
                column: 1,
            },
        ),
        (
            "[STATUS] == pat(2*",
            UnclosedFunction {
                function: "pat",
                column: 13,
            },
        ),
        ("[STATUS] == any(200, , 201)", EmptyAnyItem { column: 22 }),
        ("[BODY].a == [BODY].b c", TrailingText { column: 21 }),
        ("[BODY].a == [NOPE]", UnknownPlaceholder { column: 13 }),
        // Columns count characters, not bytes.
        ("[BODY].é! == 1", ExpectedOperator { column: 9 }),
    ];
    for (text, expected) in cases {
        assert_eq!(err(text), expected, "{text:?}");
        // The message says where, and never repeats the condition.
        let message = err(text).to_string();
        assert!(!message.is_empty());
    }
}

#[test]
fn bounds() {
    let long = format!("[BODY] == {}", "x".repeat(MAX_CONDITION_LEN));
    assert_eq!(
        err(&long),
        ConditionError::TooLong {
            len: long.len(),
            max: MAX_CONDITION_LEN
        }
    );
    // Within the bound as written, over it once printed with spaces: refused, so that
    // printing and parsing again always works.
    let tight = format!("[BODY]=={}", "x".repeat(MAX_CONDITION_LEN - 8));
    assert_eq!(
        err(&tight),
        ConditionError::TooLong {
            len: MAX_CONDITION_LEN + 2,
            max: MAX_CONDITION_LEN
        }
    );
    let path32 = format!("[BODY]{} == 1", ".a".repeat(32));
    assert!(Condition::parse(&path32).is_ok());
    let path33 = format!("[BODY]{} == 1", ".a".repeat(33));
    assert_eq!(
        err(&path33),
        ConditionError::PathTooDeep {
            column: 7 + 32 * 2,
            max: 32
        }
    );
    assert!(matches!(
        err("[BODY][99999999999999999999999] == 1"),
        ConditionError::InvalidPath { column: 7, .. }
    ));
}

#[test]
fn error_messages_do_not_echo_the_text() {
    let e = err("[SECRET_TOKEN_abc123] == 1");
    assert!(!e.to_string().contains("abc123"), "{e}");
    assert_eq!(
        err("[STATUS] == hunter2").to_string(),
        "column 13: expected a number or a duration such as 300, 48h or 7d"
    );
}
