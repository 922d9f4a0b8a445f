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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bulwark_alerts::{
    AlertEngine, AlertHistory, ChangeKind, Facts, Severity, TickOutput, parse_exposition,
};
use bulwark_config::ValidatedConfig;
use bulwark_events::Bus;
use bulwark_monitor::Monitors;
use bulwark_ops::health::Health;
use bulwark_queue::store::SqliteStore;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use notifiers::SharedOutbox;

/// Active alerts by severity, after silences and maintenance.
pub const ALERTS_FIRING: &str = "bulwark_alerts_firing";
/// Engine rounds that could not read bulwark's own metrics (rules then see no facts).
pub const EVALUATION_FAILURES: &str = "bulwark_alert_evaluation_failures_total";

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What the admin API and the status page share with the driver.
#[derive(Clone)]
pub struct Alerting {
    engine: Arc<Mutex<AlertEngine>>,
    pub history: Arc<AlertHistory>,
    pub monitors: Option<Monitors>,
    /// Runs the next evaluation now (after a post or a silence).
    pub wake: Arc<Notify>,
}

impl Alerting {
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
    let outbox = match store {
        Some(store) => notifiers::start(config, store, bus, cancel)?,
        None => None,
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
    let (closed, silences) = {
        let history = Arc::clone(&history);
        tokio::task::spawn_blocking(move || {
            // Alerts still open from a previous run are re-found by the rules if they
            // still hold; their old occurrence ends here.
            let closed = history.close_open(now);
            (closed, history.silences(now))
        })
        .await
        .context("reading the alert history")?
    };
    closed.context("closing the previous run's alerts")?;
    let mut engine = AlertEngine::new(engine_config::engine_config(config));
    engine.set_maintenance_windows(engine_config::maintenance_windows(config));
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
        outbox,
        bus: bus.clone(),
    };
    tokio::spawn(run(
        alerting.clone(),
        sources,
        config.alerts.evaluate_every,
        cancel.clone(),
    ));
    Ok(alerting)
}

async fn run(alerting: Alerting, sources: Sources, every: Duration, cancel: CancellationToken) {
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
        settle(&alerting, &sources, out, now).await;
    }
}

/// Current state, from bulwark's own metrics plus what they do not say.
fn facts(alerting: &Alerting, sources: &Sources) -> Facts {
    let scrape = sources.metrics.render();
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
        for down in &mut facts.monitors_down {
            if let Some(reason) = monitors.status(&down.monitor).and_then(|s| s.last_error) {
                down.reason = reason;
            }
            down.severity = sources.monitor_severity.get(&down.monitor).copied();
        }
    }
    facts
}

/// History, bus and outbox for one tick's output.
async fn settle(alerting: &Alerting, sources: &Sources, out: TickOutput, now: i64) {
    for change in &out.changes {
        if let Some(event) = change.bus_event() {
            sources.bus.publish(event);
        }
    }
    let notified = out.notified_fingerprints();
    if !out.changes.is_empty() || !notified.is_empty() {
        let history = Arc::clone(&alerting.history);
        let changes = out.changes.clone();
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
                Ok(())
            })
            .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "Cannot write the alert history."),
            Err(error) => tracing::error!(%error, "Writing the alert history failed."),
        }
    }
    let Some(outbox) = &sources.outbox else {
        return;
    };
    for outgoing in out.notifications {
        // The outbox counts, logs and falls back on its own; nothing more to do here.
        if let Err(error) = outbox
            .enqueue(&outgoing.notifier, &outgoing.notification, now)
            .await
        {
            tracing::error!(notifier = %outgoing.notifier, %error, "A notification could not be queued.");
        }
    }
}
