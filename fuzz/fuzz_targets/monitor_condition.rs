//! Monitor conditions (`[BODY].status == UP`, ...) on arbitrary input: parse, print and
//! re-parse, evaluate against a body. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bulwark_fuzz_support::monitor_condition(data);
});

mod bulwark_fuzz_support {
    include!("../support/monitor.rs");
}
