//! Alert rules, evaluated on every tick against a [`Facts`] snapshot of current state
//! (never from bus events alone: a lost event must not leave an alert firing or silent).
//!
//! Built-in rules, all on by default; config may disable each or override its severity:
//!
//! | rule | alertname | extra label | severity | type | fires when |
//! |---|---|---|---|---|---|
//! | `breaker_open` | `BreakerOpen` | `destination` | high | api | the destination's circuit breaker is open |
//! | `check_failing` | `CheckFailing` | `check` | critical for a critical check, else high | system | a health check is failing |
//! | `dead_letters_growing` | `DeadLettersGrowing` | `destination` | high | business | the dead-letter count rose within the window (default 10 min) |
//! | `security_events_spike` | `SecurityEventsSpike` | | high | security | more than the threshold (default 20) security events within the window (default 5 min) |
//! | `monitor_down` | `MonitorDown` | `monitor` | critical | api | an uptime monitor is down |
//! | `delivery_failing` | `DeliveryFailing` | `destination` | high | api | at least N attempts (default 5) failed and none succeeded within the window (default 5 min), or the oldest pending message is older than the bound (default 15 min) |
//!
//! Threshold rules compare `value`, `increase` or `rate` of any metric series over a
//! window; each matching series is its own alert, carrying the series' labels.
//!
//! No loops: destinations named `notify:...` (notification deliveries) never produce
//! alerts, and series about notification delivery or alerts themselves never match.

use std::collections::BTreeMap;

use bulwark_events::BusEvent;

use crate::exposition::Sample;
use crate::matcher::{Matcher, all_match};
use crate::model::{Alert, AlertType, Severity, fingerprint};
use crate::samples::SampleMemory;

/// Destinations with this prefix carry notifications; they never raise alerts.
pub const NOTIFY_DESTINATION_PREFIX: &str = "notify:";

/// True for queue destinations that carry notifications.
pub fn is_notification_destination(destination: &str) -> bool {
    destination.starts_with(NOTIFY_DESTINATION_PREFIX)
}

/// True for bus events that must never feed a rule: notification delivery and the alert
/// engine's own output.
pub fn is_alerting_event(event: &BusEvent) -> bool {
    matches!(
        event,
        BusEvent::NotificationFailed { .. }
            | BusEvent::AlertFiring { .. }
            | BusEvent::AlertResolved { .. }
    )
}

/// Values of the `event` label of `bulwark_bus_events_total` that threshold rules skip.
const ALERTING_EVENT_NAMES: [&str; 3] = ["notification_failed", "alert_firing", "alert_resolved"];

/// Current state, filled by the binary on each tick.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Destinations whose breaker is open.
    pub breakers_open: Vec<String>,
    pub failing_checks: Vec<FailingCheck>,
    /// Dead-letter count per destination now (the `dead` queue depth).
    pub dead_letters: Vec<DeadLetterCount>,
    /// Security events since start (a counter; the engine takes the increase).
    pub security_events_total: u64,
    pub monitors_down: Vec<DownMonitor>,
    pub deliveries: Vec<DeliveryFacts>,
    /// The current metrics, from [`crate::parse_exposition`], for threshold rules.
    pub metrics: Vec<Sample>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailingCheck {
    pub check: String,
    pub critical: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterCount {
    pub destination: String,
    pub dead: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownMonitor {
    pub monitor: String,
    /// The monitor's own severity (a docs site need not page anyone); `None` takes the
    /// rule's.
    pub severity: Option<Severity>,
    /// Why the last check failed; goes into the description.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryFacts {
    pub destination: String,
    /// Attempts delivered since start (a counter).
    pub delivered_total: u64,
    /// Attempts that failed (retry or dead) since start (a counter).
    pub failed_total: u64,
    /// Age of the oldest message not yet delivered, if any.
    pub oldest_pending_age_ms: Option<i64>,
}

/// On/off and severity override of one built-in rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltinRule {
    pub enabled: bool,
    /// `None` keeps the rule's default severity (see the module table).
    pub severity: Option<Severity>,
}

impl Default for BuiltinRule {
    fn default() -> Self {
        BuiltinRule {
            enabled: true,
            severity: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RulesConfig {
    pub breaker_open: BuiltinRule,
    pub check_failing: BuiltinRule,
    pub dead_letters_growing: BuiltinRule,
    pub dead_letters_window_ms: i64,
    pub security_events_spike: BuiltinRule,
    pub security_events_window_ms: i64,
    /// Fires when the events in the window exceed this.
    pub security_events_threshold: u64,
    pub monitor_down: BuiltinRule,
    pub delivery_failing: BuiltinRule,
    pub delivery_failing_window_ms: i64,
    /// Failed attempts (with no success) within the window that count as failing.
    pub delivery_min_failures: u64,
    /// Oldest pending age above which a destination counts as failing.
    pub delivery_max_pending_age_ms: i64,
    pub thresholds: Vec<ThresholdRule>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            breaker_open: BuiltinRule::default(),
            check_failing: BuiltinRule::default(),
            dead_letters_growing: BuiltinRule::default(),
            dead_letters_window_ms: 10 * 60_000,
            security_events_spike: BuiltinRule::default(),
            security_events_window_ms: 5 * 60_000,
            security_events_threshold: 20,
            monitor_down: BuiltinRule::default(),
            delivery_failing: BuiltinRule::default(),
            delivery_failing_window_ms: 5 * 60_000,
            delivery_min_failures: 5,
            delivery_max_pending_age_ms: 15 * 60_000,
            thresholds: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdFunction {
    /// The newest value.
    Value,
    /// How much a counter grew within the window.
    Increase,
    /// The increase per second within the window.
    Rate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    Equal,
    NotEqual,
}

impl CompareOp {
    /// Parses `>`, `>=`, `<`, `<=`, `==`, `!=`.
    pub fn parse(text: &str) -> Option<CompareOp> {
        Some(match text {
            ">" => CompareOp::Greater,
            ">=" => CompareOp::GreaterOrEqual,
            "<" => CompareOp::Less,
            "<=" => CompareOp::LessOrEqual,
            "==" => CompareOp::Equal,
            "!=" => CompareOp::NotEqual,
            _ => return None,
        })
    }

    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Greater => ">",
            CompareOp::GreaterOrEqual => ">=",
            CompareOp::Less => "<",
            CompareOp::LessOrEqual => "<=",
            CompareOp::Equal => "==",
            CompareOp::NotEqual => "!=",
        }
    }

    /// NaN compares false with everything, as in PromQL.
    pub fn holds(self, left: f64, right: f64) -> bool {
        if left.is_nan() || right.is_nan() {
            return false;
        }
        match self {
            CompareOp::Greater => left > right,
            CompareOp::GreaterOrEqual => left >= right,
            CompareOp::Less => left < right,
            CompareOp::LessOrEqual => left <= right,
            CompareOp::Equal => left == right,
            CompareOp::NotEqual => left != right,
        }
    }
}

/// `function(metric{matchers}[window]) op threshold`.
#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdRule {
    /// The alert's `alertname`.
    pub name: String,
    /// A sample name exactly as exposed (`bulwark_deliveries_total`, `..._bucket`).
    pub metric: String,
    pub matchers: Vec<Matcher>,
    pub function: ThresholdFunction,
    /// Ignored for [`ThresholdFunction::Value`].
    pub window_ms: i64,
    pub op: CompareOp,
    pub threshold: f64,
    pub severity: Severity,
    pub alert_type: AlertType,
    /// The `summary` annotation; a generated one when `None`.
    pub summary: Option<String>,
}

/// Evaluates rules and keeps the samples windowed rules need between ticks.
#[derive(Debug, Default)]
pub struct RuleEvaluator {
    memory: SampleMemory,
}

impl RuleEvaluator {
    pub fn new() -> RuleEvaluator {
        RuleEvaluator::default()
    }

    /// The alerts active now. `starts_at_ms` is `now_ms`; the engine keeps the first one.
    pub fn evaluate(&mut self, config: &RulesConfig, facts: &Facts, now_ms: i64) -> Vec<Alert> {
        let mut alerts = Vec::new();
        self.breaker_open(config, facts, now_ms, &mut alerts);
        self.check_failing(config, facts, now_ms, &mut alerts);
        self.dead_letters_growing(config, facts, now_ms, &mut alerts);
        self.security_events_spike(config, facts, now_ms, &mut alerts);
        self.monitor_down(config, facts, now_ms, &mut alerts);
        self.delivery_failing(config, facts, now_ms, &mut alerts);
        for rule in &config.thresholds {
            self.threshold(rule, &facts.metrics, now_ms, &mut alerts);
        }
        self.memory.end_tick();
        alerts
    }

    fn breaker_open(
        &mut self,
        config: &RulesConfig,
        facts: &Facts,
        now_ms: i64,
        out: &mut Vec<Alert>,
    ) {
        let rule = config.breaker_open;
        if !rule.enabled {
            return;
        }
        for destination in facts
            .breakers_open
            .iter()
            .filter(|d| !is_notification_destination(d))
        {
            out.push(
                Alert::new(
                    "BreakerOpen",
                    rule.severity.unwrap_or(Severity::High),
                    AlertType::Api,
                    now_ms,
                )
                .with_label("destination", destination)
                .with_annotation(
                    "summary",
                    &format!("Circuit breaker of {destination} is open"),
                )
                .with_annotation(
                    "description",
                    &format!("Deliveries to {destination} fail fast until a probe succeeds."),
                ),
            );
        }
    }

    fn check_failing(
        &mut self,
        config: &RulesConfig,
        facts: &Facts,
        now_ms: i64,
        out: &mut Vec<Alert>,
    ) {
        let rule = config.check_failing;
        if !rule.enabled {
            return;
        }
        for check in &facts.failing_checks {
            let default = if check.critical {
                Severity::Critical
            } else {
                Severity::High
            };
            out.push(
                Alert::new(
                    "CheckFailing",
                    rule.severity.unwrap_or(default),
                    AlertType::System,
                    now_ms,
                )
                .with_label("check", &check.check)
                .with_annotation(
                    "summary",
                    &format!("Health check {} is failing", check.check),
                ),
            );
        }
    }

    fn dead_letters_growing(
        &mut self,
        config: &RulesConfig,
        facts: &Facts,
        now_ms: i64,
        out: &mut Vec<Alert>,
    ) {
        let rule = config.dead_letters_growing;
        if !rule.enabled {
            return;
        }
        let window = config.dead_letters_window_ms;
        for count in facts
            .dead_letters
            .iter()
            .filter(|c| !is_notification_destination(&c.destination))
        {
            let key = format!("dead\u{0}{}", count.destination);
            self.memory.record(&key, now_ms, count.dead as f64, window);
            let grew = self.memory.delta(&key).unwrap_or(0.0);
            if grew > 0.0 {
                out.push(
                    Alert::new(
                        "DeadLettersGrowing",
                        rule.severity.unwrap_or(Severity::High),
                        AlertType::Business,
                        now_ms,
                    )
                    .with_label("destination", &count.destination)
                    .with_annotation(
                        "summary",
                        &format!("Dead letters of {} are growing", count.destination),
                    )
                    .with_annotation(
                        "description",
                        &format!(
                            "{grew} more dead letters within {}; {} in total.",
                            minutes(window),
                            count.dead
                        ),
                    ),
                );
            }
        }
    }

    fn security_events_spike(
        &mut self,
        config: &RulesConfig,
        facts: &Facts,
        now_ms: i64,
        out: &mut Vec<Alert>,
    ) {
        let rule = config.security_events_spike;
        if !rule.enabled {
            return;
        }
        let key = "security_events";
        let window = config.security_events_window_ms;
        self.memory
            .record(key, now_ms, facts.security_events_total as f64, window);
        let recent = self.memory.increase(key).unwrap_or(0.0);
        if recent > config.security_events_threshold as f64 {
            out.push(
                Alert::new(
                    "SecurityEventsSpike",
                    rule.severity.unwrap_or(Severity::High),
                    AlertType::Security,
                    now_ms,
                )
                .with_annotation("summary", "Spike of security events")
                .with_annotation(
                    "description",
                    &format!(
                        "{recent} security events within {} (threshold {}).",
                        minutes(window),
                        config.security_events_threshold
                    ),
                ),
            );
        }
    }

    fn monitor_down(
        &mut self,
        config: &RulesConfig,
        facts: &Facts,
        now_ms: i64,
        out: &mut Vec<Alert>,
    ) {
        let rule = config.monitor_down;
        if !rule.enabled {
            return;
        }
        for down in &facts.monitors_down {
            out.push(
                Alert::new(
                    "MonitorDown",
                    down.severity
                        .or(rule.severity)
                        .unwrap_or(Severity::Critical),
                    AlertType::Api,
                    now_ms,
                )
                .with_label("monitor", &down.monitor)
                .with_annotation("summary", &format!("Monitor {} is down", down.monitor))
                .with_annotation("description", &down.reason),
            );
        }
    }

    fn delivery_failing(
        &mut self,
        config: &RulesConfig,
        facts: &Facts,
        now_ms: i64,
        out: &mut Vec<Alert>,
    ) {
        let rule = config.delivery_failing;
        if !rule.enabled {
            return;
        }
        let window = config.delivery_failing_window_ms;
        for facts in facts
            .deliveries
            .iter()
            .filter(|d| !is_notification_destination(&d.destination))
        {
            let ok_key = format!("delivered\u{0}{}", facts.destination);
            let failed_key = format!("failed\u{0}{}", facts.destination);
            self.memory
                .record(&ok_key, now_ms, facts.delivered_total as f64, window);
            self.memory
                .record(&failed_key, now_ms, facts.failed_total as f64, window);
            let delivered = self.memory.increase(&ok_key).unwrap_or(0.0);
            let failed = self.memory.increase(&failed_key).unwrap_or(0.0);
            let all_failing = delivered == 0.0 && failed >= config.delivery_min_failures as f64;
            let behind = facts
                .oldest_pending_age_ms
                .is_some_and(|age| age > config.delivery_max_pending_age_ms);
            if !(all_failing || behind) {
                continue;
            }
            let description = if all_failing {
                format!(
                    "{failed} failed attempts and none delivered within {}.",
                    minutes(window)
                )
            } else {
                format!(
                    "The oldest pending message is {} old (bound {}).",
                    minutes(facts.oldest_pending_age_ms.unwrap_or(0)),
                    minutes(config.delivery_max_pending_age_ms)
                )
            };
            out.push(
                Alert::new(
                    "DeliveryFailing",
                    rule.severity.unwrap_or(Severity::High),
                    AlertType::Api,
                    now_ms,
                )
                .with_label("destination", &facts.destination)
                .with_annotation(
                    "summary",
                    &format!("Deliveries to {} are failing", facts.destination),
                )
                .with_annotation("description", &description),
            );
        }
    }

    fn threshold(
        &mut self,
        rule: &ThresholdRule,
        metrics: &[Sample],
        now_ms: i64,
        out: &mut Vec<Alert>,
    ) {
        for sample in metrics {
            if sample.name != rule.metric
                || !all_match(&rule.matchers, &sample.labels)
                || about_alerting(&sample.labels)
            {
                continue;
            }
            let value = match rule.function {
                ThresholdFunction::Value => Some(sample.value),
                ThresholdFunction::Increase | ThresholdFunction::Rate => {
                    // Keyed by rule name (unique) so a reload that reorders rules keeps the samples.
                    let key = format!(
                        "threshold\u{0}{}\u{0}{}",
                        rule.name,
                        fingerprint(&sample.labels)
                    );
                    self.memory
                        .record(&key, now_ms, sample.value, rule.window_ms);
                    if rule.function == ThresholdFunction::Increase {
                        self.memory.increase(&key)
                    } else {
                        self.memory.rate(&key)
                    }
                }
            };
            let Some(value) = value else { continue };
            if !rule.op.holds(value, rule.threshold) {
                continue;
            }
            let mut alert = Alert::new(&rule.name, rule.severity, rule.alert_type, now_ms);
            // The rule's own labels win over the series' labels of the same name.
            let mut labels: BTreeMap<String, String> = sample.labels.clone();
            labels.append(&mut alert.labels);
            alert.labels = labels;
            let function = match rule.function {
                ThresholdFunction::Value => "value",
                ThresholdFunction::Increase => "increase",
                ThresholdFunction::Rate => "rate",
            };
            let summary = rule.summary.clone().unwrap_or_else(|| {
                format!(
                    "{function} of {} {} {}",
                    rule.metric,
                    rule.op.symbol(),
                    rule.threshold
                )
            });
            out.push(
                alert
                    .with_annotation("summary", &summary)
                    .with_annotation("value", &value.to_string()),
            );
        }
    }
}

/// Series about notification deliveries or alerts: a rule on them could feed itself.
fn about_alerting(labels: &BTreeMap<String, String>) -> bool {
    labels
        .get("destination")
        .is_some_and(|d| is_notification_destination(d))
        || labels
            .get("event")
            .is_some_and(|e| ALERTING_EVENT_NAMES.contains(&e.as_str()))
}

fn minutes(ms: i64) -> String {
    if ms % 60_000 == 0 {
        format!("{} min", ms / 60_000)
    } else {
        format!("{} s", ms / 1000)
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
