//! The events themselves. Fields are names and counts, never secrets or raw input.

use serde::Serialize;

/// A state change somewhere in bulwark. Closed on purpose: adding a variant is a
/// decision every subscriber gets to see at compile time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BusEvent {
    Started {
        version: String,
    },
    ShutdownStarted,
    ConfigReloaded,
    /// The new config was refused; the old one stays in force.
    ConfigReloadFailed {
        problems: usize,
    },
    CheckFailed {
        check: String,
        critical: bool,
    },
    CheckRecovered {
        check: String,
    },
    /// Passive health took a target out of rotation for a cool-down.
    UpstreamTargetEjected {
        upstream: String,
        target: String,
    },
    UpstreamTargetRestored {
        upstream: String,
        target: String,
    },
    /// A request broke the protocol or a limit.
    SecurityViolation {
        kind: ViolationKind,
        client_ip: String,
    },
    /// The shared rate-limit backend (Redis) failed a decision; routes fall back to
    /// their `on_backend_error` behaviour until it answers again.
    RateLimitBackendUnavailable,
    RateLimitBackendRecovered,
    /// An operator changed something through the admin API (replay, purge, resume).
    /// `token` is the admin token's configured name, never the token.
    AdminAction {
        token: String,
        action: String,
        target: Option<String>,
        count: u64,
    },
    /// An uptime monitor crossed its failures-before-down threshold.
    MonitorDown {
        monitor: String,
        /// Why the last check failed (a condition, a timeout, a refused connection).
        reason: String,
    },
    /// A down monitor passed its successes-before-up threshold.
    MonitorUp {
        monitor: String,
    },
    /// An alert started firing (after silences and maintenance were applied).
    AlertFiring {
        alertname: String,
        severity: String,
        fingerprint: String,
    },
    AlertResolved {
        alertname: String,
        fingerprint: String,
    },
    /// A notification could not be delivered (retried, expired or sent by fallback).
    /// Alert rules never match events about notification delivery: no loops.
    NotificationFailed {
        notifier: String,
        reason: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    RequestHeadTimeout,
    RequestHeadTooLarge,
    MalformedRequest,
    Http2PrefaceTimeout,
    WebhookSignatureInvalid,
    /// No credentials, or credentials that did not verify (401).
    AuthFailed,
    /// Verified, but without the roles the route requires (403).
    AccessDenied,
    /// Refused by a rate limit (429).
    RateLimited,
    /// Input screening matched a SQL-injection or XSS pattern on a route in `block`
    /// mode (403).
    ScreeningBlocked,
}

impl ViolationKind {
    /// The `event_type` label of `security_events_total`.
    pub fn label(self) -> &'static str {
        match self {
            ViolationKind::RequestHeadTimeout => "request_head_timeout",
            ViolationKind::RequestHeadTooLarge => "request_head_too_large",
            ViolationKind::MalformedRequest => "malformed_request",
            ViolationKind::Http2PrefaceTimeout => "http2_preface_timeout",
            ViolationKind::WebhookSignatureInvalid => "webhook_signature_invalid",
            ViolationKind::AuthFailed => "auth_failed",
            ViolationKind::AccessDenied => "access_denied",
            ViolationKind::RateLimited => "rate_limited",
            ViolationKind::ScreeningBlocked => "screening_blocked",
        }
    }

    /// How much an operator should care about one occurrence: forged webhooks are
    /// attacks on the app's data; bad tokens and refused roles are probing; slow heads
    /// and limits are mostly noise unless they spike.
    pub fn severity(self) -> &'static str {
        match self {
            ViolationKind::WebhookSignatureInvalid => "high",
            ViolationKind::AuthFailed
            | ViolationKind::AccessDenied
            | ViolationKind::MalformedRequest
            | ViolationKind::ScreeningBlocked => "medium",
            ViolationKind::RequestHeadTimeout
            | ViolationKind::RequestHeadTooLarge
            | ViolationKind::Http2PrefaceTimeout
            | ViolationKind::RateLimited => "low",
        }
    }
}

impl BusEvent {
    /// The event's name as it appears in metrics and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            BusEvent::Started { .. } => "started",
            BusEvent::ShutdownStarted => "shutdown_started",
            BusEvent::ConfigReloaded => "config_reloaded",
            BusEvent::ConfigReloadFailed { .. } => "config_reload_failed",
            BusEvent::CheckFailed { .. } => "check_failed",
            BusEvent::CheckRecovered { .. } => "check_recovered",
            BusEvent::UpstreamTargetEjected { .. } => "upstream_target_ejected",
            BusEvent::UpstreamTargetRestored { .. } => "upstream_target_restored",
            BusEvent::SecurityViolation { .. } => "security_violation",
            BusEvent::RateLimitBackendUnavailable => "rate_limit_backend_unavailable",
            BusEvent::RateLimitBackendRecovered => "rate_limit_backend_recovered",
            BusEvent::AdminAction { .. } => "admin_action",
            BusEvent::MonitorDown { .. } => "monitor_down",
            BusEvent::MonitorUp { .. } => "monitor_up",
            BusEvent::AlertFiring { .. } => "alert_firing",
            BusEvent::AlertResolved { .. } => "alert_resolved",
            BusEvent::NotificationFailed { .. } => "notification_failed",
        }
    }
}

/// An event with the wall-clock time it was published, in Unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Envelope {
    pub at_ms: u64,
    #[serde(flatten)]
    pub event: BusEvent,
}
