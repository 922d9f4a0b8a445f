//! The alert engine (`[alerts]`): timings, built-in rules, threshold rules on metric
//! families, and routes from alerts to notifiers. Defaults follow DESIGN.md and
//! Alertmanager: group wait 10 s for CRITICAL/HIGH and 30 s otherwise, group interval
//! 5 min, repeat interval 4 h.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::duration::ConfigDuration;
use crate::monitors::SEVERITIES;
use crate::problems::Problems;

pub const TYPES: &[&str] = &["security", "system", "api", "performance", "business"];

/// The rules bulwark runs without being asked.
pub const BUILTIN_RULES: &[&str] = &[
    "breaker_open",
    "check_failing",
    "dead_letters_growing",
    "security_events_spike",
    "monitor_down",
    "delivery_failing",
];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// How often rules re-check current state.
    #[serde(default = "default_evaluate_every")]
    pub evaluate_every: ConfigDuration,
    #[serde(default = "default_group_wait_urgent")]
    pub group_wait_urgent: ConfigDuration,
    #[serde(default = "default_group_wait")]
    pub group_wait: ConfigDuration,
    #[serde(default = "default_group_interval")]
    pub group_interval: ConfigDuration,
    #[serde(default = "default_repeat_interval")]
    pub repeat_interval: ConfigDuration,
    #[serde(default = "default_group_by")]
    pub group_by: Vec<String>,
    /// Linked from every notification (the status page or a dashboard).
    #[serde(default)]
    pub external_url: String,
    /// Built-in rules by name: `{ enabled = false }` or `{ severity = "low" }`.
    #[serde(default)]
    pub builtin: BTreeMap<String, BuiltinRuleConfig>,
    #[serde(default)]
    pub rules: Vec<ThresholdRuleConfig>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            evaluate_every: default_evaluate_every(),
            group_wait_urgent: default_group_wait_urgent(),
            group_wait: default_group_wait(),
            group_interval: default_group_interval(),
            repeat_interval: default_repeat_interval(),
            group_by: default_group_by(),
            external_url: String::new(),
            builtin: BTreeMap::new(),
            rules: Vec::new(),
            routes: Vec::new(),
        }
    }
}

fn default_evaluate_every() -> ConfigDuration {
    ConfigDuration::from_secs(5)
}
fn default_group_wait_urgent() -> ConfigDuration {
    ConfigDuration::from_secs(10)
}
fn default_group_wait() -> ConfigDuration {
    ConfigDuration::from_secs(30)
}
fn default_group_interval() -> ConfigDuration {
    ConfigDuration::from_secs(300)
}
fn default_repeat_interval() -> ConfigDuration {
    ConfigDuration::from_secs(4 * 3600)
}
fn default_group_by() -> Vec<String> {
    vec!["alertname".into()]
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuiltinRuleConfig {
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    pub severity: Option<String>,
    /// For rules that count over a window (security_events_spike, dead_letters_growing).
    pub window: Option<ConfigDuration>,
    pub threshold: Option<f64>,
}

fn default_enabled() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRuleConfig {
    pub name: String,
    /// A metric family from docs/metrics.md.
    pub metric: String,
    /// Label equality matchers; the matching series are summed.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `value` (the current sum), `increase` over `window`, or `rate` per second.
    #[serde(default = "default_function")]
    pub function: String,
    #[serde(default = "default_window")]
    pub window: ConfigDuration,
    pub op: String,
    pub threshold: f64,
    #[serde(default = "default_rule_severity")]
    pub severity: String,
    #[serde(rename = "type", default = "default_rule_type")]
    pub alert_type: String,
    pub summary: Option<String>,
}

fn default_function() -> String {
    "value".into()
}
fn default_window() -> ConfigDuration {
    ConfigDuration::from_secs(300)
}
fn default_rule_severity() -> String {
    "medium".into()
}
fn default_rule_type() -> String {
    "performance".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Matches these severities; empty matches all.
    #[serde(default)]
    pub severity: Vec<String>,
    /// Matches these types; empty matches all.
    #[serde(rename = "type", default)]
    pub alert_type: Vec<String>,
    /// Label equality matchers.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub notifiers: Vec<String>,
    /// Keep looking at later routes after a match (Alertmanager's `continue`).
    #[serde(rename = "continue", default)]
    pub continue_matching: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BuiltinRule {
    pub name: String,
    pub enabled: bool,
    pub severity: Option<String>,
    pub window: Option<Duration>,
    pub threshold: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdRule {
    pub name: String,
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub function: String,
    pub window: Duration,
    pub op: String,
    pub threshold: f64,
    pub severity: String,
    pub alert_type: String,
    pub summary: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRoute {
    pub severity: Vec<String>,
    pub alert_type: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub notifiers: Vec<String>,
    pub continue_matching: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Alerts {
    pub evaluate_every: Duration,
    pub group_wait_urgent: Duration,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub group_by: Vec<String>,
    pub external_url: String,
    pub builtin: Vec<BuiltinRule>,
    pub rules: Vec<ThresholdRule>,
    pub routes: Vec<AlertRoute>,
}

impl AlertsConfig {
    pub(crate) fn validate(&self, notifier_names: &[&str], problems: &mut Problems) -> Alerts {
        for (key, d) in [
            ("evaluate_every", self.evaluate_every),
            ("group_interval", self.group_interval),
            ("repeat_interval", self.repeat_interval),
        ] {
            if d.get().is_zero() {
                problems.error(format!("alerts.{key}"), "must be greater than zero");
            }
        }
        if self.group_by.is_empty() {
            problems.error("alerts.group_by", "group by at least one label (alertname)");
        }
        let mut builtin = Vec::new();
        for (name, rule) in &self.builtin {
            if !BUILTIN_RULES.contains(&name.as_str()) {
                problems.error(
                    format!("alerts.builtin.{name}"),
                    format!(
                        "no such built-in rule; they are {}",
                        BUILTIN_RULES.join(", ")
                    ),
                );
            }
            if let Some(severity) = &rule.severity {
                check_one_of(
                    severity,
                    SEVERITIES,
                    &format!("alerts.builtin.{name}.severity"),
                    problems,
                );
            }
            builtin.push(BuiltinRule {
                name: name.clone(),
                enabled: rule.enabled,
                severity: rule.severity.clone(),
                window: rule.window.map(ConfigDuration::get),
                threshold: rule.threshold,
            });
        }
        let mut rules = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let path = format!("alerts.rules[{i}]");
            crate::names::check_name(&rule.name, &format!("{path}.name"), problems);
            if BUILTIN_RULES.contains(&rule.name.as_str()) {
                problems.error(
                    format!("{path}.name"),
                    "this name belongs to a built-in rule",
                );
            }
            // Whether the family exists is checked by the binary, which knows them.
            check_one_of(
                &rule.function,
                &["value", "increase", "rate"],
                &format!("{path}.function"),
                problems,
            );
            check_one_of(
                &rule.op,
                &[">", ">=", "<", "<=", "==", "!="],
                &format!("{path}.op"),
                problems,
            );
            check_one_of(
                &rule.severity,
                SEVERITIES,
                &format!("{path}.severity"),
                problems,
            );
            check_one_of(&rule.alert_type, TYPES, &format!("{path}.type"), problems);
            if !rule.threshold.is_finite() {
                problems.error(format!("{path}.threshold"), "must be a finite number");
            }
            if rule.window.get().is_zero() {
                problems.error(format!("{path}.window"), "must be greater than zero");
            }
            rules.push(ThresholdRule {
                name: rule.name.clone(),
                metric: rule.metric.clone(),
                labels: rule
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                function: rule.function.clone(),
                window: rule.window.get(),
                op: rule.op.clone(),
                threshold: rule.threshold,
                severity: rule.severity.clone(),
                alert_type: rule.alert_type.clone(),
                summary: rule.summary.clone(),
            });
        }
        let mut routes = Vec::new();
        for (i, route) in self.routes.iter().enumerate() {
            let path = format!("alerts.routes[{i}]");
            for s in &route.severity {
                check_one_of(s, SEVERITIES, &format!("{path}.severity"), problems);
            }
            for t in &route.alert_type {
                check_one_of(t, TYPES, &format!("{path}.type"), problems);
            }
            if route.notifiers.is_empty() {
                problems.error(format!("{path}.notifiers"), "name at least one notifier");
            }
            for n in &route.notifiers {
                if !notifier_names.contains(&n.as_str()) {
                    problems.error(
                        format!("{path}.notifiers"),
                        format!("no notifier named {n:?}"),
                    );
                }
            }
            routes.push(AlertRoute {
                severity: route.severity.clone(),
                alert_type: route.alert_type.clone(),
                labels: route
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                notifiers: route.notifiers.clone(),
                continue_matching: route.continue_matching,
            });
        }
        Alerts {
            evaluate_every: self.evaluate_every.get(),
            group_wait_urgent: self.group_wait_urgent.get(),
            group_wait: self.group_wait.get(),
            group_interval: self.group_interval.get(),
            repeat_interval: self.repeat_interval.get(),
            group_by: self.group_by.clone(),
            external_url: self.external_url.clone(),
            builtin,
            rules,
            routes,
        }
    }
}

fn check_one_of(value: &str, allowed: &[&str], path: &str, problems: &mut Problems) {
    if !allowed.contains(&value) {
        problems.error(path, format!("expected one of {}", allowed.join(", ")));
    }
}
