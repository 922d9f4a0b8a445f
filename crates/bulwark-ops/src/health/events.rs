//! Telemetry of the health checks: each event is one log line plus its metrics, so the
//! two never disagree. Failure reasons logged here are the safe, mapped ones.

use std::time::Duration;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

/// 1 while a check's tracked state is passing, 0 while failing or pending.
pub const CHECK_UP: &str = "bulwark_check_up";
/// How long each probe took, failed ones included.
pub const CHECK_DURATION_SECONDS: &str = "bulwark_check_duration_seconds";
/// Probes run, by result (`pass` / `fail`).
pub const CHECKS_TOTAL: &str = "bulwark_checks_total";

pub fn describe() {
    describe_gauge!(
        CHECK_UP,
        Unit::Count,
        "Whether a health check currently passes (1) or fails or has no result yet (0), after its thresholds."
    );
    describe_histogram!(
        CHECK_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of each health check probe, failed ones included."
    );
    describe_counter!(
        CHECKS_TOTAL,
        Unit::Count,
        "Health check probes run, by check and result (pass or fail)."
    );
}

/// A check starts (or restarts after a reload) with no result: it counts as down.
pub struct CheckRegistered<'a> {
    pub check: &'a str,
    pub up: bool,
}

impl CheckRegistered<'_> {
    pub fn emit(&self) {
        gauge!(CHECK_UP, "check" => self.check.to_string()).set(f64::from(u8::from(self.up)));
    }
}

/// One probe finished.
pub struct CheckCompleted<'a> {
    pub check: &'a str,
    pub failure: Option<&'a str>,
    pub duration: Duration,
    /// The tracked state after this result.
    pub up: bool,
}

impl CheckCompleted<'_> {
    pub fn emit(&self) {
        let check = self.check.to_string();
        let result = if self.failure.is_none() {
            "pass"
        } else {
            "fail"
        };
        histogram!(CHECK_DURATION_SECONDS, "check" => check.clone())
            .record(self.duration.as_secs_f64());
        counter!(CHECKS_TOTAL, "check" => check.clone(), "result" => result).increment(1);
        gauge!(CHECK_UP, "check" => check).set(f64::from(u8::from(self.up)));
        match self.failure {
            Some(reason) => tracing::debug!(
                check = self.check,
                reason,
                duration_ms = self.duration.as_millis() as u64,
                "Health check probe failed."
            ),
            None => tracing::trace!(
                check = self.check,
                duration_ms = self.duration.as_millis() as u64,
                "Health check probe passed."
            ),
        }
    }
}

/// A check's tracked state flipped.
pub struct CheckStateChanged<'a> {
    pub check: &'a str,
    pub critical: bool,
    /// Why it fails; `None` when it recovered.
    pub failure: Option<&'a str>,
}

impl CheckStateChanged<'_> {
    pub fn emit(&self) {
        let up = self.failure.is_none();
        gauge!(CHECK_UP, "check" => self.check.to_string()).set(f64::from(u8::from(up)));
        match self.failure {
            Some(reason) => tracing::warn!(
                check = self.check,
                critical = self.critical,
                reason,
                "Health check failing."
            ),
            None => tracing::info!(check = self.check, "Health check recovered."),
        }
    }
}
