//! Telemetry of notification delivery: each outcome is a log line, a Prometheus counter
//! and an in-process count ([`NotifyStats`], for tests and the admin API).

use std::sync::atomic::{AtomicU64, Ordering};

use tracing::{debug, warn};

pub const NOTIFICATIONS_METRIC: &str = "bulwark_notifications_total";
pub const EXPIRED_METRIC: &str = "bulwark_notifications_expired_total";
pub const FALLBACK_METRIC: &str = "bulwark_notifications_fallback_total";

/// Describes the metric families, and creates each notifier's series at zero so that
/// dashboards and alert rules see 0 rather than nothing.
pub fn describe(notifiers: &[&str]) {
    metrics::describe_counter!(
        NOTIFICATIONS_METRIC,
        metrics::Unit::Count,
        "Notification attempts, by notifier and outcome (sent, failed, superseded)."
    );
    metrics::describe_counter!(
        EXPIRED_METRIC,
        metrics::Unit::Count,
        "Notifications dead-lettered because they could not be delivered before the repeat interval."
    );
    metrics::describe_counter!(
        FALLBACK_METRIC,
        metrics::Unit::Count,
        "Notifications sent directly to a fallback notifier because the store refused them, by outcome."
    );
    for notifier in notifiers {
        for result in ["sent", "failed", "superseded"] {
            metrics::counter!(NOTIFICATIONS_METRIC, "notifier" => notifier.to_string(), "outcome" => result)
                .absolute(0);
        }
        metrics::counter!(EXPIRED_METRIC, "notifier" => notifier.to_string()).absolute(0);
    }
}

/// Counts since start, over every notifier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotifyStats {
    pub sent: u64,
    pub failed: u64,
    pub superseded: u64,
    pub expired: u64,
    /// Sent directly to a fallback notifier because the store refused the notification.
    pub fallback_sent: u64,
    pub fallback_failed: u64,
    /// `claim` calls the worker made (to see that it does not poll while idle).
    pub claims: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    superseded: AtomicU64,
    expired: AtomicU64,
    fallback_sent: AtomicU64,
    fallback_failed: AtomicU64,
    claims: AtomicU64,
}

fn outcome(notifier: &str, outcome: &'static str) {
    metrics::counter!(NOTIFICATIONS_METRIC, "notifier" => notifier.to_string(), "outcome" => outcome)
        .increment(1);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> NotifyStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NotifyStats {
            sent: get(&self.sent),
            failed: get(&self.failed),
            superseded: get(&self.superseded),
            expired: get(&self.expired),
            fallback_sent: get(&self.fallback_sent),
            fallback_failed: get(&self.fallback_failed),
            claims: get(&self.claims),
        }
    }

    pub(crate) fn claimed(&self) {
        self.claims.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self, notifier: &str, attempts: u32) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        outcome(notifier, "sent");
        debug!(notifier, attempts, "Notification sent.");
    }

    pub(crate) fn failed(&self, notifier: &str, attempts: u32, reason: &str) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        outcome(notifier, "failed");
        warn!(notifier, attempts, %reason, "Notification failed; will retry.");
    }

    pub(crate) fn superseded(&self, notifier: &str) {
        self.superseded.fetch_add(1, Ordering::Relaxed);
        outcome(notifier, "superseded");
        debug!(
            notifier,
            "Firing notification superseded by a resolved one; not sent."
        );
    }

    pub(crate) fn expired(&self, notifier: &str, attempts: u32) {
        self.expired.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(EXPIRED_METRIC, "notifier" => notifier.to_string()).increment(1);
        warn!(
            notifier,
            attempts, "Notification expired undelivered; dead-lettered."
        );
    }

    pub(crate) fn fallback(&self, notifier: &str, error: Option<&str>) {
        match error {
            None => {
                self.fallback_sent.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(FALLBACK_METRIC, "notifier" => notifier.to_string(), "outcome" => "sent")
                    .increment(1);
                warn!(
                    notifier,
                    "Store unavailable; notification sent directly to a fallback notifier."
                );
            }
            Some(reason) => {
                self.fallback_failed.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(FALLBACK_METRIC, "notifier" => notifier.to_string(), "outcome" => "failed")
                    .increment(1);
                warn!(notifier, %reason, "Store unavailable and the fallback notifier failed too.");
            }
        }
    }
}
