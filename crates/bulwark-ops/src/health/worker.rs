//! One background loop per configured check: probe at once, then every interval, each
//! probe bounded by the timeout; store the result, emit telemetry, and publish a bus
//! event when the tracked state flips. Requests never wait for a probe.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bulwark_config::checks::Check;
use bulwark_events::{Bus, BusEvent};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::events::{CheckCompleted, CheckStateChanged};
use super::probe::{Probe, ProbeError};
use super::status::{CheckRecord, CheckView, ComponentType, stale_after};
use super::tracker::Transition;

/// A configured check and what is known about it, shared by its loop and the requests.
pub(super) struct Slot {
    pub check: Check,
    /// http only: the targets the probe was built for, so that a reload changing them
    /// starts the check afresh.
    pub targets: Vec<String>,
    pub component_type: ComponentType,
    pub record: Mutex<CheckRecord>,
}

impl Slot {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, CheckRecord> {
        // The record is plain data updated in one statement; a panic elsewhere while it
        // was held cannot have left it half-written.
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn view(&self, now: std::time::Instant) -> CheckView {
        let record = self.lock();
        let stale = stale_after(self.check.interval, self.check.timeout);
        CheckView {
            name: self.check.name.clone(),
            critical: self.check.critical,
            component_type: self.component_type,
            measurement: Some("responseTime"),
            outcome: record.outcome(stale, now),
            observed_ms: record.last.as_ref().map(|l| millis(l.duration)),
            time: record.last.as_ref().map(|l| l.time),
        }
    }

    fn store(&self, result: Result<(), ProbeError>, duration: Duration, bus: &Bus) {
        let failure = result.err().map(|e| e.to_string());
        let (transition, up) = {
            let mut record = self.lock();
            let transition = record.record(
                failure.clone().map_or(Ok(()), Err),
                Instant::now().into_std(),
                SystemTime::now(),
                duration,
            );
            (transition, record.tracker.is_passing())
        };
        let name = self.check.name.as_str();
        CheckCompleted {
            check: name,
            failure: failure.as_deref(),
            duration,
            up,
        }
        .emit();
        match transition {
            Some(Transition::Failed) => {
                CheckStateChanged {
                    check: name,
                    critical: self.check.critical,
                    failure: Some(failure.as_deref().unwrap_or("failing")),
                }
                .emit();
                bus.publish(BusEvent::CheckFailed {
                    check: name.to_string(),
                    critical: self.check.critical,
                });
            }
            Some(Transition::Recovered) => {
                CheckStateChanged {
                    check: name,
                    critical: self.check.critical,
                    failure: None,
                }
                .emit();
                bus.publish(BusEvent::CheckRecovered {
                    check: name.to_string(),
                });
            }
            None => {}
        }
    }
}

/// Milliseconds with microsecond precision: enough for a report, short to read.
fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1_000.0
}

pub(super) async fn run(
    slot: Arc<Slot>,
    probe: Result<Probe, ProbeError>,
    bus: Bus,
    cancel: CancellationToken,
) {
    let mut ticks = tokio::time::interval(slot.check.interval);
    // After a slow probe, wait a full interval rather than firing the missed ticks at once.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let started = Instant::now();
        let result = match &probe {
            Ok(probe) => tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                result = probe.check(slot.check.timeout) => result,
            },
            // A probe that cannot even be built (an unknown upstream) fails every round,
            // visibly, instead of silently not running.
            Err(error) => Err(error.clone()),
        };
        slot.store(result, started.elapsed(), &bus);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_keep_microseconds() {
        assert_eq!(millis(Duration::from_micros(1_234_567)), 1234.567);
        assert_eq!(millis(Duration::from_nanos(1_499)), 0.001);
    }
}
