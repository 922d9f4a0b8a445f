//! The runner: one task per monitor checking on its interval, feeding hysteresis, the
//! rolled-up history, metrics, the bus and incidents.
//!
//! Scale: a task per monitor costs a timer and a few hundred bytes while idle; first
//! runs are spread over the first interval by a hash of the name, so 10,000 monitors do
//! not fire at once after a start. Results are rolled into per-minute buckets in memory
//! and written in one batch every [`FLUSH_INTERVAL`].

use bulwark_events::time::now_ms;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bulwark_events::{Bus, BusEvent};
use serde::Serialize;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::aggregate::PendingChecks;
use crate::condition::Condition;
use crate::history::{HistoryStore, Impact, IncidentStatus};
use crate::probe::{self, HttpClientError, HttpClients, ProbeResult};
use crate::spec::MonitorSpec;
use crate::state::{Hysteresis, MonitorState, Transition};

/// How often pending buckets are written to the history store.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(10);
/// Retention is enforced every this many flushes (an hour at the default interval).
const PRUNE_EVERY_FLUSHES: u64 = 360;
/// Shortest interval honoured, so a misconfigured 0 cannot spin.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

const UP_GAUGE: &str = "monitor_up";
const RESPONSE_GAUGE: &str = "monitor_response_seconds";
const CHECKS_COUNTER: &str = "bulwark_monitor_checks_total";

/// One monitor as the status page and the admin API see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MonitorStatus {
    pub name: String,
    pub state: MonitorState,
    /// When the current state began (the runner's start, while unknown).
    pub since_ms: i64,
    pub last_check_ms: Option<i64>,
    pub last_response_ms: Option<u64>,
    /// Why the last check failed; `None` after a success.
    pub last_error: Option<String>,
}

/// The running monitors. Cheap to clone; every clone sees the same monitors.
#[derive(Clone)]
pub struct Monitors {
    inner: Arc<Inner>,
}

struct Inner {
    slots: Vec<Arc<Slot>>,
    by_name: HashMap<Arc<str>, usize>,
    history: HistoryStore,
    tracker: TaskTracker,
    flushes: Mutex<u64>,
}

/// What the runner knows about one monitor, shared between its task and readers.
struct Slot {
    name: Arc<str>,
    live: Mutex<Live>,
}

struct Live {
    hysteresis: Hysteresis,
    last_check_ms: Option<i64>,
    last_response_ms: Option<u64>,
    last_error: Option<String>,
    pending: PendingChecks,
}

impl Slot {
    fn live(&self) -> MutexGuard<'_, Live> {
        // Nothing panics while holding it; if something did, the counters are still sound.
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Monitors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitors")
            .field("monitors", &self.inner.slots.len())
            .finish_non_exhaustive()
    }
}

/// A monitor going down within this long of its last incident's resolution reopens it.
pub const REOPEN_WITHIN_MS: i64 = 30 * 60_000;

/// Describes the monitor metric families (HELP lines for Prometheus).
pub fn describe() {
    metrics::describe_gauge!(
        UP_GAUGE,
        "1 while the monitor is up, 0 while down (after the thresholds); absent until the first check."
    );
    metrics::describe_gauge!(
        RESPONSE_GAUGE,
        metrics::Unit::Seconds,
        "Response time of the monitor's last successful check."
    );
    metrics::describe_counter!(
        CHECKS_COUNTER,
        metrics::Unit::Count,
        "Monitor checks, by monitor and result (up, down)."
    );
}

impl Monitors {
    /// Starts one task per monitor and the history flusher, until `cancel` fires. Names
    /// are expected unique (the config validates that); a duplicate runs, but only the
    /// first of a name is found by [`is_down`](Self::is_down).
    pub fn start(
        specs: Vec<MonitorSpec>,
        history: HistoryStore,
        bus: Bus,
        cancel: CancellationToken,
    ) -> Result<Monitors, HttpClientError> {
        Ok(Self::start_with_clients(
            specs,
            history,
            bus,
            cancel,
            HttpClients::new()?,
        ))
    }

    /// [`start`](Self::start) with HTTP clients of the caller's (extra trusted roots).
    pub fn start_with_clients(
        specs: Vec<MonitorSpec>,
        history: HistoryStore,
        bus: Bus,
        cancel: CancellationToken,
        clients: HttpClients,
    ) -> Monitors {
        let now = now_ms();
        let mut slots = Vec::with_capacity(specs.len());
        let mut by_name = HashMap::with_capacity(specs.len());
        for (index, spec) in specs.iter().enumerate() {
            let name: Arc<str> = Arc::from(spec.name.as_str());
            by_name.entry(name.clone()).or_insert(index);
            slots.push(Arc::new(Slot {
                name,
                live: Mutex::new(Live {
                    hysteresis: Hysteresis::new(
                        spec.failures_before_down,
                        spec.successes_before_up,
                        now,
                    ),
                    last_check_ms: None,
                    last_response_ms: None,
                    last_error: None,
                    pending: PendingChecks::default(),
                }),
            }));
        }
        let monitors = Monitors {
            inner: Arc::new(Inner {
                slots,
                by_name,
                history,
                tracker: TaskTracker::new(),
                flushes: Mutex::new(0),
            }),
        };
        for (spec, slot) in specs.into_iter().zip(monitors.inner.slots.iter().cloned()) {
            let task = MonitorTask {
                conditions: spec.effective_conditions(),
                spec,
                slot,
                clients: clients.clone(),
                history: monitors.inner.history.clone(),
                bus: bus.clone(),
            };
            monitors.inner.tracker.spawn(task.run(cancel.clone()));
        }
        monitors
            .inner
            .tracker
            .spawn(monitors.clone().flush_loop(cancel));
        monitors.inner.tracker.close();
        monitors
    }

    /// Every monitor's current status, in configuration order.
    pub fn snapshot(&self) -> Vec<MonitorStatus> {
        self.inner
            .slots
            .iter()
            .map(|slot| status_of(slot))
            .collect()
    }

    /// One monitor's status.
    pub fn status(&self, name: &str) -> Option<MonitorStatus> {
        self.slot(name).map(|slot| status_of(slot))
    }

    /// Whether the monitor is down now (false for unknown names and unknown state): the
    /// alert engine's re-check, since bus events can be lost.
    pub fn is_down(&self, name: &str) -> bool {
        self.slot(name)
            .is_some_and(|slot| slot.live().hysteresis.state() == MonitorState::Down)
    }

    /// The history store (buckets and incidents) for the status page. Its calls block.
    pub fn history(&self) -> &HistoryStore {
        &self.inner.history
    }

    /// Writes the pending buckets now (the flusher does this every [`FLUSH_INTERVAL`]
    /// and once more on cancellation). A failed write keeps them pending.
    pub async fn flush(&self) {
        let batch: Vec<_> = self
            .inner
            .slots
            .iter()
            .filter_map(|slot| {
                let mut live = slot.live();
                (!live.pending.is_empty()).then(|| (slot.name.clone(), live.pending.take()))
            })
            .collect();
        let prune = {
            let mut flushes = self
                .inner
                .flushes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *flushes += 1;
            *flushes % PRUNE_EVERY_FLUSHES == 1
        };
        if batch.is_empty() && !prune {
            return;
        }
        let history = self.inner.history.clone();
        let written = tokio::task::spawn_blocking(move || {
            let result = history.write_batch(&batch);
            if prune && let Err(error) = history.prune(now_ms()) {
                tracing::warn!(error = %error, "Pruning the monitor history failed.");
            }
            (result, batch)
        })
        .await;
        match written {
            Ok((Ok(()), _)) => {}
            Ok((Err(error), batch)) => {
                tracing::warn!(error = %error, "Writing the monitor history failed; kept for the next flush.");
                self.restore(batch);
            }
            Err(join_error) => {
                tracing::warn!(error = %join_error, "The monitor history writer stopped.");
            }
        }
    }

    /// Waits until every monitor task and the flusher have stopped (after cancellation),
    /// the final flush included.
    pub async fn join(&self) {
        self.inner.tracker.wait().await;
    }

    fn restore(&self, batch: Vec<(Arc<str>, Vec<crate::aggregate::Bucket>)>) {
        for (name, buckets) in batch {
            if let Some(slot) = self.slot(&name) {
                slot.live().pending.restore(buckets);
            }
        }
    }

    fn slot(&self, name: &str) -> Option<&Arc<Slot>> {
        self.inner
            .by_name
            .get(name)
            .and_then(|&index| self.inner.slots.get(index))
    }

    async fn flush_loop(self, cancel: CancellationToken) {
        let mut ticker = tokio::time::interval_at(Instant::now() + FLUSH_INTERVAL, FLUSH_INTERVAL);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = ticker.tick() => self.flush().await,
            }
        }
        self.flush().await;
    }
}

fn status_of(slot: &Slot) -> MonitorStatus {
    let live = slot.live();
    MonitorStatus {
        name: slot.name.to_string(),
        state: live.hysteresis.state(),
        since_ms: live.hysteresis.since_ms(),
        last_check_ms: live.last_check_ms,
        last_response_ms: live.last_response_ms,
        last_error: live.last_error.clone(),
    }
}

struct MonitorTask {
    spec: MonitorSpec,
    conditions: Vec<Condition>,
    slot: Arc<Slot>,
    clients: HttpClients,
    history: HistoryStore,
    bus: Bus,
}

impl MonitorTask {
    async fn run(self, cancel: CancellationToken) {
        let interval = self.spec.interval.max(MIN_INTERVAL);
        let read_body = self.conditions.iter().any(uses_body);
        let metrics = MonitorMetrics::new(&self.slot.name);
        let first = Instant::now() + first_run_offset(&self.spec.name, interval);
        let mut ticker = tokio::time::interval_at(first, interval);
        // A check slower than the interval delays the next one instead of bunching them.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            // Boxed: a check's future (the HTTP client's) is several KiB, and inline it
            // would make every idle monitor task that large; 10,000 monitors sleep far
            // more than they check.
            let check = Box::pin(probe::check(
                &self.spec.probe,
                self.spec.timeout,
                read_body,
                &self.clients,
            ));
            let result = tokio::select! {
                () = cancel.cancelled() => return,
                result = check => result,
            };
            let transition = self.record(&result, &metrics);
            if let Some((transition, reason)) = transition {
                Box::pin(self.announce(transition, reason, &metrics)).await;
            }
        }
    }

    /// Judges one result and updates the shared status; returns the transition it caused
    /// with the failure reason.
    fn record(
        &self,
        result: &ProbeResult,
        metrics: &MonitorMetrics,
    ) -> Option<(Transition, Option<String>)> {
        let now = now_ms();
        let verdict = judge(&self.conditions, result);
        let ok = verdict.is_ok();
        let response_ms = u64::try_from(result.response_time.as_millis()).unwrap_or(u64::MAX);
        metrics.checked(ok, result.response_time);
        let mut live = self.slot.live();
        live.last_check_ms = Some(now);
        live.last_response_ms = Some(response_ms);
        live.last_error = verdict.err();
        live.pending.record(now, ok, response_ms);
        let transition = live.hysteresis.observe(ok, now)?;
        Some((transition, live.last_error.clone()))
    }

    async fn announce(
        &self,
        transition: Transition,
        reason: Option<String>,
        metrics: &MonitorMetrics,
    ) {
        metrics.state(transition.to);
        let name = self.spec.name.clone();
        // Incidents can be public: they carry the public name and fixed wording, never
        // the failure reason (which may quote a response body) or the internal name.
        let shown = self
            .spec
            .display_name
            .clone()
            .unwrap_or_else(|| name.clone());
        match transition.to {
            MonitorState::Down => {
                let reason = reason.unwrap_or_else(|| "check failed".into());
                tracing::warn!(monitor = %name, reason = %reason, "Monitor is down.");
                self.bus.publish(BusEvent::MonitorDown {
                    monitor: name.clone(),
                    reason: reason.clone(),
                });
                self.incident(move |history| {
                    let message =
                        format!("{shown} is not responding as expected. We are investigating.");
                    // A monitor that flaps reopens its recent incident instead of filling
                    // the status page with one per outage.
                    let recent = transition.at_ms - REOPEN_WITHIN_MS;
                    match history.recent_incident_for_monitor(&name, recent)? {
                        Some(incident) if incident.status == IncidentStatus::Resolved => {
                            history.add_update(
                                incident.id,
                                IncidentStatus::Investigating,
                                &message,
                                transition.at_ms,
                            )?;
                        }
                        Some(_) => {}
                        None => {
                            let title = format!("{shown} is down");
                            history.open_incident(
                                &title,
                                Impact::Major,
                                Some(&name),
                                &message,
                                transition.at_ms,
                            )?;
                        }
                    }
                    Ok(())
                })
                .await;
            }
            MonitorState::Up => {
                if transition.from == MonitorState::Down {
                    tracing::info!(monitor = %name, "Monitor is up again.");
                    self.bus.publish(BusEvent::MonitorUp {
                        monitor: name.clone(),
                    });
                }
                // Also from Unknown: an incident left open by a previous run is resolved
                // by the first success (without a bus event: nothing went up that was
                // seen down in this run).
                self.incident(move |history| {
                    if let Some(incident) = history.open_incident_for_monitor(&name)? {
                        let message = format!("{shown} has recovered.");
                        history.add_update(
                            incident.id,
                            IncidentStatus::Resolved,
                            &message,
                            transition.at_ms,
                        )?;
                    }
                    Ok(())
                })
                .await;
            }
            MonitorState::Unknown => {}
        }
    }

    /// Runs an incident change off the async threads, and waits for it so that incidents
    /// follow the order of transitions.
    async fn incident<F>(&self, change: F)
    where
        F: FnOnce(&HistoryStore) -> Result<(), crate::history::HistoryError> + Send + 'static,
    {
        let history = self.history.clone();
        match tokio::task::spawn_blocking(move || change(&history)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(monitor = %self.spec.name, error = %error, "Recording the incident failed.");
            }
            Err(error) => {
                tracing::warn!(monitor = %self.spec.name, error = %error, "Recording the incident stopped.");
            }
        }
    }
}

/// Ok, or why the check failed: the probe's error first, else the first failing
/// condition's explanation (`[STATUS] (503) >= 200`).
fn judge(conditions: &[Condition], result: &ProbeResult) -> Result<(), String> {
    if let Some(error) = &result.error {
        return Err(error.to_string());
    }
    let observation = result.observation();
    for condition in conditions {
        let outcome = condition.evaluate(&observation);
        if !outcome.success {
            return Err(outcome.explanation);
        }
    }
    Ok(())
}

/// Whether a condition reads the body. The condition API has no accessor for its
/// placeholders, but its canonical form names each one, so `[BODY]` shows there
/// (a `pat(...)` that merely contains the text costs a needless read, nothing worse).
fn uses_body(condition: &Condition) -> bool {
    condition.to_string().contains("[BODY]")
}

/// Where in the first interval a monitor first runs: a stable hash of its name (FNV-1a,
/// so the spread is the same on every start and every platform).
pub fn first_run_offset(name: &str, interval: Duration) -> Duration {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let nanos = u64::try_from(interval.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_nanos(hash % nanos)
}

/// One monitor's metric handles, registered once so a check allocates no labels.
struct MonitorMetrics {
    name: Arc<str>,
    up_checks: metrics::Counter,
    /// Registered at the first failed check: with thousands of healthy monitors a series
    /// of zeros per monitor would be a quarter of every scrape.
    down_checks: std::sync::OnceLock<metrics::Counter>,
    response: metrics::Gauge,
    /// Registered at the first known state, so the gauge is absent while unknown.
    up: Mutex<Option<metrics::Gauge>>,
}

impl MonitorMetrics {
    fn new(name: &Arc<str>) -> Self {
        let label = name.to_string();
        Self {
            name: name.clone(),
            up_checks: metrics::counter!(CHECKS_COUNTER, "monitor" => label.clone(), "result" => "up"),
            down_checks: std::sync::OnceLock::new(),
            response: metrics::gauge!(RESPONSE_GAUGE, "monitor" => label),
            up: Mutex::new(None),
        }
    }

    fn checked(&self, ok: bool, response_time: Duration) {
        if ok {
            self.up_checks.increment(1);
        } else {
            self.down_checks
                .get_or_init(|| {
                    metrics::counter!(CHECKS_COUNTER, "monitor" => self.name.to_string(), "result" => "down")
                })
                .increment(1);
        }
        self.response.set(response_time.as_secs_f64());
    }

    fn state(&self, state: MonitorState) {
        let value = match state {
            MonitorState::Up => 1.0,
            MonitorState::Down => 0.0,
            MonitorState::Unknown => return,
        };
        let mut up = self
            .up
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        up.get_or_insert_with(|| metrics::gauge!(UP_GAUGE, "monitor" => self.name.to_string()))
            .set(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_runs_spread_over_the_interval_deterministically() {
        let interval = Duration::from_secs(30);
        let a = first_run_offset("api", interval);
        assert_eq!(a, first_run_offset("api", interval));
        assert!(a < interval);
        // 1,000 names land in at least 9 of 10 slices of the interval.
        let mut slices = [0u32; 10];
        for i in 0..1_000 {
            let offset = first_run_offset(&format!("monitor-{i}"), interval);
            slices[(offset.as_millis() / 3_000) as usize] += 1;
        }
        assert!(
            slices.iter().filter(|&&n| n > 50).count() >= 9,
            "{slices:?}"
        );
        assert_eq!(first_run_offset("x", Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn body_conditions_are_detected() {
        assert!(uses_body(&Condition::parse("[BODY].status == UP").unwrap()));
        assert!(uses_body(&Condition::parse("len([BODY]) > 0").unwrap()));
        assert!(!uses_body(&Condition::parse("[STATUS] == 200").unwrap()));
    }

    #[test]
    fn judge_prefers_the_probe_error_then_the_first_failing_condition() {
        let conditions = vec![
            Condition::parse("[STATUS] >= 200").unwrap(),
            Condition::parse("[STATUS] < 300").unwrap(),
        ];
        let ok = ProbeResult {
            status: Some(204),
            connected: true,
            ..ProbeResult::default()
        };
        assert_eq!(judge(&conditions, &ok), Ok(()));
        let bad = ProbeResult {
            status: Some(503),
            connected: true,
            ..ProbeResult::default()
        };
        assert_eq!(judge(&conditions, &bad), Err("[STATUS] (503) < 300".into()));
        let refused = ProbeResult {
            error: Some(probe::ProbeError::ConnectRefused),
            ..ProbeResult::default()
        };
        assert_eq!(
            judge(&conditions, &refused),
            Err("connection refused".into())
        );
    }
}
