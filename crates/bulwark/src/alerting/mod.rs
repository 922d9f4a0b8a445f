//! Monitors, alerts, notifications and the status page, wired together.
//!
//! On every `evaluate_every` (and right after an app posts an alert) the driver reads
//! current state — bulwark's own metrics (breakers, checks, queue depths, deliveries,
//! security events, monitors), check criticality from the health registry, why monitors
//! are down — and hands it to the alert engine. What the engine decides goes out three
//! ways: notifications into the durable outbox, lifecycle changes onto the bus, and both
//! into the alert history.

pub mod admin;
pub mod engine_config;
pub mod monitors;
pub mod notifiers;
pub mod status_page;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use bulwark_alerts::{
    AlertEngine, AlertHistory, ChangeKind, Facts, Outgoing, Severity, TickOutput, parse_exposition,
};
use bulwark_config::ValidatedConfig;
use bulwark_events::Bus;
pub use bulwark_events::time::now_ms;
use bulwark_monitor::Monitors;
use bulwark_notify::EnqueueError;
use bulwark_ops::health::Health;
use bulwark_queue::store::SqliteStore;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use notifiers::SharedOutbox;

/// Resolved alerts and expired silences are kept this long in `alerts.db`.
const HISTORY_RETENTION_MS: i64 = 90 * 86_400_000;
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// Active alerts by severity, after silences and maintenance.
pub const ALERTS_FIRING: &str = "bulwark_alerts_firing";
/// Engine rounds that could not read bulwark's own metrics (rules then see no facts).
pub const EVALUATION_FAILURES: &str = "bulwark_alert_evaluation_failures_total";

/// What the admin API and the status page share with the driver.
#[derive(Clone)]
pub struct Alerting {
    engine: Arc<Mutex<AlertEngine>>,
    pub history: Arc<AlertHistory>,
    pub monitors: Option<Monitors>,
    /// Runs the next evaluation now (after a post or a silence).
    pub wake: Arc<Notify>,
    /// The notification worker, awaited at shutdown so that sends in flight finish
    /// (cut short, they would be sent again after their lease: a duplicate page).
    worker: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Alerting {
    /// After the background token was cancelled: waits for the monitors' last history
    /// flush and for the notification sends in flight.
    pub async fn stopped(&self) {
        if let Some(monitors) = &self.monitors {
            monitors.join().await;
        }
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(worker) = worker {
            let _ = worker.await;
        }
    }

    pub fn engine(&self) -> MutexGuard<'_, AlertEngine> {
        // The engine's methods do not panic on any input; a poisoned lock still holds a
        // consistent engine.
        self.engine
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Everything the driver reads on a tick.
struct Sources {
    metrics: PrometheusHandle,
    health: Health,
    monitor_severity: HashMap<String, Severity>,
    /// Sample names the threshold rules read, besides [`BUILTIN_SAMPLES`].
    threshold_samples: Vec<String>,
    outbox: Option<SharedOutbox>,
    bus: Bus,
}

fn describe() {
    metrics::describe_gauge!(
        ALERTS_FIRING,
        "Alerts firing now (silenced and maintenance-muted ones excluded), by severity."
    );
    metrics::describe_counter!(
        EVALUATION_FAILURES,
        "Alert evaluations that could not read bulwark's own metrics."
    );
    metrics::counter!(EVALUATION_FAILURES).absolute(0);
    metrics::describe_counter!(
        NOTIFICATIONS_UNQUEUED,
        "Notifications given up on because the store refused them until they were stale (expired) or too many waited (overflow)."
    );
    for severity in ["critical", "high", "medium", "low", "info"] {
        metrics::gauge!(ALERTS_FIRING, "severity" => severity).set(0.0);
    }
}

/// Starts the monitors, the notifiers' worker and the alert engine.
pub async fn start(
    config: &ValidatedConfig,
    bus: &Bus,
    store: Option<&SqliteStore>,
    health: &Health,
    metrics: PrometheusHandle,
    cancel: &CancellationToken,
) -> anyhow::Result<Alerting> {
    describe();
    let monitors = monitors::start(config, bus, cancel).await?;
    let (outbox, worker) = match store {
        Some(store) => match notifiers::start(config, store, bus, cancel)? {
            Some((outbox, worker)) => (Some(outbox), Some(worker)),
            None => (None, None),
        },
        None => (None, None),
    };
    let dir = config.data_dir.clone();
    let history = tokio::task::spawn_blocking(move || AlertHistory::open(&dir))
        .await
        .context("opening the alert history")?
        .with_context(|| {
            format!(
                "cannot open the alert history in {}",
                config.data_dir.display()
            )
        })?;
    let history = Arc::new(history);
    let now = now_ms();
    let (notified, closed, silences) = {
        let history = Arc::clone(&history);
        tokio::task::spawn_blocking(move || {
            // What the previous run told notifiers about, so that a restart does not page
            // again for it before the repeat interval.
            let notified = history.list(&bulwark_alerts::HistoryFilter {
                state: Some(bulwark_alerts::HistoryState::Firing),
                since_ms: None,
                limit: 10_000,
            });
            // Alerts still open from a previous run are re-found by the rules if they
            // still hold; their old occurrence ends here.
            let closed = history.close_open(now);
            (notified, closed, history.silences(now))
        })
        .await
        .context("reading the alert history")?
    };
    let notified = notified.context("reading the previous run's alerts")?;
    closed.context("closing the previous run's alerts")?;
    let mut engine = AlertEngine::new(engine_config::engine_config(config));
    engine.set_maintenance_windows(engine_config::maintenance_windows(config));
    engine.restore_notified(
        notified
            .into_iter()
            .filter(|row| row.ends_at_ms.is_none())
            .filter_map(|row| Some((row.fingerprint, row.last_notified_ms?))),
    );
    for silence in silences.context("reading silences")? {
        if let Err(error) = engine.add_silence(silence, now) {
            tracing::warn!(%error, "A stored silence was not restored.");
        }
    }
    let alerting = Alerting {
        engine: Arc::new(Mutex::new(engine)),
        history,
        monitors,
        wake: Arc::new(Notify::new()),
        worker: Arc::new(Mutex::new(worker)),
    };
    let sources = Sources {
        metrics,
        health: health.clone(),
        monitor_severity: config
            .monitors
            .iter()
            .filter_map(|m| {
                let severity = Severity::parse(m.severity.as_deref()?)?;
                Some((m.name.clone(), severity))
            })
            .collect(),
        threshold_samples: config
            .alerts
            .rules
            .iter()
            .map(|r| r.metric.clone())
            .collect(),
        outbox,
        bus: bus.clone(),
    };
    tokio::spawn(wake_on_state_changes(
        bus.subscribe("alerts"),
        Arc::clone(&alerting.wake),
        cancel.clone(),
    ));
    tokio::spawn(run(
        alerting.clone(),
        sources,
        config.alerts.evaluate_every,
        config.alerts.repeat_interval,
        cancel.clone(),
    ));
    Ok(alerting)
}

/// Evaluates at once when something changed state, instead of at the next tick: the tick
/// stays the source of truth (a lost event changes nothing), the bus only makes it sooner.
/// Per-request events (security violations, admin actions) do not wake it: under an
/// attack they would turn every request into an evaluation.
async fn wake_on_state_changes(
    mut events: bulwark_events::Subscriber,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    use bulwark_events::BusEvent;
    loop {
        let envelope = tokio::select! {
            envelope = events.recv() => envelope,
            () = cancel.cancelled() => return,
        };
        let Some(envelope) = envelope else { return };
        let changes_state = matches!(
            envelope.event,
            BusEvent::MonitorDown { .. }
                | BusEvent::MonitorUp { .. }
                | BusEvent::CheckFailed { .. }
                | BusEvent::CheckRecovered { .. }
                | BusEvent::UpstreamTargetEjected { .. }
                | BusEvent::UpstreamTargetRestored { .. }
                | BusEvent::RateLimitBackendUnavailable
                | BusEvent::RateLimitBackendRecovered
        );
        if changes_state {
            wake.notify_one();
        }
    }
}

async fn run(
    alerting: Alerting,
    sources: Sources,
    every: Duration,
    repeat_interval: Duration,
    cancel: CancellationToken,
) {
    let mut last_prune_ms = 0;
    let mut unqueued = Unqueued {
        waiting: std::collections::VecDeque::new(),
        expire_after_ms: i64::try_from(repeat_interval.as_millis()).unwrap_or(i64::MAX),
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = alerting.wake.notified() => {}
            () = cancel.cancelled() => return,
        }
        let now = now_ms();
        let facts = facts(&alerting, &sources);
        let out = alerting.engine().tick(&facts, now);
        let firing = alerting.engine().active_alerts();
        for severity in [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ] {
            let count = firing
                .iter()
                .filter(|a| !a.muted && a.alert.severity() == severity)
                .count();
            metrics::gauge!(ALERTS_FIRING, "severity" => severity.label()).set(count as f64);
        }
        settle(&alerting, &sources, &out, now).await;
        if now - last_prune_ms >= PRUNE_EVERY_MS {
            last_prune_ms = now;
            let history = Arc::clone(&alerting.history);
            let pruned =
                tokio::task::spawn_blocking(move || history.prune(now - HISTORY_RETENTION_MS))
                    .await;
            if let Ok(Err(error)) = pruned {
                tracing::warn!(%error, "Cannot prune the alert history.");
            }
        }
        if let Some(outbox) = &sources.outbox {
            unqueued.enqueue(outbox, out.notifications, now).await;
        }
    }
}

/// Sample names the built-in rules read from bulwark's own metrics. Monitors are read
/// from the runner instead: with thousands of monitors their series are most of the
/// scrape, and parsing them every tick would cost more than everything else together.
const BUILTIN_SAMPLES: &[&str] = &[
    "circuit_breaker_state",
    "bulwark_check_up",
    "bulwark_queue_depth",
    "security_events_total",
    "bulwark_deliveries_total",
    "bulwark_queue_oldest_pending_age_seconds",
];

/// The lines of `scrape` whose sample name is in `wanted` (no comments).
fn wanted_lines(scrape: &str, wanted: &[String]) -> String {
    let mut out = String::new();
    for line in scrape.lines() {
        if line.starts_with('#') {
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap_or("");
        if BUILTIN_SAMPLES.contains(&name) || wanted.iter().any(|w| w == name) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Current state, from bulwark's own metrics plus what they do not say.
fn facts(alerting: &Alerting, sources: &Sources) -> Facts {
    let scrape = wanted_lines(&sources.metrics.render(), &sources.threshold_samples);
    let samples = match parse_exposition(&scrape) {
        Ok(samples) => samples,
        Err(error) => {
            metrics::counter!(EVALUATION_FAILURES).increment(1);
            tracing::error!(%error, "Cannot read bulwark's own metrics; alert rules see nothing this round.");
            Vec::new()
        }
    };
    let mut facts = Facts::from_metrics(samples);
    let checks = sources.health.snapshot();
    for failing in &mut facts.failing_checks {
        failing.critical = checks.iter().any(|c| c.name == failing.check && c.critical);
    }
    if let Some(monitors) = &alerting.monitors {
        facts.monitors_down = monitors
            .snapshot()
            .into_iter()
            .filter(|m| m.state == bulwark_monitor::MonitorState::Down)
            .map(|m| bulwark_alerts::DownMonitor {
                severity: sources.monitor_severity.get(&m.name).copied(),
                reason: m
                    .last_error
                    .unwrap_or_else(|| "The monitor's checks are failing.".into()),
                monitor: m.name,
            })
            .collect();
    }
    facts
}

/// History and bus for one tick's output.
async fn settle(alerting: &Alerting, sources: &Sources, out: &TickOutput, now: i64) {
    for change in &out.changes {
        if let Some(event) = change.bus_event() {
            sources.bus.publish(event);
        }
    }
    let notified = out.notified_fingerprints();
    if !out.changes.is_empty() || !notified.is_empty() || !out.carried_over.is_empty() {
        let history = Arc::clone(&alerting.history);
        let changes = out.changes.clone();
        let carried_over = out.carried_over.clone();
        let written =
            tokio::task::spawn_blocking(move || -> Result<(), bulwark_alerts::HistoryError> {
                for change in &changes {
                    match change.kind {
                        ChangeKind::Fired => {
                            history.record_fired(&change.fingerprint, &change.alert, false)?
                        }
                        ChangeKind::Suppressed => {
                            history.record_fired(&change.fingerprint, &change.alert, true)?
                        }
                        ChangeKind::Resolved { .. } => {
                            let ends = change.alert.ends_at_ms.unwrap_or(now);
                            history.record_resolved(&change.fingerprint, ends)?;
                        }
                    }
                }
                if !notified.is_empty() {
                    history.record_notified(&notified, now)?;
                }
                // Told by a previous run: the new occurrence keeps that time, so the next
                // restart does not page for it either.
                for (fingerprint, at) in &carried_over {
                    history.record_notified(std::slice::from_ref(fingerprint), *at)?;
                }
                Ok(())
            })
            .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "Cannot write the alert history."),
            Err(error) => tracing::error!(%error, "Writing the alert history failed."),
        }
    }
}

/// Notifications the store refused, tried again on every tick, oldest first (so a group's
/// firing and resolved keep their order), until they are stored or as old as the repeat
/// interval (the engine sends a fresh one by then). The engine counts a notification as
/// sent once it hands it over, so without this a refused one would wait for the repeat.
struct Unqueued {
    waiting: std::collections::VecDeque<(i64, Outgoing)>,
    expire_after_ms: i64,
}

/// Refused notifications kept at most; beyond it the oldest are dropped (and counted).
const MAX_UNQUEUED: usize = 1000;
pub const NOTIFICATIONS_UNQUEUED: &str = "bulwark_notifications_unqueued_total";

impl Unqueued {
    async fn enqueue(&mut self, outbox: &SharedOutbox, fresh: Vec<Outgoing>, now: i64) {
        let mut batch: Vec<(i64, Outgoing)> = self.waiting.drain(..).collect();
        batch.extend(fresh.into_iter().map(|o| (now, o)));
        let mut refused = false;
        for (first_try, outgoing) in batch {
            // After one refusal the rest wait too, in order: storing a later resolved
            // notification before an earlier firing one of its group would reverse them.
            if refused {
                self.waiting.push_back((first_try, outgoing));
                continue;
            }
            if now - first_try >= self.expire_after_ms {
                metrics::counter!(NOTIFICATIONS_UNQUEUED, "notifier" => outgoing.notifier.clone(), "reason" => "expired").increment(1);
                continue;
            }
            // The outbox counts, logs and sends to fallback notifiers on its own.
            match outbox
                .enqueue(&outgoing.notifier, &outgoing.notification, now)
                .await
            {
                Ok(_) => {}
                Err(error @ EnqueueError::Store { .. }) => {
                    tracing::warn!(notifier = %outgoing.notifier, %error, "Notification not stored; trying again next round.");
                    self.waiting.push_back((first_try, outgoing));
                    refused = true;
                }
                Err(error) => {
                    tracing::error!(notifier = %outgoing.notifier, %error, "A notification could not be queued.");
                }
            }
        }
        while self.waiting.len() > MAX_UNQUEUED {
            if let Some((_, dropped)) = self.waiting.pop_front() {
                metrics::counter!(NOTIFICATIONS_UNQUEUED, "notifier" => dropped.notifier, "reason" => "overflow").increment(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bulwark_notify::{AlertStatus, Notification, Notifier, NotifierKind, NotifierSpec, Outbox};
    use bulwark_queue::store::{Leases, SqliteStore};

    use super::*;

    fn outgoing(group: &str) -> Outgoing {
        Outgoing {
            notifier: "hook".into(),
            notification: Notification {
                version: "4".into(),
                group_key: group.into(),
                truncated_alerts: 0,
                status: AlertStatus::Firing,
                receiver: "hook".into(),
                group_labels: BTreeMap::new(),
                common_labels: BTreeMap::new(),
                common_annotations: BTreeMap::new(),
                external_url: String::new(),
                alerts: Vec::new(),
            },
        }
    }

    #[test]
    fn only_the_samples_rules_read_are_parsed() {
        let scrape = "# HELP circuit_breaker_state Breaker.\n\
            # TYPE circuit_breaker_state gauge\n\
            circuit_breaker_state{destination=\"app\"} 2\n\
            monitor_up{monitor=\"m1\"} 1\n\
            monitor_response_seconds{monitor=\"m1\"} 0.01\n\
            bulwark_http_requests_total{route=\"api\",method=\"GET\",status=\"5xx\"} 7\n\
            bulwark_http_requests_total_extra 1\n\
            security_events_total{event_type=\"auth_failed\",severity=\"medium\"} 3\n";
        let wanted = vec!["bulwark_http_requests_total".to_string()];
        assert_eq!(
            wanted_lines(scrape, &wanted),
            "circuit_breaker_state{destination=\"app\"} 2\n\
             bulwark_http_requests_total{route=\"api\",method=\"GET\",status=\"5xx\"} 7\n\
             security_events_total{event_type=\"auth_failed\",severity=\"medium\"} 3\n"
        );
    }

    #[tokio::test]
    async fn notifications_the_store_refused_are_stored_once_it_takes_them_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let notifier = Notifier::new(
            NotifierSpec {
                name: "hook".into(),
                kind: NotifierKind::Webhook(bulwark_notify::WebhookSpec {
                    url: "http://127.0.0.1:9/hook".parse().unwrap(),
                    headers: Vec::new(),
                }),
                fallback: false,
            },
            Duration::from_secs(1),
        )
        .unwrap();
        let outbox: SharedOutbox = Arc::new(Outbox::new(store.clone(), &[Arc::new(notifier)]));
        let mut unqueued = Unqueued {
            waiting: std::collections::VecDeque::new(),
            expire_after_ms: 60_000,
        };
        // The store refuses inserts, as a full disk would.
        let conn = rusqlite::Connection::open(dir.path().join("bulwark.db")).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON messages \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
        unqueued
            .enqueue(&outbox, vec![outgoing("g1"), outgoing("g2")], 1_000)
            .await;
        assert_eq!(unqueued.waiting.len(), 2);
        let destinations = ["notify:hook".to_string()];
        assert_eq!(store.next_due_at(&destinations).await.unwrap(), None);

        // The store is back: the next round stores both.
        conn.execute_batch("DROP TRIGGER refuse;").unwrap();
        unqueued.enqueue(&outbox, vec![], 2_000).await;
        assert!(unqueued.waiting.is_empty());
        let claimed = store.claim(&destinations, 10, 1_000, 10_000).await.unwrap();
        let mut groups: Vec<Option<String>> = claimed
            .iter()
            .map(|c| c.message.ordering_key.clone())
            .collect();
        groups.sort();
        assert_eq!(groups, [Some("g1".to_string()), Some("g2".to_string())]);
    }

    #[tokio::test]
    async fn refused_notifications_are_given_up_at_the_repeat_interval() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let outbox: SharedOutbox = Arc::new(Outbox::new(store.clone(), &[]));
        let conn = rusqlite::Connection::open(dir.path().join("bulwark.db")).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON messages \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
        let mut unqueued = Unqueued {
            waiting: std::collections::VecDeque::new(),
            expire_after_ms: 60_000,
        };
        unqueued.enqueue(&outbox, vec![outgoing("g1")], 0).await;
        unqueued.enqueue(&outbox, vec![], 59_999).await;
        assert_eq!(unqueued.waiting.len(), 1);
        unqueued.enqueue(&outbox, vec![], 60_000).await;
        assert!(unqueued.waiting.is_empty());
    }
}
