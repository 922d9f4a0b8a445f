//! The whole config loader on arbitrary text: parse, locate, validate. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        bulwark_fuzz_support::config(text);
    }
});

mod bulwark_fuzz_support {
    include!("../support/config.rs");
}
