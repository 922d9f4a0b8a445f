//! Telemetry of the dispatcher: metric names, and one function per event that writes the
//! log line and the metric together.

use std::time::Duration;

use metrics::Unit;

use crate::breaker::{BreakerState, Transition};

pub const DELIVERIES: &str = "bulwark_deliveries_total";
pub const ATTEMPT_DURATION: &str = "bulwark_delivery_attempt_duration_seconds";
pub const BREAKER_STATE: &str = "circuit_breaker_state";
pub const BREAKER_TRANSITIONS: &str = "circuit_breaker_transitions_total";
pub const LEASES_LOST: &str = "bulwark_leases_lost_total";

/// Registers descriptions so every family has HELP and a unit in the scrape.
pub fn describe() {
    metrics::describe_counter!(
        DELIVERIES,
        "Delivery attempts settled, by destination and outcome (delivered, retry, dead, paused)."
    );
    metrics::describe_histogram!(
        ATTEMPT_DURATION,
        Unit::Seconds,
        "Time from sending a delivery to its answer (or failure), by destination."
    );
    metrics::describe_gauge!(
        BREAKER_STATE,
        "Circuit breaker per destination: 0 closed, 1 half-open, 2 open."
    );
    metrics::describe_counter!(
        BREAKER_TRANSITIONS,
        "Circuit breaker state changes, by destination, from and to."
    );
    metrics::describe_counter!(
        LEASES_LOST,
        "Settlements refused because the lease had expired and the message was claimed again."
    );
}

/// How an attempt was settled, the `outcome` label of [`DELIVERIES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    Delivered,
    Retry,
    Dead,
    Paused,
}

impl Settled {
    pub fn label(self) -> &'static str {
        match self {
            Settled::Delivered => "delivered",
            Settled::Retry => "retry",
            Settled::Dead => "dead",
            Settled::Paused => "paused",
        }
    }
}

pub fn attempt_settled(destination: &str, settled: Settled, duration: Duration, detail: &str) {
    metrics::counter!(DELIVERIES, "destination" => destination.to_string(), "outcome" => settled.label())
        .increment(1);
    metrics::histogram!(ATTEMPT_DURATION, "destination" => destination.to_string())
        .record(duration.as_secs_f64());
    match settled {
        Settled::Delivered => {
            tracing::debug!(destination, ?duration, "Message delivered.");
        }
        Settled::Retry => {
            tracing::info!(destination, error = detail, "Delivery failed, will retry.");
        }
        Settled::Dead => {
            tracing::warn!(
                destination,
                error = detail,
                "Delivery failed, message dead-lettered."
            );
        }
        Settled::Paused => {
            tracing::warn!(
                destination,
                error = detail,
                "Destination answered 410 Gone, paused."
            );
        }
    }
}

pub fn breaker_state(destination: &str, state: BreakerState) {
    metrics::gauge!(BREAKER_STATE, "destination" => destination.to_string())
        .set(state.gauge_value());
}

pub fn breaker_transition(destination: &str, transition: Transition) {
    metrics::counter!(
        BREAKER_TRANSITIONS,
        "destination" => destination.to_string(),
        "from" => state_label(transition.from),
        "to" => state_label(transition.to)
    )
    .increment(1);
    breaker_state(destination, transition.to);
    tracing::warn!(
        destination,
        from = state_label(transition.from),
        to = state_label(transition.to),
        "Circuit breaker changed state."
    );
}

pub fn lease_lost(destination: &str) {
    metrics::counter!(LEASES_LOST, "destination" => destination.to_string()).increment(1);
    tracing::info!(
        destination,
        "Lease lost before settling; the message was claimed again."
    );
}

pub fn store_failed(error: &crate::store::StoreError, action: &'static str) {
    tracing::error!(%error, action, "Store call failed in the dispatcher.");
}

fn state_label(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::HalfOpen => "half_open",
        BreakerState::Open => "open",
    }
}
