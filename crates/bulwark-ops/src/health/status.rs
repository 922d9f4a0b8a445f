//! What is known about each check, and what a request makes of it at a given `now`: the
//! tracked state, unless the last result is too old or there is none. Pure: no clock
//! inside, so the staleness rule is tested with explicit instants.

use std::time::{Duration, Instant, SystemTime};

use super::tracker::{TrackedState, Tracker, Transition};

/// How many intervals without a result make the last one stale (DESIGN.md, "Health").
pub const STALE_INTERVALS: u32 = 3;

/// The draft's `componentType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComponentType {
    Datastore,
    Component,
    System,
}

impl ComponentType {
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentType::Datastore => "datastore",
            ComponentType::Component => "component",
            ComponentType::System => "system",
        }
    }
}

/// One probe's outcome.
#[derive(Clone, Debug)]
pub struct Observation {
    pub ok: bool,
    /// Monotonic, for staleness.
    pub at: Instant,
    /// Wall clock, for the report's `time`.
    pub time: SystemTime,
    pub duration: Duration,
}

/// Everything remembered about one dependency check between probes.
#[derive(Clone, Debug)]
pub struct CheckRecord {
    pub tracker: Tracker,
    pub last: Option<Observation>,
    /// Why the most recent failed probe failed; shown while the check is failing, even when
    /// the latest probe passed but not yet often enough to recover.
    pub last_failure: Option<String>,
}

impl CheckRecord {
    pub fn new(tracker: Tracker) -> Self {
        Self {
            tracker,
            last: None,
            last_failure: None,
        }
    }

    /// Stores a result; returns the transition when the tracked state flips.
    pub fn record(
        &mut self,
        result: Result<(), String>,
        at: Instant,
        time: SystemTime,
        duration: Duration,
    ) -> Option<Transition> {
        let ok = result.is_ok();
        if let Err(reason) = result {
            self.last_failure = Some(reason);
        }
        self.last = Some(Observation {
            ok,
            at,
            time,
            duration,
        });
        self.tracker.observe(ok)
    }

    /// The verdict a request gets at `now`.
    pub fn outcome(&self, stale_after: Duration, now: Instant) -> Outcome {
        let Some(last) = &self.last else {
            return Outcome::Fail("pending: no result yet".into());
        };
        let age = now.saturating_duration_since(last.at);
        if age > stale_after {
            return Outcome::Fail(format!(
                "stale: last result {} ms ago, expected one every {} ms",
                age.as_millis(),
                (stale_after / STALE_INTERVALS).as_millis()
            ));
        }
        match self.tracker.state() {
            TrackedState::Passing => Outcome::Pass,
            TrackedState::Failing | TrackedState::Pending => Outcome::Fail(
                self.last_failure
                    .clone()
                    .unwrap_or_else(|| "failing".into()),
            ),
        }
    }
}

/// After how long without a result the last one no longer counts.
///
/// Three intervals, measured from the longer of interval and timeout: a probe that takes
/// its whole timeout delivers results that far apart, and a slow but answering dependency
/// is not a stale one.
pub fn stale_after(interval: Duration, timeout: Duration) -> Duration {
    interval.max(timeout).saturating_mul(STALE_INTERVALS)
}

/// A check as a request sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Pass,
    /// With the reason, which is safe to show on the ops listener (no secrets).
    Fail(String),
}

impl Outcome {
    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass)
    }
}

/// One check in a report.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckView {
    pub name: String,
    pub critical: bool,
    pub component_type: ComponentType,
    /// The draft's measurement name, the part after the colon in the `checks` key.
    pub measurement: Option<&'static str>,
    pub outcome: Outcome,
    pub observed_ms: Option<f64>,
    pub time: Option<SystemTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(10);
    const TIMEOUT: Duration = Duration::from_secs(2);

    fn record(tracker: Tracker) -> (CheckRecord, Instant) {
        (CheckRecord::new(tracker), Instant::now())
    }

    fn ok(r: &mut CheckRecord, at: Instant) -> Option<Transition> {
        r.record(Ok(()), at, SystemTime::UNIX_EPOCH, Duration::from_millis(3))
    }

    fn fail(r: &mut CheckRecord, at: Instant, why: &str) -> Option<Transition> {
        r.record(
            Err(why.into()),
            at,
            SystemTime::UNIX_EPOCH,
            Duration::from_millis(3),
        )
    }

    #[test]
    fn pending_counts_as_failed() {
        let (r, t0) = record(Tracker::new(3, 1));
        let after = stale_after(INTERVAL, TIMEOUT);
        assert_eq!(
            r.outcome(after, t0),
            Outcome::Fail("pending: no result yet".into())
        );
    }

    #[test]
    fn a_result_counts_until_three_intervals_have_passed() {
        let (mut r, t0) = record(Tracker::new(3, 1));
        let after = stale_after(INTERVAL, TIMEOUT);
        assert_eq!(after, Duration::from_secs(30));
        ok(&mut r, t0);
        assert_eq!(r.outcome(after, t0), Outcome::Pass);
        assert_eq!(
            r.outcome(after, t0 + Duration::from_secs(30)),
            Outcome::Pass
        );
        let stale = r.outcome(after, t0 + Duration::from_millis(30_001));
        assert_eq!(
            stale,
            Outcome::Fail("stale: last result 30001 ms ago, expected one every 10000 ms".into())
        );
        // A fresh result makes it count again.
        ok(&mut r, t0 + Duration::from_secs(31));
        assert_eq!(
            r.outcome(after, t0 + Duration::from_secs(32)),
            Outcome::Pass
        );
    }

    #[test]
    fn a_timeout_longer_than_the_interval_stretches_the_window() {
        assert_eq!(
            stale_after(Duration::from_millis(100), Duration::from_secs(1)),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn a_clock_that_reads_earlier_than_the_result_is_not_stale() {
        let (mut r, t0) = record(Tracker::new(1, 1));
        ok(&mut r, t0 + Duration::from_secs(5));
        assert_eq!(r.outcome(Duration::from_secs(30), t0), Outcome::Pass);
    }

    #[test]
    fn failing_shows_the_last_failure_until_recovered() {
        let (mut r, t0) = record(Tracker::new(1, 2));
        let after = stale_after(INTERVAL, TIMEOUT);
        ok(&mut r, t0);
        assert_eq!(
            fail(&mut r, t0, "connection refused"),
            Some(Transition::Failed)
        );
        assert_eq!(
            r.outcome(after, t0),
            Outcome::Fail("connection refused".into())
        );
        // One success of two needed: still failing, still the same reason.
        assert_eq!(ok(&mut r, t0), None);
        assert_eq!(
            r.outcome(after, t0),
            Outcome::Fail("connection refused".into())
        );
        assert_eq!(ok(&mut r, t0), Some(Transition::Recovered));
        assert_eq!(r.outcome(after, t0), Outcome::Pass);
    }

    #[test]
    fn passing_with_failures_below_the_threshold_still_passes() {
        let (mut r, t0) = record(Tracker::new(3, 1));
        let after = stale_after(INTERVAL, TIMEOUT);
        ok(&mut r, t0);
        fail(&mut r, t0, "timed out");
        fail(&mut r, t0, "timed out");
        assert_eq!(r.outcome(after, t0), Outcome::Pass);
        assert!(!r.last.as_ref().unwrap().ok);
    }
}
