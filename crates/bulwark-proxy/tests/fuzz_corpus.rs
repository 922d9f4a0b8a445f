//! Replays the committed `fuzz/corpus/forwarded` inputs through the same code the fuzz
//! target runs: header rewriting at the proxy hop must never panic.

mod support {
    include!("../../../fuzz/support/proxy.rs");
}

#[test]
fn forwarded_corpus_never_panics() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/forwarded");
    let entries: Vec<_> = std::fs::read_dir(dir).expect("committed corpus").collect();
    assert!(entries.len() > 100, "the corpus is committed");
    for entry in entries {
        support::forwarded(&std::fs::read(entry.unwrap().path()).unwrap());
    }
}
