// What the monitor fuzz target runs, shared with the corpus replay test so CI replays
// exactly what the fuzzer exercised. Included with `include!` by
// fuzz_targets/monitor_condition.rs and by crates/bulwark-monitor/tests/fuzz_corpus.rs.
//
// Input layout: the condition text up to the first newline, then the response body (the
// rest, any bytes). A condition that parses must print back to text that parses to the
// same condition, and evaluating it must not panic, with or without data.

#[allow(dead_code)]
pub fn monitor_condition(data: &[u8]) {
    use bulwark_monitor::{Condition, Observation};
    use std::time::Duration;

    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(head) else {
        return;
    };
    let Ok(condition) = Condition::parse(text) else {
        return;
    };
    let printed = condition.to_string();
    let again = Condition::parse(&printed).expect("a printed condition parses again");
    assert_eq!(again, condition, "display then parse gives the same condition");
    assert_eq!(again.to_string(), printed, "display is canonical");

    let full = Observation::new()
        .with_status(200)
        .with_response_time(Duration::from_millis(123))
        .with_certificate_expiration(Duration::from_secs(49 * 3600))
        .with_body(body);
    for observation in [Observation::new(), full] {
        let outcome = condition.evaluate(&observation);
        assert!(!outcome.explanation.is_empty());
    }
}
