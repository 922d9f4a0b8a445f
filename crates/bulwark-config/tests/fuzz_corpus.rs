//! Replays the committed fuzz corpora (`fuzz/corpus/{config,duration}`) through the same
//! code the fuzz targets run, so every input the fuzzer found interesting is checked on
//! every CI run without a fuzzer.

mod support {
    include!("../../../fuzz/support/config.rs");
}

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/").to_string() + name;
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    entries
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn config_corpus_never_panics() {
    let inputs = corpus("config");
    assert!(inputs.len() > 100, "the corpus is committed");
    for input in inputs {
        if let Ok(text) = std::str::from_utf8(&input) {
            support::config(text);
        }
    }
}

#[test]
fn duration_corpus_never_panics() {
    let inputs = corpus("duration");
    assert!(inputs.len() > 10, "the corpus is committed");
    for input in inputs {
        if let Ok(text) = std::str::from_utf8(&input) {
            support::duration(text);
        }
    }
}
