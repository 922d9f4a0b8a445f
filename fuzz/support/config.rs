// What the fuzz targets run, shared with the corpus replay tests so CI replays exactly
// what the fuzzer exercised. Included with `include!` by fuzz_targets/ and by
// crates/bulwark-config/tests/fuzz_corpus.rs.

#[allow(dead_code)]
pub fn config(text: &str) {
    let env = |_: &str| Some("q3n0bXh0ZWdqZ2N2b3l3eXpqcWx4a2p0dW9sYmZ2aGQ=".to_string());
    let _ = bulwark_config::load_str(text, std::path::Path::new("fuzz.toml"), &env);
}

#[allow(dead_code)]
pub fn duration(text: &str) {
    let _ = bulwark_config::duration::parse_duration(text);
}
