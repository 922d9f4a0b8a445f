//! JWT parsing on any bearer token a client can send: splitting, base64url, the JSON
//! header and claims, the header rules and the claim checks. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bulwark_fuzz_support::jwt_parse(data);
});

mod bulwark_fuzz_support {
    include!("../support/auth.rs");
}
