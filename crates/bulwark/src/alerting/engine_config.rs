//! The validated `[alerts]`, `[[notifiers]]` and `[[maintenance]]` sections as the alert
//! engine's config.

use bulwark_alerts::{
    AlertType, BuiltinRule, CompareOp, EngineConfig, MaintenanceWindow, Matcher, Route,
    RoutingConfig, RulesConfig, Severity, SeverityMatch, ThresholdFunction, ThresholdRule,
};
use bulwark_config::ValidatedConfig;
use bulwark_config::alerts::Alerts;

fn ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Severity and type names were checked by the config; an unknown one (impossible) takes
/// the rule's default.
fn severity(name: &str) -> Option<Severity> {
    Severity::parse(name)
}

pub fn engine_config(config: &ValidatedConfig) -> EngineConfig {
    let alerts = &config.alerts;
    EngineConfig {
        rules: rules(alerts),
        routing: RoutingConfig {
            routes: alerts
                .routes
                .iter()
                .enumerate()
                .map(|(i, r)| Route {
                    name: format!("route{i}"),
                    severity: if r.severity.is_empty() {
                        SeverityMatch::Any
                    } else {
                        SeverityMatch::OneOf(
                            r.severity.iter().filter_map(|s| severity(s)).collect(),
                        )
                    },
                    types: r
                        .alert_type
                        .iter()
                        .filter_map(|t| AlertType::parse(t))
                        .collect(),
                    matchers: r.labels.iter().map(|(k, v)| Matcher::equal(k, v)).collect(),
                    notifiers: r.notifiers.clone(),
                    continue_matching: r.continue_matching,
                    group_by: None,
                })
                .collect(),
            notifiers: config
                .notifiers
                .iter()
                .map(|n| {
                    let mut spec = bulwark_alerts::NotifierSpec::new(&n.name);
                    spec.critical_only = n.critical_only;
                    spec
                })
                .collect(),
        },
        group_by: alerts.group_by.clone(),
        group_wait_urgent_ms: ms(alerts.group_wait_urgent),
        group_wait_ms: ms(alerts.group_wait),
        group_interval_ms: ms(alerts.group_interval),
        repeat_interval_ms: ms(alerts.repeat_interval),
        external_url: alerts.external_url.clone(),
        ..EngineConfig::default()
    }
}

fn rules(alerts: &Alerts) -> RulesConfig {
    let mut rules = RulesConfig::default();
    for builtin in &alerts.builtin {
        let rule = BuiltinRule {
            enabled: builtin.enabled,
            severity: builtin.severity.as_deref().and_then(severity),
        };
        let window = builtin.window.map(ms);
        match builtin.name.as_str() {
            "breaker_open" => rules.breaker_open = rule,
            "check_failing" => rules.check_failing = rule,
            "dead_letters_growing" => {
                rules.dead_letters_growing = rule;
                rules.dead_letters_window_ms = window.unwrap_or(rules.dead_letters_window_ms);
            }
            "security_events_spike" => {
                rules.security_events_spike = rule;
                rules.security_events_window_ms = window.unwrap_or(rules.security_events_window_ms);
                if let Some(threshold) = builtin.threshold {
                    rules.security_events_threshold = threshold.max(0.0) as u64;
                }
            }
            "monitor_down" => rules.monitor_down = rule,
            "delivery_failing" => {
                rules.delivery_failing = rule;
                rules.delivery_failing_window_ms =
                    window.unwrap_or(rules.delivery_failing_window_ms);
                if let Some(threshold) = builtin.threshold {
                    rules.delivery_min_failures = threshold.max(1.0) as u64;
                }
            }
            _ => {}
        }
    }
    rules.thresholds = alerts
        .rules
        .iter()
        .map(|r| ThresholdRule {
            name: r.name.clone(),
            metric: r.metric.clone(),
            matchers: r.labels.iter().map(|(k, v)| Matcher::equal(k, v)).collect(),
            function: match r.function.as_str() {
                "increase" => ThresholdFunction::Increase,
                "rate" => ThresholdFunction::Rate,
                _ => ThresholdFunction::Value,
            },
            window_ms: ms(r.window),
            op: CompareOp::parse(&r.op).unwrap_or(CompareOp::Greater),
            threshold: r.threshold,
            severity: severity(&r.severity).unwrap_or(Severity::Medium),
            alert_type: AlertType::parse(&r.alert_type).unwrap_or(AlertType::Performance),
            summary: r.summary.clone(),
        })
        .collect();
    rules
}

/// Maintenance windows mute the alerts of their monitors (all alerts when they name none).
pub fn maintenance_windows(config: &ValidatedConfig) -> Vec<MaintenanceWindow> {
    let mut windows = Vec::new();
    for window in &config.maintenance {
        if window.monitors.is_empty() {
            windows.push(MaintenanceWindow {
                name: window.name.clone(),
                starts_at_ms: window.starts_ms,
                ends_at_ms: window.ends_ms,
                matchers: Vec::new(),
            });
        }
        for monitor in &window.monitors {
            windows.push(MaintenanceWindow {
                name: window.name.clone(),
                starts_at_ms: window.starts_ms,
                ends_at_ms: window.ends_ms,
                matchers: vec![Matcher::equal("monitor", monitor)],
            });
        }
    }
    windows
}

/// Metric families of docs/metrics.md (embedded at build time), for checking that a
/// threshold rule names one bulwark exports.
pub fn metric_families() -> Vec<&'static str> {
    include_str!("../../../../docs/metrics.md")
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(name, _)| name))
        .filter(|name| name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .collect()
}

/// Config problems only the binary can see: threshold rules on unknown metric families,
/// and whatever the engine's own check finds.
pub fn problems(config: &ValidatedConfig) -> Vec<(String, String)> {
    let families = metric_families();
    let mut problems = Vec::new();
    for (i, rule) in config.alerts.rules.iter().enumerate() {
        // Histograms expose `_bucket`, `_sum` and `_count` series of their family.
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| rule.metric.strip_suffix(suffix))
            .filter(|base| families.contains(base))
            .unwrap_or(&rule.metric);
        if !families.contains(&family) {
            problems.push((
                format!("alerts.rules[{i}].metric"),
                "not a metric family bulwark exports (see docs/metrics.md)".to_string(),
            ));
        }
    }
    for problem in engine_config(config).problems() {
        let path = if problem.path.starts_with("notifiers") {
            problem.path
        } else if let Some(rest) = problem.path.strip_prefix("rules.thresholds") {
            format!("alerts.rules{rest}")
        } else {
            format!("alerts.{}", problem.path)
        };
        problems.push((path, problem.problem));
    }
    problems
}
