//! Input screening (query strings, JSON strings) and the JSON depth and syntax checks,
//! on arbitrary input. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bulwark_fuzz_support::screening(data);
});

mod bulwark_fuzz_support {
    include!("../support/proxy.rs");
}
