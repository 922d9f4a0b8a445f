//! Checks an [`EngineConfig`] before it is used, collecting every problem with the dotted
//! path of the field, so the config loader can report them all at once.

use std::collections::BTreeSet;

use crate::engine::EngineConfig;
use crate::matcher::is_label_name;
use crate::rules::ThresholdFunction;

/// One thing wrong with the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// e.g. `routes[2].notifiers[0]`.
    pub path: String,
    pub problem: String,
}

impl EngineConfig {
    /// Every problem found; empty when the config is usable.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut add = |path: String, problem: &str| {
            out.push(ConfigProblem {
                path,
                problem: problem.to_owned(),
            })
        };

        for (name, value) in [
            ("group_wait_urgent", self.group_wait_urgent_ms),
            ("group_wait", self.group_wait_ms),
            ("resolve_timeout", self.resolve_timeout_ms),
        ] {
            if value < 0 {
                add(name.to_owned(), "must not be negative");
            }
        }
        for (name, value) in [
            ("group_interval", self.group_interval_ms),
            ("repeat_interval", self.repeat_interval_ms),
        ] {
            if value <= 0 {
                add(name.to_owned(), "must be positive");
            }
        }
        for (i, label) in self.group_by.iter().enumerate() {
            if !is_label_name(label) {
                add(format!("group_by[{i}]"), "is not a valid label name");
            }
        }

        let mut notifiers = BTreeSet::new();
        for (i, notifier) in self.routing.notifiers.iter().enumerate() {
            if notifier.name.is_empty() {
                add(format!("notifiers[{i}].name"), "must not be empty");
            } else if !notifiers.insert(notifier.name.as_str()) {
                add(
                    format!("notifiers[{i}].name"),
                    "is used by another notifier",
                );
            }
        }
        let mut routes = BTreeSet::new();
        for (i, route) in self.routing.routes.iter().enumerate() {
            if route.name.is_empty() || route.name == crate::routing::DEFAULT_ROUTE {
                add(
                    format!("routes[{i}].name"),
                    "must be set and not be `default`",
                );
            } else if !routes.insert(route.name.as_str()) {
                add(format!("routes[{i}].name"), "is used by another route");
            }
            if route.notifiers.is_empty() {
                add(
                    format!("routes[{i}].notifiers"),
                    "must name at least one notifier",
                );
            }
            for (j, name) in route.notifiers.iter().enumerate() {
                if !notifiers.contains(name.as_str()) {
                    add(
                        format!("routes[{i}].notifiers[{j}]"),
                        "names no configured notifier",
                    );
                }
            }
            for (j, matcher) in route.matchers.iter().enumerate() {
                if !is_label_name(&matcher.name) {
                    add(
                        format!("routes[{i}].matchers[{j}]"),
                        "has an invalid label name",
                    );
                }
            }
            for (j, label) in route.group_by.iter().flatten().enumerate() {
                if !is_label_name(label) {
                    add(
                        format!("routes[{i}].group_by[{j}]"),
                        "is not a valid label name",
                    );
                }
            }
        }

        let rules = &self.rules;
        for (name, value) in [
            (
                "rules.dead_letters_growing.window",
                rules.dead_letters_window_ms,
            ),
            (
                "rules.security_events_spike.window",
                rules.security_events_window_ms,
            ),
            (
                "rules.delivery_failing.window",
                rules.delivery_failing_window_ms,
            ),
            (
                "rules.delivery_failing.max_pending_age",
                rules.delivery_max_pending_age_ms,
            ),
        ] {
            if value <= 0 {
                add(name.to_owned(), "must be positive");
            }
        }
        let mut names = BTreeSet::new();
        for (i, rule) in rules.thresholds.iter().enumerate() {
            let path = format!("rules.thresholds[{i}]");
            if rule.name.trim().is_empty() {
                add(format!("{path}.name"), "must not be empty");
            } else if !names.insert(rule.name.as_str()) {
                add(format!("{path}.name"), "is used by another threshold rule");
            }
            if rule.metric.is_empty() || rule.metric.starts_with(|c: char| c.is_ascii_digit()) {
                add(format!("{path}.metric"), "must be a metric name");
            }
            if rule.function != ThresholdFunction::Value && rule.window_ms <= 0 {
                add(
                    format!("{path}.window"),
                    "must be positive for increase and rate",
                );
            }
            if !rule.threshold.is_finite() {
                add(format!("{path}.threshold"), "must be a finite number");
            }
            for (j, matcher) in rule.matchers.iter().enumerate() {
                if !is_label_name(&matcher.name) {
                    add(format!("{path}.matchers[{j}]"), "has an invalid label name");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Matcher;
    use crate::model::{AlertType, Severity};
    use crate::routing::{NotifierSpec, Route};
    use crate::rules::{CompareOp, ThresholdRule};

    #[test]
    fn defaults_are_valid() {
        assert_eq!(EngineConfig::default().problems(), vec![]);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut config = EngineConfig {
            group_interval_ms: 0,
            group_by: vec!["bad-label".into()],
            ..EngineConfig::default()
        };
        config.routing.notifiers = vec![NotifierSpec::new("webhook"), NotifierSpec::new("webhook")];
        config.routing.routes = vec![Route {
            name: "default".into(),
            notifiers: vec!["pager".into()],
            matchers: vec![Matcher::equal("9x", "1")],
            ..Route::default()
        }];
        config.rules.thresholds = vec![ThresholdRule {
            name: String::new(),
            metric: "bulwark_deliveries_total".into(),
            matchers: vec![],
            function: ThresholdFunction::Rate,
            window_ms: 0,
            op: CompareOp::Greater,
            threshold: f64::NAN,
            severity: Severity::Low,
            alert_type: AlertType::Api,
            summary: None,
        }];
        let paths: Vec<String> = config.problems().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            vec![
                "group_interval",
                "group_by[0]",
                "notifiers[1].name",
                "routes[0].name",
                "routes[0].notifiers[0]",
                "routes[0].matchers[0]",
                "rules.thresholds[0].name",
                "rules.thresholds[0].window",
                "rules.thresholds[0].threshold",
            ]
        );
    }
}
