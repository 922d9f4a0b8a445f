//! The engine the binary drives: on each tick it takes the alerts rules find plus those
//! posted through the admin API, applies silences and maintenance, groups alerts per route
//! and notifier, and decides what to send, following Alertmanager:
//!
//! - a new group waits `group_wait` (10 s if any of its alerts is critical or high, 30 s
//!   otherwise) so that alerts firing together arrive together;
//! - after a notification, the group is looked at every `group_interval` (5 min); it is
//!   sent again when an alert started firing that the last notification did not list as
//!   firing, when an alert resolved, or, unchanged, once `repeat_interval` (4 h) has passed
//!   since the last notification;
//! - when every alert of a group has resolved, a `resolved` notification goes out at the
//!   next look (only if the receiver was told the group fired) and the group is dropped.
//!
//! Muted alerts (silence or maintenance) are left out of groups: they send nothing, not
//! even a resolved. Posted alerts resolve at their `endsAt`, or `resolve_timeout` (5 min)
//! after the last post that did not give one.

use std::collections::{BTreeMap, BTreeSet};

use bulwark_events::BusEvent;
use bulwark_notify::{AlertStatus, Notification};

use crate::model::{Alert, Severity};
use crate::payload::{GroupAlert, PayloadContext, build_notification, group_key};
use crate::post::{PostError, parse_posted_alerts};
use crate::routing::RoutingConfig;
use crate::rules::{Facts, RuleEvaluator, RulesConfig};
use crate::silence::{MaintenanceWindow, Silence, SilenceError};

/// At most this many posted alerts are tracked at once.
pub const MAX_POSTED_ALERTS: usize = 1_000;
/// At most this many silences (active or pending) are kept.
pub const MAX_SILENCES: usize = 10_000;

#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    pub rules: RulesConfig,
    pub routing: RoutingConfig,
    /// Labels that group alerts when a route sets none.
    pub group_by: Vec<String>,
    /// Group wait when the group holds a critical or high alert.
    pub group_wait_urgent_ms: i64,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
    /// A posted alert without `endsAt` resolves this long after its last post.
    pub resolve_timeout_ms: i64,
    /// `externalURL` of every notification, and `generatorURL` of alerts without one.
    pub external_url: String,
    /// Alerts per notification; more are counted in `truncatedAlerts`. 0: no limit.
    pub max_alerts_per_notification: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            rules: RulesConfig::default(),
            routing: RoutingConfig::default(),
            group_by: vec![crate::model::ALERTNAME.to_owned()],
            group_wait_urgent_ms: 10_000,
            group_wait_ms: 30_000,
            group_interval_ms: 5 * 60_000,
            repeat_interval_ms: 4 * 3_600_000,
            resolve_timeout_ms: 5 * 60_000,
            external_url: String::new(),
            max_alerts_per_notification: 100,
        }
    }
}

/// One notification for one notifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub notifier: String,
    pub notification: Notification,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Started firing, or came out of a silence or maintenance while firing.
    Fired,
    /// Firing but muted: started muted, or a silence or maintenance began.
    Suppressed,
    /// No longer active. `announced`: a [`ChangeKind::Fired`] was emitted for this
    /// occurrence, so subscribers were told it fired and must be told it ended.
    Resolved { announced: bool },
}

/// A lifecycle change the binary publishes ([`AlertChange::bus_event`]) and records in
/// the history (`Fired`/`Suppressed`: `record_fired`; `Resolved`: `record_resolved`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertChange {
    pub kind: ChangeKind,
    pub fingerprint: String,
    /// With `ends_at_ms` set for [`ChangeKind::Resolved`].
    pub alert: Alert,
}

impl AlertChange {
    /// `AlertFiring` when it fired (silences already applied), `AlertResolved` when an
    /// announced alert ended; nothing for muted alerts.
    pub fn bus_event(&self) -> Option<BusEvent> {
        match self.kind {
            ChangeKind::Fired => Some(BusEvent::AlertFiring {
                alertname: self.alert.alertname().to_owned(),
                severity: self.alert.severity().label().to_owned(),
                fingerprint: self.fingerprint.clone(),
            }),
            ChangeKind::Resolved { announced: true } => Some(BusEvent::AlertResolved {
                alertname: self.alert.alertname().to_owned(),
                fingerprint: self.fingerprint.clone(),
            }),
            ChangeKind::Suppressed | ChangeKind::Resolved { announced: false } => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickOutput {
    pub notifications: Vec<Outgoing>,
    pub changes: Vec<AlertChange>,
    /// Alerts counted as told because a previous run notified them, with when: the
    /// history records that time again, so that the next restart knows it too.
    pub carried_over: Vec<(String, i64)>,
}

impl TickOutput {
    /// Fingerprints of the alerts in this tick's notifications (for `record_notified`).
    pub fn notified_fingerprints(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self
            .notifications
            .iter()
            .flat_map(|o| o.notification.alerts.iter().map(|a| &a.fingerprint))
            .collect();
        set.into_iter().cloned().collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertSource {
    Rule,
    Posted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveAlert {
    pub fingerprint: String,
    pub alert: Alert,
    pub source: AlertSource,
    /// A silence or maintenance window mutes it.
    pub muted: bool,
    /// It was unmuted at some point of this occurrence (an `AlertFiring` went out).
    pub announced: bool,
}

#[derive(Debug)]
struct PostedAlert {
    alert: Alert,
    resolves_at_ms: i64,
}

#[derive(Debug)]
struct SentLog {
    at_ms: i64,
    firing: BTreeSet<String>,
    resolved: BTreeSet<String>,
}

#[derive(Debug)]
struct GroupState {
    group_labels: BTreeMap<String, String>,
    alerts: BTreeMap<String, GroupAlert>,
    created_ms: i64,
    next_flush_ms: i64,
    flushed: bool,
    last_sent: Option<SentLog>,
}

/// `(notifier, group key)`.
type GroupId = (String, String);

#[derive(Debug)]
pub struct AlertEngine {
    config: EngineConfig,
    rules: RuleEvaluator,
    posted: BTreeMap<String, PostedAlert>,
    active: BTreeMap<String, ActiveAlert>,
    groups: BTreeMap<GroupId, GroupState>,
    silences: Vec<Silence>,
    maintenance: Vec<MaintenanceWindow>,
    /// Alerts a previous run notified, by fingerprint, with when: a group made of them
    /// after a restart counts as told at that time, so a restart (or a crash loop) does
    /// not page again before the repeat interval.
    notified_before: BTreeMap<String, i64>,
}

impl AlertEngine {
    pub fn new(config: EngineConfig) -> AlertEngine {
        AlertEngine {
            config,
            rules: RuleEvaluator::new(),
            posted: BTreeMap::new(),
            active: BTreeMap::new(),
            groups: BTreeMap::new(),
            silences: Vec::new(),
            maintenance: Vec::new(),
            notified_before: BTreeMap::new(),
        }
    }

    /// Remembers what a previous run notified (fingerprint, when), from the history.
    pub fn restore_notified(&mut self, notified: impl IntoIterator<Item = (String, i64)>) {
        self.notified_before.extend(notified);
    }

    /// Replaces the config (on reload); active alerts, groups and silences stay.
    pub fn set_config(&mut self, config: EngineConfig) {
        self.config = config;
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Takes alerts posted through the admin API; they count from the next tick.
    /// Returns how many alerts the body held.
    pub fn post_alerts(&mut self, body: &[u8], now_ms: i64) -> Result<usize, PostError> {
        let alerts = parse_posted_alerts(body, now_ms)?;
        let new = alerts
            .iter()
            .filter(|a| !self.posted.contains_key(&a.fingerprint()))
            .count();
        if self.posted.len() + new > MAX_POSTED_ALERTS {
            return Err(PostError::TooManyActive {
                max: MAX_POSTED_ALERTS,
            });
        }
        let count = alerts.len();
        for mut alert in alerts {
            let fingerprint = alert.fingerprint();
            let resolves_at_ms = alert
                .ends_at_ms
                .unwrap_or_else(|| now_ms.saturating_add(self.config.resolve_timeout_ms));
            if let Some(existing) = self.posted.get(&fingerprint) {
                // A refresh keeps the first start, as Alertmanager merges alerts.
                alert.starts_at_ms = alert.starts_at_ms.min(existing.alert.starts_at_ms);
            }
            self.posted.insert(
                fingerprint,
                PostedAlert {
                    alert,
                    resolves_at_ms,
                },
            );
        }
        Ok(count)
    }

    /// Adds a silence; it mutes from the next tick.
    pub fn add_silence(&mut self, silence: Silence, now_ms: i64) -> Result<(), SilenceError> {
        silence.validate(now_ms)?;
        self.silences.retain(|s| !s.is_expired(now_ms));
        if self.silences.iter().any(|s| s.id == silence.id) {
            return Err(SilenceError::DuplicateId { id: silence.id });
        }
        if self.silences.len() >= MAX_SILENCES {
            return Err(SilenceError::TooMany { max: MAX_SILENCES });
        }
        self.silences.push(silence);
        Ok(())
    }

    /// Ends a silence now; returns it as it now stands.
    pub fn expire_silence(&mut self, id: &str, now_ms: i64) -> Result<Silence, SilenceError> {
        let silence = self
            .silences
            .iter_mut()
            .find(|s| s.id == id && !s.is_expired(now_ms))
            .ok_or_else(|| SilenceError::NotFound { id: id.to_owned() })?;
        silence.ends_at_ms = now_ms;
        Ok(silence.clone())
    }

    /// Silences in force or yet to start.
    pub fn silences(&self, now_ms: i64) -> Vec<Silence> {
        self.silences
            .iter()
            .filter(|s| !s.is_expired(now_ms))
            .cloned()
            .collect()
    }

    /// Replaces the maintenance windows (from config or the status page's admin API).
    pub fn set_maintenance_windows(&mut self, windows: Vec<MaintenanceWindow>) {
        self.maintenance = windows;
    }

    /// Every alert active after the last tick, muted ones included.
    pub fn active_alerts(&self) -> Vec<ActiveAlert> {
        self.active.values().cloned().collect()
    }

    fn is_muted(&self, alert: &Alert, now_ms: i64) -> bool {
        self.silences.iter().any(|s| s.mutes(&alert.labels, now_ms))
            || self
                .maintenance
                .iter()
                .any(|w| w.mutes(&alert.labels, now_ms))
    }

    /// Evaluates rules, tracks alert lifecycles and returns what to send now.
    pub fn tick(&mut self, facts: &Facts, now_ms: i64) -> TickOutput {
        let mut changes = Vec::new();
        let current = self.current_alerts(facts, now_ms);
        self.resolve_gone(&current, now_ms, &mut changes);
        self.update_active(current, now_ms, &mut changes);
        let carried_over = self.update_groups(now_ms);
        let notifications = self.flush_due_groups(now_ms);
        self.silences.retain(|s| !s.is_expired(now_ms));
        TickOutput {
            notifications,
            changes,
            carried_over,
        }
    }

    /// Rule alerts and unexpired posted alerts, by fingerprint.
    fn current_alerts(
        &mut self,
        facts: &Facts,
        now_ms: i64,
    ) -> BTreeMap<String, (Alert, AlertSource)> {
        let mut current = BTreeMap::new();
        for (fingerprint, posted) in &self.posted {
            if posted.resolves_at_ms > now_ms {
                current.insert(
                    fingerprint.clone(),
                    (posted.alert.clone(), AlertSource::Posted),
                );
            }
        }
        for alert in self.rules.evaluate(&self.config.rules, facts, now_ms) {
            current.insert(alert.fingerprint(), (alert, AlertSource::Rule));
        }
        current
    }

    fn resolve_gone(
        &mut self,
        current: &BTreeMap<String, (Alert, AlertSource)>,
        now_ms: i64,
        changes: &mut Vec<AlertChange>,
    ) {
        let gone: Vec<String> = self
            .active
            .keys()
            .filter(|fp| !current.contains_key(*fp))
            .cloned()
            .collect();
        for fingerprint in gone {
            self.notified_before.remove(&fingerprint);
            let Some(mut active) = self.active.remove(&fingerprint) else {
                continue;
            };
            let ends_at_ms = match (active.source, self.posted.get(&fingerprint)) {
                (AlertSource::Posted, Some(posted)) => posted.resolves_at_ms.min(now_ms),
                _ => now_ms,
            };
            active.alert.ends_at_ms = Some(ends_at_ms);
            for group in self.groups.values_mut() {
                if let Some(member) = group.alerts.get_mut(&fingerprint)
                    && member.status == AlertStatus::Firing
                {
                    member.status = AlertStatus::Resolved;
                    member.alert.ends_at_ms = Some(ends_at_ms);
                }
            }
            changes.push(AlertChange {
                kind: ChangeKind::Resolved {
                    announced: active.announced,
                },
                fingerprint,
                alert: active.alert,
            });
        }
        self.posted
            .retain(|_, posted| posted.resolves_at_ms > now_ms);
    }

    fn update_active(
        &mut self,
        current: BTreeMap<String, (Alert, AlertSource)>,
        now_ms: i64,
        changes: &mut Vec<AlertChange>,
    ) {
        for (fingerprint, (mut alert, source)) in current {
            let muted = self.is_muted(&alert, now_ms);
            // Firing alerts carry no end in notifications; an announced one is kept for
            // posted alerts' resolution only.
            alert.ends_at_ms = None;
            let kind = match self.active.get_mut(&fingerprint) {
                Some(existing) => {
                    alert.starts_at_ms = existing.alert.starts_at_ms;
                    let was_muted = existing.muted;
                    existing.alert = alert.clone();
                    existing.source = source;
                    existing.muted = muted;
                    existing.announced |= !muted;
                    match (was_muted, muted) {
                        (true, false) => Some(ChangeKind::Fired),
                        (false, true) => Some(ChangeKind::Suppressed),
                        _ => None,
                    }
                }
                None => {
                    self.active.insert(
                        fingerprint.clone(),
                        ActiveAlert {
                            fingerprint: fingerprint.clone(),
                            alert: alert.clone(),
                            source,
                            muted,
                            announced: !muted,
                        },
                    );
                    Some(if muted {
                        ChangeKind::Suppressed
                    } else {
                        ChangeKind::Fired
                    })
                }
            };
            if let Some(kind) = kind {
                changes.push(AlertChange {
                    kind,
                    fingerprint,
                    alert,
                });
            }
        }
    }

    /// Puts every unmuted active alert in its groups; drops firing members that are now
    /// muted or routed elsewhere (resolved members stay until their notification).
    fn update_groups(&mut self, now_ms: i64) -> Vec<(String, i64)> {
        let mut wanted: BTreeSet<(GroupId, String)> = BTreeSet::new();
        for active in self.active.values().filter(|a| !a.muted) {
            for target in self.config.routing.route(&active.alert) {
                let group_by = target.group_by.unwrap_or(&self.config.group_by);
                let group_labels: BTreeMap<String, String> = group_by
                    .iter()
                    .filter_map(|name| {
                        active
                            .alert
                            .labels
                            .get(name)
                            .map(|v| (name.clone(), v.clone()))
                    })
                    .collect();
                let key = group_key(target.route, &group_labels);
                let wait = if active.alert.severity().at_least(Severity::High) {
                    self.config.group_wait_urgent_ms
                } else {
                    self.config.group_wait_ms
                };
                for notifier in target.notifiers {
                    let id = (notifier.to_owned(), key.clone());
                    let group = self.groups.entry(id.clone()).or_insert_with(|| GroupState {
                        group_labels: group_labels.clone(),
                        alerts: BTreeMap::new(),
                        created_ms: now_ms,
                        next_flush_ms: now_ms.saturating_add(wait),
                        flushed: false,
                        last_sent: None,
                    });
                    if !group.flushed {
                        // An urgent alert joining a waiting group shortens the wait.
                        group.next_flush_ms = group
                            .next_flush_ms
                            .min(group.created_ms.saturating_add(wait));
                    }
                    group.alerts.insert(
                        active.fingerprint.clone(),
                        GroupAlert {
                            alert: active.alert.clone(),
                            fingerprint: active.fingerprint.clone(),
                            status: AlertStatus::Firing,
                        },
                    );
                    wanted.insert((id, active.fingerprint.clone()));
                }
            }
        }
        for (id, group) in &mut self.groups {
            group.alerts.retain(|fingerprint, member| {
                member.status == AlertStatus::Resolved
                    || wanted.contains(&(id.clone(), fingerprint.clone()))
            });
        }
        self.seed_from_previous_run(now_ms)
    }

    /// A new group whose alerts a previous run already notified starts as told then.
    /// Each remembered alert seeds once: if it resolves and fires again later, that is a
    /// new occurrence and pages as usual.
    fn seed_from_previous_run(&mut self, now_ms: i64) -> Vec<(String, i64)> {
        let mut used = Vec::new();
        if self.notified_before.is_empty() {
            return used;
        }
        let repeat = self.config.repeat_interval_ms;
        self.notified_before
            .retain(|_, at| now_ms.saturating_sub(*at) < repeat);
        for group in self.groups.values_mut() {
            if group.flushed || group.last_sent.is_some() {
                continue;
            }
            let told: Vec<(&String, i64)> = group
                .alerts
                .keys()
                .filter_map(|fp| self.notified_before.get(fp).map(|at| (fp, *at)))
                .collect();
            if let Some(at_ms) = told.iter().map(|(_, at)| *at).min() {
                group.last_sent = Some(SentLog {
                    at_ms,
                    firing: told.iter().map(|(fp, _)| (*fp).clone()).collect(),
                    resolved: BTreeSet::new(),
                });
                used.extend(told.iter().map(|(fp, at)| ((*fp).clone(), *at)));
            }
        }
        // An alert in several groups (notifiers) seeds them all in this pass.
        for (fingerprint, _) in &used {
            self.notified_before.remove(fingerprint);
        }
        used.sort();
        used.dedup();
        used
    }

    fn flush_due_groups(&mut self, now_ms: i64) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for ((notifier, key), group) in &mut self.groups {
            if now_ms < group.next_flush_ms {
                continue;
            }
            let send_resolved = self.config.routing.sends_resolved(notifier);
            let firing: BTreeSet<String> = group
                .alerts
                .values()
                .filter(|a| a.status == AlertStatus::Firing)
                .map(|a| a.fingerprint.clone())
                .collect();
            let resolved: BTreeSet<String> = group
                .alerts
                .values()
                .filter(|a| a.status == AlertStatus::Resolved)
                .map(|a| a.fingerprint.clone())
                .collect();
            if needs_update(
                group.last_sent.as_ref(),
                &firing,
                &resolved,
                now_ms,
                self.config.repeat_interval_ms,
                send_resolved,
            ) {
                let members: Vec<&GroupAlert> = group
                    .alerts
                    .values()
                    .filter(|a| send_resolved || a.status == AlertStatus::Firing)
                    .collect();
                let context = PayloadContext {
                    notifier,
                    group_key: key,
                    group_labels: &group.group_labels,
                    external_url: &self.config.external_url,
                    max_alerts: self.config.max_alerts_per_notification,
                };
                // Without resolved notifications an all-resolved group sends nothing, but
                // the log still moves on so that the next firing counts as new.
                if !members.is_empty() {
                    out.push(Outgoing {
                        notifier: notifier.clone(),
                        notification: build_notification(&context, &members),
                    });
                }
                group.last_sent = Some(SentLog {
                    at_ms: now_ms,
                    firing,
                    resolved,
                });
            }
            group.alerts.retain(|_, a| a.status == AlertStatus::Firing);
            group.flushed = true;
            group.next_flush_ms = now_ms.saturating_add(self.config.group_interval_ms);
        }
        self.groups
            .retain(|_, g| !(g.flushed && g.alerts.is_empty()));
        out
    }
}

/// Alertmanager's dedup decision: send when the receiver was never told and something
/// fires; when something fires that it was not told of; when everything it was told of
/// has resolved; when an alert resolved that it was not told of as resolved (if it wants
/// resolved notifications); otherwise only once the repeat interval has passed since the
/// last notification.
fn needs_update(
    last: Option<&SentLog>,
    firing: &BTreeSet<String>,
    resolved: &BTreeSet<String>,
    now_ms: i64,
    repeat_interval_ms: i64,
    send_resolved: bool,
) -> bool {
    let Some(last) = last else {
        return !firing.is_empty();
    };
    if !firing.is_subset(&last.firing) {
        return true;
    }
    if firing.is_empty() {
        // Alerts that fired and resolved between two looks were never announced.
        return !last.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&last.resolved) {
        return true;
    }
    now_ms.saturating_sub(last.at_ms) >= repeat_interval_ms
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
