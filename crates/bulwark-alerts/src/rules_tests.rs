use super::*;
use crate::exposition::parse_exposition;

fn label_sets(alerts: &[Alert]) -> Vec<Vec<(String, String)>> {
    alerts
        .iter()
        .map(|a| {
            a.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn breaker_open_skips_notification_destinations() {
    let mut rules = RuleEvaluator::new();
    let facts = Facts {
        breakers_open: vec!["billing".into(), "notify:ops-webhook".into()],
        ..Facts::default()
    };
    let alerts = rules.evaluate(&RulesConfig::default(), &facts, 0);
    assert_eq!(
        label_sets(&alerts),
        vec![pairs(&[
            ("alertname", "BreakerOpen"),
            ("destination", "billing"),
            ("severity", "high"),
            ("type", "api")
        ])]
    );
    assert_eq!(
        alerts[0].annotations["summary"],
        "Circuit breaker of billing is open"
    );
}

#[test]
fn check_failing_severity_follows_criticality_unless_overridden() {
    let mut rules = RuleEvaluator::new();
    let facts = Facts {
        failing_checks: vec![
            FailingCheck {
                check: "db".into(),
                critical: true,
            },
            FailingCheck {
                check: "cache".into(),
                critical: false,
            },
        ],
        ..Facts::default()
    };
    let alerts = rules.evaluate(&RulesConfig::default(), &facts, 0);
    let severities: Vec<&str> = alerts
        .iter()
        .map(|a| a.labels["severity"].as_str())
        .collect();
    assert_eq!(severities, vec!["critical", "high"]);
    assert_eq!(alerts[0].labels["type"], "system");

    let config = RulesConfig {
        check_failing: BuiltinRule {
            enabled: true,
            severity: Some(Severity::Low),
        },
        ..RulesConfig::default()
    };
    let alerts = rules.evaluate(&config, &facts, 0);
    assert!(alerts.iter().all(|a| a.labels["severity"] == "low"));

    let off = RulesConfig {
        check_failing: BuiltinRule {
            enabled: false,
            severity: None,
        },
        ..RulesConfig::default()
    };
    assert!(rules.evaluate(&off, &facts, 0).is_empty());
}

#[test]
fn dead_letters_growing_fires_on_a_rise_within_the_window() {
    let mut rules = RuleEvaluator::new();
    let config = RulesConfig::default(); // 10 min window
    let facts = |billing: u64, notify: u64| Facts {
        dead_letters: vec![
            DeadLetterCount {
                destination: "billing".into(),
                dead: billing,
            },
            DeadLetterCount {
                destination: "notify:sms".into(),
                dead: notify,
            },
        ],
        ..Facts::default()
    };
    // A backlog that exists at start is not growth.
    assert!(rules.evaluate(&config, &facts(5, 0), 0).is_empty());
    assert!(rules.evaluate(&config, &facts(5, 0), 60_000).is_empty());
    let alerts = rules.evaluate(&config, &facts(7, 50), 120_000);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels["alertname"], "DeadLettersGrowing");
    assert_eq!(alerts[0].labels["destination"], "billing");
    assert_eq!(alerts[0].labels["type"], "business");
    // Still within 10 min of the lower sample.
    assert_eq!(rules.evaluate(&config, &facts(7, 50), 600_000).len(), 1);
    // At 12:00 the baseline is the sample of 02:00 (7): no growth any more.
    assert!(rules.evaluate(&config, &facts(7, 50), 720_000).is_empty());
}

#[test]
fn security_events_spike_counts_the_window() {
    let mut rules = RuleEvaluator::new();
    let config = RulesConfig::default(); // more than 20 in 5 min
    let facts = |total: u64| Facts {
        security_events_total: total,
        ..Facts::default()
    };
    assert!(rules.evaluate(&config, &facts(100), 0).is_empty());
    assert!(rules.evaluate(&config, &facts(120), 60_000).is_empty()); // 20: not over
    let alerts = rules.evaluate(&config, &facts(121), 120_000);
    assert_eq!(
        label_sets(&alerts),
        vec![pairs(&[
            ("alertname", "SecurityEventsSpike"),
            ("severity", "high"),
            ("type", "security")
        ])]
    );
    // Five minutes after the burst the window holds only 121 -> 121.
    assert!(rules.evaluate(&config, &facts(121), 420_000).is_empty());
}

#[test]
fn monitor_down_is_critical_with_the_reason() {
    let mut rules = RuleEvaluator::new();
    let facts = Facts {
        monitors_down: vec![DownMonitor {
            monitor: "shop".into(),
            severity: None,
            reason: "connection refused".into(),
        }],
        ..Facts::default()
    };
    let alerts = rules.evaluate(&RulesConfig::default(), &facts, 0);
    assert_eq!(
        label_sets(&alerts),
        vec![pairs(&[
            ("alertname", "MonitorDown"),
            ("monitor", "shop"),
            ("severity", "critical"),
            ("type", "api")
        ])]
    );
    assert_eq!(alerts[0].annotations["description"], "connection refused");
}

#[test]
fn delivery_failing_on_failures_without_success_or_old_backlog() {
    let mut rules = RuleEvaluator::new();
    let config = RulesConfig::default(); // 5 failures, 5 min, 15 min backlog
    let facts = |delivered: u64, failed: u64, age: Option<i64>| Facts {
        deliveries: vec![
            DeliveryFacts {
                destination: "billing".into(),
                delivered_total: delivered,
                failed_total: failed,
                oldest_pending_age_ms: age,
            },
            DeliveryFacts {
                destination: "notify:ops".into(),
                delivered_total: 0,
                failed_total: failed,
                oldest_pending_age_ms: Some(i64::MAX),
            },
        ],
        ..Facts::default()
    };
    assert!(rules.evaluate(&config, &facts(10, 0, None), 0).is_empty());
    assert!(
        rules
            .evaluate(&config, &facts(10, 4, None), 10_000)
            .is_empty()
    );
    let alerts = rules.evaluate(&config, &facts(10, 5, None), 20_000);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels["destination"], "billing");
    assert_eq!(alerts[0].labels["alertname"], "DeliveryFailing");
    // One success within the window: not "all failing".
    assert!(
        rules
            .evaluate(&config, &facts(11, 9, None), 30_000)
            .is_empty()
    );
    // A backlog older than 15 min is failing on its own.
    let alerts = rules.evaluate(&config, &facts(11, 9, Some(15 * 60_000 + 1)), 40_000);
    assert_eq!(alerts.len(), 1);
}

fn threshold(function: ThresholdFunction, op: CompareOp, threshold: f64) -> ThresholdRule {
    ThresholdRule {
        name: "Too5xx".into(),
        metric: "bulwark_upstream_requests_total".into(),
        matchers: vec![Matcher::equal("outcome", "5xx")],
        function,
        window_ms: 60_000,
        op,
        threshold,
        severity: Severity::Medium,
        alert_type: AlertType::Performance,
        summary: None,
    }
}

fn scrape(shop_5xx: u64, blog_5xx: u64) -> Vec<Sample> {
    parse_exposition(&format!(
        "# TYPE bulwark_upstream_requests_total counter\n\
         bulwark_upstream_requests_total{{upstream=\"shop\",outcome=\"5xx\"}} {shop_5xx}\n\
         bulwark_upstream_requests_total{{upstream=\"shop\",outcome=\"2xx\"}} 1000\n\
         bulwark_upstream_requests_total{{upstream=\"blog\",outcome=\"5xx\"}} {blog_5xx}\n"
    ))
    .unwrap()
}

#[test]
fn threshold_increase_fires_per_series_with_its_labels() {
    let mut rules = RuleEvaluator::new();
    let config = RulesConfig {
        thresholds: vec![threshold(
            ThresholdFunction::Increase,
            CompareOp::GreaterOrEqual,
            10.0,
        )],
        ..RulesConfig::default()
    };
    let facts = |shop, blog| Facts {
        metrics: scrape(shop, blog),
        ..Facts::default()
    };
    assert!(rules.evaluate(&config, &facts(0, 0), 0).is_empty());
    let alerts = rules.evaluate(&config, &facts(10, 9), 30_000);
    assert_eq!(
        label_sets(&alerts),
        vec![pairs(&[
            ("alertname", "Too5xx"),
            ("outcome", "5xx"),
            ("severity", "medium"),
            ("type", "performance"),
            ("upstream", "shop"),
        ])]
    );
    assert_eq!(alerts[0].annotations["value"], "10");
    assert_eq!(
        alerts[0].annotations["summary"],
        "increase of bulwark_upstream_requests_total >= 10"
    );
}

#[test]
fn threshold_rate_and_value() {
    let mut rules = RuleEvaluator::new();
    let rate = RulesConfig {
        thresholds: vec![threshold(ThresholdFunction::Rate, CompareOp::Greater, 0.5)],
        ..RulesConfig::default()
    };
    rules.evaluate(
        &rate,
        &Facts {
            metrics: scrape(0, 0),
            ..Facts::default()
        },
        0,
    );
    // 40 in 60 s on shop = 0.67/s; 20 on blog = 0.33/s.
    let alerts = rules.evaluate(
        &rate,
        &Facts {
            metrics: scrape(40, 20),
            ..Facts::default()
        },
        60_000,
    );
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels["upstream"], "shop");

    let mut rules = RuleEvaluator::new();
    let value = RulesConfig {
        thresholds: vec![ThresholdRule {
            metric: "bulwark_queue_depth".into(),
            matchers: vec![Matcher::equal("state", "pending")],
            ..threshold(ThresholdFunction::Value, CompareOp::Greater, 100.0)
        }],
        ..RulesConfig::default()
    };
    let metrics = parse_exposition(
        "bulwark_queue_depth{destination=\"billing\",state=\"pending\"} 101\n\
         bulwark_queue_depth{destination=\"billing\",state=\"dead\"} 500\n\
         bulwark_queue_depth{destination=\"notify:ops\",state=\"pending\"} 9999\n\
         bulwark_queue_depth{destination=\"shop\",state=\"pending\"} 100\n",
    )
    .unwrap();
    let alerts = rules.evaluate(
        &value,
        &Facts {
            metrics,
            ..Facts::default()
        },
        0,
    );
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels["destination"], "billing");
}

#[test]
fn threshold_rules_never_match_alerting_events() {
    let mut rules = RuleEvaluator::new();
    let config = RulesConfig {
        thresholds: vec![ThresholdRule {
            metric: "bulwark_bus_events_total".into(),
            matchers: vec![],
            ..threshold(ThresholdFunction::Value, CompareOp::Greater, 0.0)
        }],
        ..RulesConfig::default()
    };
    let metrics = parse_exposition(
        "bulwark_bus_events_total{event=\"notification_failed\"} 5\n\
         bulwark_bus_events_total{event=\"alert_firing\"} 5\n\
         bulwark_bus_events_total{event=\"check_failed\"} 5\n",
    )
    .unwrap();
    let alerts = rules.evaluate(
        &config,
        &Facts {
            metrics,
            ..Facts::default()
        },
        0,
    );
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels["event"], "check_failed");
    assert!(is_alerting_event(&BusEvent::NotificationFailed {
        notifier: "sms".into(),
        reason: "timeout".into()
    }));
    assert!(!is_alerting_event(&BusEvent::MonitorUp {
        monitor: "shop".into()
    }));
}

#[test]
fn compare_ops() {
    assert!(CompareOp::parse(">=").is_some_and(|op| op.holds(1.0, 1.0)));
    assert!(CompareOp::parse("!=").is_some_and(|op| op.holds(1.0, 2.0)));
    assert!(CompareOp::parse("<").is_some_and(|op| !op.holds(2.0, 1.0)));
    assert!(!CompareOp::Equal.holds(f64::NAN, f64::NAN));
    assert_eq!(CompareOp::parse("=>"), None);
}
