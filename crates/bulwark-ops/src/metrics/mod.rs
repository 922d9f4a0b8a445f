//! Prometheus metrics: the global recorder, with explicit histogram buckets, and the
//! process metrics refreshed at each scrape.
//!
//! Metric names carry their unit and counters end in `_total`; the recorder adds no
//! suffixes of its own. `docs/metrics.md` lists the families.

pub mod events;
pub mod process;

use std::time::Duration;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use process::ProcessSample;

/// Upper bounds for every `*_seconds` histogram: from half a millisecond (a cache hit, a
/// fast probe) to 30 s (a slow delivery or a probe at its timeout).
pub const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("invalid histogram buckets")]
    Buckets(#[source] BuildError),
    /// Usually: a recorder is already installed in this process.
    #[error("cannot install the Prometheus recorder")]
    Install(#[source] BuildError),
}

/// Installs the global Prometheus recorder with explicit histogram buckets for every
/// metric ending in `_seconds` and describes the ops metrics. Once per process.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .map_err(MetricsError::Buckets)?
        .install_recorder()
        .map_err(MetricsError::Install)?;
    describe();
    record_process_metrics();
    Ok(handle)
}

/// HELP lines for this crate's metrics. Descriptions given before a recorder exists are
/// lost, so [`install`] calls this; calling it again is harmless.
pub fn describe() {
    events::describe();
    crate::health::events::describe();
}

/// Refreshes process gauges (called by the /metrics handler before rendering).
pub fn record_process_metrics() {
    use events::*;
    let sample = ProcessSample::read();
    if let Some(bytes) = sample.resident_bytes {
        ::metrics::gauge!(PROCESS_RESIDENT_MEMORY_BYTES).set(bytes as f64);
    }
    if let Some(seconds) = sample.cpu_seconds {
        ::metrics::counter!(PROCESS_CPU_SECONDS_TOTAL).absolute(seconds as u64);
    }
    if let Some(fds) = sample.open_fds {
        ::metrics::gauge!(PROCESS_OPEN_FDS).set(fds as f64);
    }
    if let Some(start) = sample.start_time_seconds {
        ::metrics::gauge!(PROCESS_START_TIME_SECONDS).set(start);
    }
}

/// Drains histogram samples into their buckets every `every` until `cancel`: without it,
/// samples pile up in memory between scrapes (or forever, if nobody scrapes).
pub async fn run_upkeep(handle: PrometheusHandle, every: Duration, cancel: CancellationToken) {
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => handle.run_upkeep(),
        }
    }
}
