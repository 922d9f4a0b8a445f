//! Replays the committed fuzz corpora (`fuzz/corpus/alerts_exposition`,
//! `fuzz/corpus/alerts_post`) through the same code the fuzz targets run, so every input
//! the fuzzer found interesting is checked on every CI run without a fuzzer: no panic,
//! parsed results well formed and within limits, and print-then-parse stable.

mod support {
    include!("../../../fuzz/support/alerts.rs");
}

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/").to_string() + name;
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    entries
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn exposition_corpus() {
    let inputs = corpus("alerts_exposition");
    assert!(
        inputs.len() > 10,
        "the alerts_exposition corpus is committed"
    );
    let mut parsed = 0;
    for input in &inputs {
        if let Ok(text) = std::str::from_utf8(input) {
            support::exposition(text);
            parsed += usize::from(bulwark_alerts::parse_exposition(text).is_ok());
        }
    }
    // The seeds include valid expositions; all failing would mean the check is hollow.
    assert!(parsed >= 5, "only {parsed} corpus inputs parse");
}

#[test]
fn posted_alerts_corpus() {
    let inputs = corpus("alerts_post");
    assert!(inputs.len() > 10, "the alerts_post corpus is committed");
    let mut parsed = 0;
    for input in &inputs {
        support::posted_alerts(input);
        parsed += usize::from(bulwark_alerts::parse_posted_alerts(input, 0).is_ok());
    }
    assert!(parsed >= 5, "only {parsed} corpus inputs parse");
}
