//! Telemetry of the upkeep: queue gauges, pruning and store failures.

use metrics::Unit;

use super::depths::{DestinationDepths, STATES};
use crate::store::StoreError;

pub const QUEUE_DEPTH: &str = "bulwark_queue_depth";
pub const OLDEST_PENDING_AGE: &str = "bulwark_queue_oldest_pending_age_seconds";
pub const PRUNED: &str = "bulwark_store_pruned_total";

pub fn describe() {
    metrics::describe_gauge!(
        QUEUE_DEPTH,
        "Messages in the store by destination and state (pending, leased, dead)."
    );
    metrics::describe_gauge!(
        OLDEST_PENDING_AGE,
        Unit::Seconds,
        "Age of the oldest message not yet delivered (pending or in delivery), by destination."
    );
    metrics::describe_counter!(
        PRUNED,
        "Delivered messages deleted after their retention period."
    );
    metrics::counter!(PRUNED).absolute(0);
}

pub fn publish(depths: &[DestinationDepths]) {
    for d in depths {
        for (state, count) in STATES.iter().zip(d.counts) {
            metrics::gauge!(QUEUE_DEPTH, "destination" => d.destination.clone(), "state" => state.label())
                .set(count as f64);
        }
        metrics::gauge!(OLDEST_PENDING_AGE, "destination" => d.destination.clone())
            .set(d.oldest_pending_age_secs);
    }
}

pub fn pruned(count: u64) {
    metrics::counter!(PRUNED).increment(count);
    if count > 0 {
        tracing::info!(count, "Pruned delivered messages past their retention.");
    }
}

pub fn store_failed(error: &StoreError, action: &'static str) {
    tracing::error!(%error, action, "Store upkeep failed.");
}
