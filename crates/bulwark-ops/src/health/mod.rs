//! Health: liveness, readiness and the detailed report, fed by built-in checks (set by the
//! binary) and configured dependency checks (probed in the background).
//!
//! Readiness fails if and only if a *critical* check fails. Built-ins are always
//! critical; dependencies are not unless the config says so, because when the app or
//! Redis is down bulwark must stay ready and keep buffering (DESIGN.md, "Health").
//! Requests only read the last results: a result older than three intervals, or no
//! result yet, counts as failed.
//!
//! Files: `tracker.rs` (pure threshold state machine), `status.rs` (records, staleness,
//! views), `report.rs` (rendering), `probe.rs` (the I/O of each kind), `worker.rs` (the
//! loops), `events.rs` (telemetry).

pub mod events;
pub mod probe;
pub mod report;
pub mod status;
pub mod tracker;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use bulwark_config::checks::{BUILTIN_CHECKS, Check};
use bulwark_config::upstreams::Upstream;
use bulwark_events::{Bus, BusEvent};
use tokio_util::sync::CancellationToken;

pub use probe::{Probe, ProbeError};
pub use report::{Overall, ReadyQuery, Rendered};
pub use status::{CheckView, ComponentType, Outcome};

use events::{CheckRegistered, CheckStateChanged};
use status::CheckRecord;
use tracker::{Tracker, Transition};
use worker::Slot;

/// The health state shared by the probe loops, the ops listener and (later) the alert
/// engine. Cheap to clone.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    bus: Bus,
    builtins: Mutex<Vec<Builtin>>,
    active: Mutex<Active>,
}

struct Builtin {
    name: &'static str,
    /// Most built-ins are bulwark's own ability to serve; a shared backend bulwark can
    /// do without (the rate limiter's Redis) only warns.
    critical: bool,
    /// Thresholds of one: the binary reports facts about itself, not samples.
    tracker: Tracker,
    output: Option<String>,
    time: Option<SystemTime>,
}

#[derive(Default)]
struct Active {
    slots: Vec<Arc<Slot>>,
    cancel: Option<CancellationToken>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data replaced in single statements: a panic elsewhere cannot leave it torn.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Health {
    /// The built-in checks start pending, so bulwark is not ready until the binary has
    /// said that its listeners are bound and its config is valid.
    pub fn new(bus: Bus) -> Self {
        let builtins = BUILTIN_CHECKS
            .iter()
            .map(|name| {
                CheckRegistered {
                    check: name,
                    up: false,
                }
                .emit();
                Builtin {
                    name,
                    critical: true,
                    tracker: Tracker::new(1, 1),
                    output: None,
                    time: None,
                }
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                bus,
                builtins: Mutex::new(builtins),
                active: Mutex::new(Active::default()),
            }),
        }
    }

    /// Built-in checks on bulwark itself ("listeners", "config"): always critical, set by
    /// the binary. `output` says why when `ok` is false; it is shown on the ops listener.
    pub fn set_builtin(&self, name: &'static str, ok: bool, output: Option<String>) {
        self.set_builtin_state(name, true, ok, output);
    }

    /// A built-in that only warns (`/health` says `warn`, readiness stays 200), such as
    /// the rate limiter's shared backend: bulwark keeps serving on local limits.
    pub fn set_builtin_warning(&self, name: &'static str, ok: bool, output: Option<String>) {
        self.set_builtin_state(name, false, ok, output);
    }

    fn set_builtin_state(
        &self,
        name: &'static str,
        critical: bool,
        ok: bool,
        output: Option<String>,
    ) {
        let transition = {
            let mut builtins = lock(&self.inner.builtins);
            let index = match builtins.iter().position(|b| b.name == name) {
                Some(index) => index,
                None => {
                    builtins.push(Builtin {
                        name,
                        critical,
                        tracker: Tracker::new(1, 1),
                        output: None,
                        time: None,
                    });
                    builtins.len() - 1
                }
            };
            let builtin = &mut builtins[index];
            builtin.output = if ok { None } else { output };
            builtin.time = Some(SystemTime::now());
            builtin
                .tracker
                .observe(ok)
                .map(|t| (t, builtin.output.clone()))
        };
        CheckRegistered {
            check: name,
            up: ok,
        }
        .emit();
        match transition {
            Some((Transition::Failed, output)) => {
                CheckStateChanged {
                    check: name,
                    critical,
                    failure: Some(output.as_deref().unwrap_or("failed")),
                }
                .emit();
                self.inner.bus.publish(BusEvent::CheckFailed {
                    check: name.to_string(),
                    critical,
                });
            }
            Some((Transition::Recovered, _)) => {
                CheckStateChanged {
                    check: name,
                    critical,
                    failure: None,
                }
                .emit();
                self.inner.bus.publish(BusEvent::CheckRecovered {
                    check: name.to_string(),
                });
            }
            None => {}
        }
    }

    /// Replace the configured dependency checks (at start and on every config reload):
    /// stop the old probe loops (child CancellationToken of `cancel`), start one loop per
    /// check that probes immediately and then every `interval`, each probe bounded by
    /// `timeout`.
    ///
    /// A check whose name, kind and (for http) targets are unchanged keeps what is known
    /// about it, so a reload does not make bulwark unready while the first probes run.
    /// Must be called within a Tokio runtime.
    pub fn apply(&self, checks: &[Check], upstreams: &[Upstream], cancel: &CancellationToken) {
        let mut active = lock(&self.inner.active);
        if let Some(old) = active.cancel.take() {
            old.cancel();
        }
        let previous: HashMap<&str, &Arc<Slot>> = active
            .slots
            .iter()
            .map(|slot| (slot.check.name.as_str(), slot))
            .collect();
        let token = cancel.child_token();
        let mut slots = Vec::with_capacity(checks.len());
        for check in checks {
            let probe = Probe::new(check, upstreams);
            let targets = match &probe {
                Ok(Probe::Http { targets, .. }) => targets.iter().map(|(t, _)| t.clone()).collect(),
                _ => Vec::new(),
            };
            let record = previous
                .get(check.name.as_str())
                .filter(|old| old.check.kind == check.kind && old.targets == targets)
                .map(|old| {
                    let mut record = old.lock().clone();
                    record.tracker = record
                        .tracker
                        .with_thresholds(check.failure_threshold, check.success_threshold);
                    record
                })
                .unwrap_or_else(|| {
                    CheckRecord::new(Tracker::new(
                        check.failure_threshold,
                        check.success_threshold,
                    ))
                });
            CheckRegistered {
                check: &check.name,
                up: record.tracker.is_passing(),
            }
            .emit();
            let slot = Arc::new(Slot {
                check: check.clone(),
                targets,
                component_type: probe::component_type(&check.kind),
                record: Mutex::new(record),
            });
            tokio::spawn(worker::run(
                slot.clone(),
                probe,
                self.inner.bus.clone(),
                token.clone(),
            ));
            slots.push(slot);
        }
        active.slots = slots;
        active.cancel = Some(token);
    }

    /// Every check as a request sees it now: built-ins first, then the configured checks
    /// in config order.
    pub fn snapshot(&self) -> Vec<CheckView> {
        // Tokio's clock, so that tests with a paused clock see consistent ages.
        let now = tokio::time::Instant::now().into_std();
        let mut views: Vec<CheckView> = lock(&self.inner.builtins)
            .iter()
            .map(|b| CheckView {
                name: b.name.to_string(),
                critical: b.critical,
                component_type: ComponentType::System,
                measurement: None,
                outcome: match (b.tracker.is_passing(), b.time) {
                    (true, _) => Outcome::Pass,
                    (false, None) => Outcome::Fail("pending: not reported yet".into()),
                    (false, Some(_)) => {
                        Outcome::Fail(b.output.clone().unwrap_or_else(|| "failed".into()))
                    }
                },
                observed_ms: None,
                time: b.time,
            })
            .collect();
        let slots = lock(&self.inner.active).slots.clone();
        views.extend(slots.iter().map(|slot| slot.view(now)));
        views
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bulwark_config::checks::CheckKind;

    use super::*;

    fn ready(health: &Health) -> u16 {
        report::readiness(&health.snapshot(), &ReadyQuery::default()).status
    }

    #[test]
    fn not_ready_until_the_builtins_are_reported() {
        let health = Health::new(Bus::new(16));
        assert_eq!(ready(&health), 503);
        health.set_builtin("listeners", true, None);
        assert_eq!(ready(&health), 503, "config still pending");
        health.set_builtin("config", true, None);
        assert_eq!(ready(&health), 200);
    }

    #[test]
    fn builtin_flips_are_published() {
        let bus = Bus::new(16);
        let mut events = bus.subscribe("test");
        let health = Health::new(bus);
        health.set_builtin("listeners", true, None);
        health.set_builtin("listeners", false, Some("public listener closed".into()));
        health.set_builtin("listeners", false, Some("public listener closed".into()));
        health.set_builtin("listeners", true, None);
        let seen: Vec<BusEvent> = std::iter::from_fn(|| events.try_recv())
            .map(|e| e.event.clone())
            .collect();
        assert_eq!(
            seen,
            vec![
                BusEvent::CheckFailed {
                    check: "listeners".into(),
                    critical: true
                },
                BusEvent::CheckRecovered {
                    check: "listeners".into()
                },
            ]
        );
    }

    #[test]
    fn a_failing_builtin_shows_its_reason() {
        let health = Health::new(Bus::new(16));
        health.set_builtin("config", false, Some("2 problems".into()));
        let r = report::readiness(&health.snapshot(), &ReadyQuery::parse(Some("verbose")));
        assert_eq!(
            r.body,
            "[-]listeners failed: pending: not reported yet\n\
             [-]config failed: 2 problems\n\
             readyz check failed\n"
        );
    }

    fn tcp_check(name: &str, address: String, critical: bool) -> Check {
        Check {
            name: name.into(),
            kind: CheckKind::Tcp { address },
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(500),
            critical,
            failure_threshold: 1,
            success_threshold: 1,
        }
    }

    /// Polls until the check's outcome is `expected`, within a deadline.
    async fn until(health: &Health, name: &str, expected: Outcome) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let view = health.snapshot().into_iter().find(|v| v.name == name);
            if view.is_some_and(|v| v.outcome == expected) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} never became {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_reload_keeps_unchanged_checks_and_stops_removed_ones() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let bus = Bus::new(64);
        let mut events = bus.subscribe("test");
        let health = Health::new(bus);
        let cancel = CancellationToken::new();
        let check = tcp_check("dep", address.clone(), true);
        health.apply(std::slice::from_ref(&check), &[], &cancel);
        until(&health, "dep", Outcome::Pass).await;

        // Same check again: still passing right away, no pending gap.
        health.apply(std::slice::from_ref(&check), &[], &cancel);
        let view = health
            .snapshot()
            .into_iter()
            .find(|v| v.name == "dep")
            .unwrap();
        assert!(view.outcome.is_pass());

        // Removed: gone from the report.
        health.apply(&[], &[], &cancel);
        assert!(health.snapshot().iter().all(|v| v.name != "dep"));

        // Cancelling the parent stops the loops; nothing failed along the way.
        cancel.cancel();
        assert!(
            std::iter::from_fn(|| events.try_recv())
                .all(|e| !matches!(e.event, BusEvent::CheckFailed { .. }))
        );
    }

    #[tokio::test]
    async fn a_failing_dependency_publishes_failed_then_recovered() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let bus = Bus::new(64);
        let mut events = bus.subscribe("test");
        let health = Health::new(bus);
        let cancel = CancellationToken::new();
        health.apply(
            &[tcp_check("dep", address.to_string(), false)],
            &[],
            &cancel,
        );
        until(&health, "dep", Outcome::Fail("connection refused".into())).await;
        let _listener = tokio::net::TcpListener::bind(address).await.unwrap();
        until(&health, "dep", Outcome::Pass).await;
        let seen: Vec<BusEvent> = std::iter::from_fn(|| events.try_recv())
            .map(|e| e.event.clone())
            .collect();
        assert_eq!(
            seen,
            vec![
                BusEvent::CheckFailed {
                    check: "dep".into(),
                    critical: false
                },
                BusEvent::CheckRecovered {
                    check: "dep".into()
                },
            ]
        );
        cancel.cancel();
    }
}
