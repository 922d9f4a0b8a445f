//! Replays the committed `fuzz/corpus/{forwarded,path_normalize,screening}` inputs
//! through the same code the fuzz targets run: header rewriting at the proxy hop, path
//! normalisation and screening must never panic.

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

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = format!("{}/../../fuzz/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    entries
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

/// `fuzz/corpus/path_normalize`: normalisation never panics and its output is stable.
#[test]
fn path_normalize_corpus_holds() {
    let inputs = corpus("path_normalize");
    assert!(inputs.len() > 100, "the corpus is committed");
    for input in inputs {
        support::path_normalize(&input);
    }
}

/// `fuzz/corpus/screening`: screening and the JSON checks never panic.
#[test]
fn screening_corpus_never_panics() {
    let inputs = corpus("screening");
    assert!(inputs.len() > 100, "the corpus is committed");
    for input in inputs {
        support::screening(&input);
    }
}
