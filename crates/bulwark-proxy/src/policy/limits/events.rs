//! Telemetry of route policies: rate-limit violations, authentication failures and
//! errors of the shared limiter backend.

use bulwark_ratelimit::BackendError;

pub const VIOLATIONS: &str = "rate_limit_violations_total";
pub const AUTH_FAILURES: &str = "bulwark_auth_failures_total";
pub const BACKEND_ERRORS: &str = "bulwark_rate_limit_backend_errors_total";

pub fn describe() {
    metrics::describe_counter!(
        VIOLATIONS,
        "Requests over a rate limit (refused, or only counted in dry run), by route and key kind."
    );
    metrics::describe_counter!(
        AUTH_FAILURES,
        "Requests refused by authentication, by route and reason (missing_token, expired, bad_signature, ...)."
    );
    metrics::describe_counter!(
        BACKEND_ERRORS,
        "Rate-limit decisions the shared backend (Redis) could not make."
    );
    // Exported from the start, so an alert on it sees 0 rather than nothing.
    metrics::counter!(BACKEND_ERRORS).absolute(0);
}

pub fn violations(route: &str, key: &'static str) -> metrics::Counter {
    metrics::counter!(VIOLATIONS, "route" => route.to_string(), "key" => key)
}

pub fn auth_failed(route: &str, reason: &'static str) {
    metrics::counter!(AUTH_FAILURES, "route" => route.to_string(), "reason" => reason).increment(1);
}

pub fn backend_error(error: &BackendError) {
    metrics::counter!(BACKEND_ERRORS).increment(1);
    tracing::debug!(%error, "Rate-limit backend error.");
}
