//! Client-controlled headers at the proxy hop: `Connection` lists, `X-Forwarded-For`
//! chains, `X-Request-Id`. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bulwark_fuzz_support::forwarded(data);
});

mod bulwark_fuzz_support {
    include!("../support/proxy.rs");
}
