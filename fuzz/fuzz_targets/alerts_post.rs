//! The `POST /admin/v1/alerts` body (`bulwark_alerts::parse_posted_alerts`) on arbitrary
//! bytes: never panics, parsed alerts carry the required labels within the documented
//! limits, and print back to the same alerts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bulwark_fuzz_support::posted_alerts(data);
});

mod bulwark_fuzz_support {
    include!("../support/alerts.rs");
}
