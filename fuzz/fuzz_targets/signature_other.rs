//! The `other` signature header parsers and verification on arbitrary input: header values
//! one per line, then the body. Must never panic, and never verify.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bulwark_fuzz_support::other(data);
});

mod bulwark_fuzz_support {
    include!("../support/signatures.rs");
}
