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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    RequestHeadTimeout,
    RequestHeadTooLarge,
    MalformedRequest,
    Http2PrefaceTimeout,
    WebhookSignatureInvalid,
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
