//! Path normalisation before routing, on any path a client can send. Must never panic,
//! and what it returns must be stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bulwark_fuzz_support::path_normalize(data);
});

mod bulwark_fuzz_support {
    include!("../support/proxy.rs");
}
