//! Replays the committed fuzz corpora (`fuzz/corpus/signature_*`) through the same code
//! the fuzz targets run, so every input the fuzzer found interesting is checked on every
//! CI run without a fuzzer: no panic, and no random input verifies.

mod support {
    include!("../../../fuzz/support/signatures.rs");
}

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/").to_string() + name;
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    entries
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

fn replay(name: &str, target: fn(&[u8])) {
    let inputs = corpus(name);
    assert!(inputs.len() > 2, "the {name} corpus is committed");
    for input in inputs {
        target(&input);
    }
}

#[test]
fn stripe_corpus() {
    replay("signature_stripe", support::stripe);
}

#[test]
fn standard_corpus() {
    replay("signature_standard", support::standard);
}

#[test]
fn slack_corpus() {
    replay("signature_slack", support::slack);
}

#[test]
fn other_schemes_corpus() {
    replay("signature_other", support::other);
}
