//! Prometheus text exposition (`bulwark_alerts::parse_exposition`) on arbitrary input:
//! never panics, parsed samples are well formed and print back to the same samples.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        bulwark_fuzz_support::exposition(text);
    }
});

mod bulwark_fuzz_support {
    include!("../support/alerts.rs");
}
