//! The shared PostgreSQL and Redis that `scripts/test.sh` starts for the whole run.
//!
//! A missing service is a failure, never a skip: a suite that silently skipped its
//! database tests would pass while testing nothing.

use std::env;

const DATABASE_VAR: &str = "BULWARK_TEST_DATABASE_URL";
const REDIS_VAR: &str = "BULWARK_TEST_REDIS_URL";

/// The shared PostgreSQL's URL (`BULWARK_TEST_DATABASE_URL`, superuser, trust
/// authentication). Create a database of the test's own in it.
///
/// Panics, telling to run `bash scripts/test.sh`, if the variable is not set.
pub fn shared_database_url() -> String {
    env_url(DATABASE_VAR, "PostgreSQL")
}

/// The shared Redis's URL (`BULWARK_TEST_REDIS_URL`). Use a key prefix of the test's own.
///
/// Panics, telling to run `bash scripts/test.sh`, if the variable is not set.
pub fn shared_redis_url() -> String {
    env_url(REDIS_VAR, "Redis")
}

fn env_url(var: &str, service: &str) -> String {
    match env::var(var) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{var} is not set: this test needs the shared {service} that the test script \
             starts. Run the tests with `bash scripts/test.sh` (extra arguments go to cargo \
             nextest, e.g. `bash scripts/test.sh -p bulwark-testkit`)."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::env_url;

    #[test]
    #[should_panic(expected = "Run the tests with `bash scripts/test.sh`")]
    fn a_missing_variable_is_a_failure_that_says_what_to_run() {
        env_url("BULWARK_TEST_NEVER_SET_URL", "PostgreSQL");
    }
}
