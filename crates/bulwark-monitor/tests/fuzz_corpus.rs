//! Replays the committed fuzz corpus (`fuzz/corpus/monitor_condition`) through the same
//! code the fuzz target runs, so every input the fuzzer found interesting is checked on
//! every CI run without a fuzzer.

mod support {
    include!("../../../fuzz/support/monitor.rs");
}

#[test]
fn monitor_condition_corpus_never_panics() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/monitor_condition"
    );
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    let inputs: Vec<Vec<u8>> = entries
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(inputs.len() > 10, "the corpus is committed");
    for input in inputs {
        support::monitor_condition(&input);
    }
}
