//! Replays the committed `fuzz/corpus/jwt_parse` inputs through the same code the fuzz
//! target runs: JWT parsing, header rules and claim checks never panic.

mod support {
    include!("../../../fuzz/support/auth.rs");
}

#[test]
fn jwt_parse_corpus_never_panics() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/jwt_parse");
    let entries: Vec<_> = std::fs::read_dir(dir).expect("committed corpus").collect();
    assert!(entries.len() > 100, "the corpus is committed");
    for entry in entries {
        support::jwt_parse(&std::fs::read(entry.unwrap().path()).unwrap());
    }
}
