//! The engine with a driven clock. Times are Unix milliseconds; `T0` is
//! 2023-11-14T22:13:20Z (`date -u -d @1700000000`).

use super::*;
use crate::matcher::Matcher;
use crate::routing::{NotifierSpec, Route};
use crate::rules::{DownMonitor, FailingCheck};
use crate::silence::{MaintenanceWindow, Silence};
use bulwark_events::BusEvent;

const T0: i64 = 1_700_000_000_000;
const S: i64 = 1000;
const MIN: i64 = 60 * S;

fn config() -> EngineConfig {
    EngineConfig {
        routing: RoutingConfig {
            routes: Vec::new(),
            notifiers: vec![
                NotifierSpec::new("webhook"),
                NotifierSpec {
                    critical_only: true,
                    ..NotifierSpec::new("sms")
                },
            ],
        },
        external_url: "https://bulwark.example/alerts".into(),
        ..EngineConfig::default()
    }
}

fn down(monitors: &[&str]) -> Facts {
    Facts {
        monitors_down: monitors
            .iter()
            .map(|m| DownMonitor {
                monitor: (*m).into(),
                severity: None,
                reason: "connection refused".into(),
            })
            .collect(),
        ..Facts::default()
    }
}

fn failing(checks: &[&str]) -> Facts {
    Facts {
        failing_checks: checks
            .iter()
            .map(|c| FailingCheck {
                check: (*c).into(),
                critical: false,
            })
            .collect(),
        ..Facts::default()
    }
}

fn for_notifier<'a>(out: &'a TickOutput, notifier: &str) -> Vec<&'a Notification> {
    out.notifications
        .iter()
        .filter(|o| o.notifier == notifier)
        .map(|o| &o.notification)
        .collect()
}

fn alert_statuses(n: &Notification) -> Vec<(String, AlertStatus)> {
    n.alerts
        .iter()
        .map(|a| {
            (
                a.labels
                    .get("monitor")
                    .or(a.labels.get("check"))
                    .cloned()
                    .unwrap_or_default(),
                a.status,
            )
        })
        .collect()
}

/// Ticks every `step` from `from` (inclusive) to `to` (exclusive) with the same facts;
/// returns `(time, output)` for ticks that sent something.
fn run(
    engine: &mut AlertEngine,
    facts: &Facts,
    from: i64,
    to: i64,
    step: i64,
) -> Vec<(i64, TickOutput)> {
    let mut sent = Vec::new();
    let mut now = from;
    while now < to {
        let out = engine.tick(facts, now);
        if !out.notifications.is_empty() {
            sent.push((now, out));
        }
        now += step;
    }
    sent
}

#[test]
fn alerts_of_a_group_within_group_wait_go_out_together() {
    let mut engine = AlertEngine::new(config());
    assert!(engine.tick(&down(&["shop"]), T0).notifications.is_empty());
    assert!(
        engine
            .tick(&down(&["shop", "blog"]), T0 + 5 * S)
            .notifications
            .is_empty()
    );
    assert!(
        engine
            .tick(&down(&["shop", "blog"]), T0 + 9 * S)
            .notifications
            .is_empty()
    );
    // Critical: group wait 10 s from the group's first alert.
    let out = engine.tick(&down(&["shop", "blog"]), T0 + 10 * S);
    assert_eq!(
        out.notifications.len(),
        2,
        "one for the webhook, one for the SMS notifier"
    );
    for notifier in ["webhook", "sms"] {
        let sent = for_notifier(&out, notifier);
        assert_eq!(sent.len(), 1);
        assert_eq!(
            alert_statuses(sent[0]),
            vec![
                ("shop".into(), AlertStatus::Firing),
                ("blog".into(), AlertStatus::Firing)
            ]
        );
        assert_eq!(sent[0].group_key, "default:{alertname=\"MonitorDown\"}");
    }
}

#[test]
fn non_urgent_groups_wait_thirty_seconds() {
    let mut engine = AlertEngine::new(config());
    let sent = run(&mut engine, &failing(&["cache"]), T0, T0 + MIN, S);
    // CheckFailing on a non-critical check is high: 10 s.
    assert_eq!(sent[0].0, T0 + 10 * S);

    let mut config = config();
    config.rules.check_failing.severity = Some(Severity::Medium);
    let mut engine = AlertEngine::new(config);
    let sent = run(&mut engine, &failing(&["cache"]), T0, T0 + MIN, S);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, T0 + 30 * S);
    assert_eq!(for_notifier(&sent[0].1, "sms").len(), 0);
}

#[test]
fn an_alert_firing_on_every_tick_is_sent_once_then_after_the_repeat_interval() {
    let mut engine = AlertEngine::new(config());
    let facts = down(&["shop"]);
    let sent = run(&mut engine, &facts, T0, T0 + 4 * 3600 * S + 20 * S, 5 * S);
    let times: Vec<i64> = sent.iter().map(|(t, _)| *t).collect();
    // First look at 10 s, then every 5 min; the 48th look after the first is exactly 4 h
    // after the first notification.
    assert_eq!(times, vec![T0 + 10 * S, T0 + 10 * S + 4 * 3600 * S]);
    let repeat = &sent[1].1;
    assert_eq!(
        for_notifier(repeat, "webhook")[0].status,
        AlertStatus::Firing
    );
    // The repeat carries the original start.
    assert_eq!(
        for_notifier(repeat, "webhook")[0].alerts[0].starts_at,
        "2023-11-14T22:13:20Z"
    );
}

#[test]
fn a_new_alert_in_a_notified_group_waits_for_the_group_interval() {
    let mut engine = AlertEngine::new(config());
    let first = run(&mut engine, &down(&["shop"]), T0, T0 + MIN, S);
    assert_eq!(first.len(), 1);
    // blog goes down at 1 min; the group was last looked at 10 s, next at 5 min 10 s.
    let second = run(
        &mut engine,
        &down(&["shop", "blog"]),
        T0 + MIN,
        T0 + 10 * MIN,
        S,
    );
    let times: Vec<i64> = second.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, vec![T0 + 5 * MIN + 10 * S]);
    let n = for_notifier(&second[0].1, "webhook")[0];
    assert_eq!(
        alert_statuses(n),
        vec![
            ("shop".into(), AlertStatus::Firing),
            ("blog".into(), AlertStatus::Firing)
        ]
    );
}

#[test]
fn resolved_notification_when_every_alert_of_the_group_resolved() {
    let mut engine = AlertEngine::new(config());
    run(&mut engine, &down(&["shop", "blog"]), T0, T0 + MIN, S);
    // blog recovers at 1 min: a partial resolve is a change, sent at the next look.
    let out = engine.tick(&down(&["shop"]), T0 + MIN);
    assert_eq!(out.changes.len(), 1);
    assert_eq!(
        out.changes[0].kind,
        ChangeKind::Resolved { announced: true }
    );
    assert_eq!(out.changes[0].alert.ends_at_ms, Some(T0 + MIN));
    let sent = run(&mut engine, &down(&["shop"]), T0 + MIN + S, T0 + 6 * MIN, S);
    assert_eq!(sent.len(), 1);
    let n = for_notifier(&sent[0].1, "webhook")[0];
    assert_eq!(n.status, AlertStatus::Firing);
    assert_eq!(
        alert_statuses(n),
        vec![
            ("shop".into(), AlertStatus::Firing),
            ("blog".into(), AlertStatus::Resolved)
        ]
    );
    assert_eq!(n.alerts[1].ends_at, "2023-11-14T22:14:20Z");

    // shop recovers at 6 min; the next look is at 10 min 10 s.
    let sent = run(
        &mut engine,
        &Facts::default(),
        T0 + 6 * MIN,
        T0 + 30 * MIN,
        S,
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, T0 + 10 * MIN + 10 * S);
    let n = for_notifier(&sent[0].1, "webhook")[0];
    assert_eq!(n.status, AlertStatus::Resolved);
    assert_eq!(
        alert_statuses(n),
        vec![("shop".into(), AlertStatus::Resolved)]
    );
    assert!(engine.active_alerts().is_empty());
}

#[test]
fn an_alert_that_fires_and_resolves_within_group_wait_sends_nothing() {
    let mut engine = AlertEngine::new(config());
    engine.tick(&down(&["shop"]), T0);
    let sent = run(&mut engine, &Facts::default(), T0 + 3 * S, T0 + 10 * MIN, S);
    assert!(sent.is_empty());
}

#[test]
fn a_silence_mutes_until_it_expires() {
    let mut engine = AlertEngine::new(config());
    let silence = Silence {
        id: "s1".into(),
        matchers: vec![
            Matcher::equal("alertname", "MonitorDown"),
            Matcher::equal("monitor", "shop"),
        ],
        starts_at_ms: T0,
        ends_at_ms: T0 + 2 * MIN,
        created_by: "ops".into(),
        comment: "planned restart".into(),
    };
    engine.add_silence(silence.clone(), T0).unwrap();
    assert!(matches!(
        engine.add_silence(silence, T0),
        Err(SilenceError::DuplicateId { .. })
    ));
    let out = engine.tick(&down(&["shop"]), T0);
    assert_eq!(out.changes.len(), 1);
    assert_eq!(out.changes[0].kind, ChangeKind::Suppressed);
    assert!(engine.active_alerts()[0].muted);
    assert!(run(&mut engine, &down(&["shop"]), T0 + S, T0 + 2 * MIN, S).is_empty());
    // The silence ends at 2 min: the alert fires like a new one.
    let out = engine.tick(&down(&["shop"]), T0 + 2 * MIN);
    assert_eq!(out.changes.len(), 1);
    assert_eq!(out.changes[0].kind, ChangeKind::Fired);
    assert!(engine.silences(T0 + 2 * MIN).is_empty());
    let sent = run(
        &mut engine,
        &down(&["shop"]),
        T0 + 2 * MIN + S,
        T0 + 3 * MIN,
        S,
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, T0 + 2 * MIN + 10 * S);
    // Start time is when it first fired, muted or not.
    assert_eq!(
        for_notifier(&sent[0].1, "webhook")[0].alerts[0].starts_at,
        "2023-11-14T22:13:20Z"
    );
}

#[test]
fn expiring_a_silence_by_hand_and_silencing_a_notified_alert() {
    let mut engine = AlertEngine::new(config());
    run(&mut engine, &down(&["shop"]), T0, T0 + MIN, S);
    let silence = Silence {
        id: "s2".into(),
        matchers: vec![Matcher::equal("monitor", "shop")],
        starts_at_ms: T0 + MIN,
        ends_at_ms: T0 + 24 * 60 * MIN,
        created_by: "ops".into(),
        comment: String::new(),
    };
    engine.add_silence(silence, T0 + MIN).unwrap();
    let out = engine.tick(&down(&["shop"]), T0 + MIN);
    assert_eq!(out.changes[0].kind, ChangeKind::Suppressed);
    // Muted: no repeat, and its end sends no resolved either.
    assert!(
        run(
            &mut engine,
            &down(&["shop"]),
            T0 + MIN + S,
            T0 + 5 * 60 * MIN,
            MIN
        )
        .is_empty()
    );
    let expired = engine.expire_silence("s2", T0 + 5 * 60 * MIN).unwrap();
    assert_eq!(expired.ends_at_ms, T0 + 5 * 60 * MIN);
    assert!(matches!(
        engine.expire_silence("s2", T0 + 5 * 60 * MIN),
        Err(SilenceError::NotFound { .. })
    ));
    let sent = run(
        &mut engine,
        &down(&["shop"]),
        T0 + 5 * 60 * MIN,
        T0 + 5 * 60 * MIN + MIN,
        S,
    );
    assert_eq!(sent.len(), 1);
}

#[test]
fn maintenance_mutes_then_ends() {
    let mut engine = AlertEngine::new(config());
    engine.set_maintenance_windows(vec![MaintenanceWindow {
        name: "database upgrade".into(),
        starts_at_ms: T0,
        ends_at_ms: T0 + 10 * MIN,
        matchers: vec![],
    }]);
    let out = engine.tick(&down(&["shop"]), T0);
    assert_eq!(out.changes[0].kind, ChangeKind::Suppressed);
    assert!(run(&mut engine, &down(&["shop"]), T0 + S, T0 + 10 * MIN, S).is_empty());
    let sent = run(
        &mut engine,
        &down(&["shop"]),
        T0 + 10 * MIN,
        T0 + 11 * MIN,
        S,
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, T0 + 10 * MIN + 10 * S);
}

#[test]
fn a_muted_alert_that_resolves_is_reported_as_suppressed() {
    let mut engine = AlertEngine::new(config());
    engine.set_maintenance_windows(vec![MaintenanceWindow {
        name: "all".into(),
        starts_at_ms: T0,
        ends_at_ms: T0 + 60 * MIN,
        matchers: vec![Matcher::equal("monitor", "shop")],
    }]);
    engine.tick(&down(&["shop"]), T0);
    let out = engine.tick(&Facts::default(), T0 + S);
    assert_eq!(
        out.changes[0].kind,
        ChangeKind::Resolved { announced: false }
    );
    assert_eq!(out.changes[0].bus_event(), None);
}

#[test]
fn bus_events_follow_what_subscribers_were_told() {
    let mut engine = AlertEngine::new(config());
    let out = engine.tick(&down(&["shop"]), T0);
    assert_eq!(
        out.changes[0].bus_event(),
        Some(BusEvent::AlertFiring {
            alertname: "MonitorDown".into(),
            severity: "critical".into(),
            fingerprint: "ed849e36fc97d0d2".into(),
        })
    );
    // Muted after it was announced: its end is still announced.
    engine.set_maintenance_windows(vec![MaintenanceWindow {
        name: "all".into(),
        starts_at_ms: T0,
        ends_at_ms: T0 + 60 * MIN,
        matchers: vec![],
    }]);
    let out = engine.tick(&down(&["shop"]), T0 + S);
    assert_eq!(out.changes[0].kind, ChangeKind::Suppressed);
    assert_eq!(out.changes[0].bus_event(), None);
    let out = engine.tick(&Facts::default(), T0 + 2 * S);
    assert_eq!(
        out.changes[0].bus_event(),
        Some(BusEvent::AlertResolved {
            alertname: "MonitorDown".into(),
            fingerprint: "ed849e36fc97d0d2".into(),
        })
    );
}

#[test]
fn notified_fingerprints_are_listed_once() {
    let mut engine = AlertEngine::new(config());
    let sent = run(&mut engine, &down(&["shop", "blog"]), T0, T0 + 11 * S, S);
    assert_eq!(sent[0].1.notifications.len(), 2);
    assert_eq!(
        sent[0].1.notified_fingerprints(),
        vec!["2e02245dc066c4ce".to_owned(), "ed849e36fc97d0d2".to_owned()]
    );
}

#[test]
fn routing_sends_sms_only_for_critical_and_follows_routes() {
    let mut engine = AlertEngine::new(config());
    let sent = run(&mut engine, &failing(&["cache"]), T0, T0 + MIN, S);
    assert_eq!(sent.len(), 1);
    let receivers: Vec<&str> = sent[0]
        .1
        .notifications
        .iter()
        .map(|o| o.notifier.as_str())
        .collect();
    assert_eq!(receivers, vec!["webhook"]);

    let mut config = config();
    config.routing.routes.push(Route {
        name: "checks".into(),
        matchers: vec![Matcher::equal("alertname", "CheckFailing")],
        notifiers: vec!["sms".into()],
        group_by: Some(vec!["alertname".into(), "check".into()]),
        ..Route::default()
    });
    let mut engine = AlertEngine::new(config);
    let sent = run(&mut engine, &failing(&["cache", "queue"]), T0, T0 + MIN, S);
    let receivers: Vec<(&str, &str)> = sent[0]
        .1
        .notifications
        .iter()
        .map(|o| (o.notifier.as_str(), o.notification.group_key.as_str()))
        .collect();
    assert_eq!(
        receivers,
        vec![
            (
                "sms",
                "checks:{alertname=\"CheckFailing\", check=\"cache\"}"
            ),
            (
                "sms",
                "checks:{alertname=\"CheckFailing\", check=\"queue\"}"
            ),
        ]
    );
}

// The expected payload is written from Alertmanager's webhook_config documentation
// (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config): version "4",
// groupKey, truncatedAlerts, status, receiver, groupLabels, commonLabels,
// commonAnnotations, externalURL, alerts[] with status, labels, annotations, startsAt,
// endsAt (Go's zero time while firing), generatorURL, fingerprint. The fingerprint was
// computed with a separate Python FNV-1a over name 0xFF value 0xFF, checked against
// prometheus/common's signature test vectors.
#[test]
fn the_webhook_payload_matches_the_version_4_format() {
    let mut engine = AlertEngine::new(config());
    run(&mut engine, &down(&["shop"]), T0, T0 + 11 * S, S);
    engine.tick(&Facts::default(), T0 + 100 * S);
    let sent = run(
        &mut engine,
        &Facts::default(),
        T0 + 101 * S,
        T0 + 10 * MIN,
        S,
    );
    let firing_expected = serde_json::json!({
        "version": "4",
        "groupKey": "default:{alertname=\"MonitorDown\"}",
        "truncatedAlerts": 0,
        "status": "resolved",
        "receiver": "webhook",
        "groupLabels": {"alertname": "MonitorDown"},
        "commonLabels": {"alertname": "MonitorDown", "monitor": "shop", "severity": "critical", "type": "api"},
        "commonAnnotations": {"summary": "Monitor shop is down", "description": "connection refused"},
        "externalURL": "https://bulwark.example/alerts",
        "alerts": [{
            "status": "resolved",
            "labels": {"alertname": "MonitorDown", "monitor": "shop", "severity": "critical", "type": "api"},
            "annotations": {"summary": "Monitor shop is down", "description": "connection refused"},
            "startsAt": "2023-11-14T22:13:20Z",
            "endsAt": "2023-11-14T22:15:00Z",
            "generatorURL": "https://bulwark.example/alerts",
            "fingerprint": "ed849e36fc97d0d2"
        }]
    });
    assert_eq!(sent.len(), 1);
    let resolved = for_notifier(&sent[0].1, "webhook")[0];
    assert_eq!(serde_json::to_value(resolved).unwrap(), firing_expected);
}

#[test]
fn the_firing_payload_has_the_zero_end_time() {
    let mut engine = AlertEngine::new(config());
    let sent = run(&mut engine, &down(&["shop"]), T0, T0 + 11 * S, S);
    let n = for_notifier(&sent[0].1, "sms")[0];
    let json = serde_json::to_value(n).unwrap();
    assert_eq!(json["status"], "firing");
    assert_eq!(json["receiver"], "sms");
    assert_eq!(json["alerts"][0]["status"], "firing");
    assert_eq!(json["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(json["alerts"][0]["startsAt"], "2023-11-14T22:13:20Z");
    assert_eq!(json["alerts"][0]["fingerprint"], "ed849e36fc97d0d2");
}

#[test]
fn truncation_counts_left_out_alerts() {
    let mut config = config();
    config.max_alerts_per_notification = 1;
    let mut engine = AlertEngine::new(config);
    let sent = run(
        &mut engine,
        &down(&["shop", "blog", "api"]),
        T0,
        T0 + 11 * S,
        S,
    );
    let n = for_notifier(&sent[0].1, "webhook")[0];
    assert_eq!(n.alerts.len(), 1);
    assert_eq!(n.truncated_alerts, 2);
}

#[test]
fn notification_destinations_raise_nothing_end_to_end() {
    let mut engine = AlertEngine::new(config());
    let facts = Facts {
        breakers_open: vec!["notify:webhook".into()],
        ..Facts::default()
    };
    let out = engine.tick(&facts, T0);
    assert!(out.changes.is_empty());
    assert!(run(&mut engine, &facts, T0, T0 + 5 * MIN, S).is_empty());
}

#[test]
fn posted_alerts_fire_and_resolve_after_the_resolve_timeout() {
    let mut engine = AlertEngine::new(config());
    let body = br#"[{"labels":{"alertname":"PaymentWebhooksStopped","severity":"high"},
                     "annotations":{"summary":"No payment webhooks for 10 minutes"}}]"#;
    assert_eq!(engine.post_alerts(body, T0).unwrap(), 1);
    let out = engine.tick(&Facts::default(), T0);
    assert_eq!(out.changes[0].kind, ChangeKind::Fired);
    assert_eq!(out.changes[0].alert.labels["type"], "business");
    assert_eq!(engine.active_alerts()[0].source, AlertSource::Posted);
    let sent = run(&mut engine, &Facts::default(), T0 + S, T0 + MIN, S);
    assert_eq!(sent[0].0, T0 + 10 * S);
    // A refresh at 2 min keeps it until 7 min.
    engine.post_alerts(body, T0 + 2 * MIN).unwrap();
    let out = engine.tick(&Facts::default(), T0 + 7 * MIN - S);
    assert!(out.changes.is_empty());
    let out = engine.tick(&Facts::default(), T0 + 7 * MIN);
    assert_eq!(
        out.changes[0].kind,
        ChangeKind::Resolved { announced: true }
    );
    assert_eq!(out.changes[0].alert.ends_at_ms, Some(T0 + 7 * MIN));
}

#[test]
fn posted_alerts_resolve_at_their_ends_at() {
    let mut engine = AlertEngine::new(config());
    let body = br#"[{"labels":{"alertname":"Batch","severity":"low"},"startsAt":"2023-11-14T22:13:00Z","endsAt":"2023-11-14T22:14:20Z"}]"#;
    engine.post_alerts(body, T0).unwrap();
    let out = engine.tick(&Facts::default(), T0);
    assert_eq!(out.changes[0].alert.starts_at_ms, T0 - 20 * S);
    assert!(
        engine
            .tick(&Facts::default(), T0 + 59 * S)
            .changes
            .is_empty()
    );
    let out = engine.tick(&Facts::default(), T0 + 61 * S);
    assert_eq!(out.changes[0].alert.ends_at_ms, Some(T0 + MIN));
    assert!(matches!(
        engine.post_alerts(b"{}", T0),
        Err(PostError::NotAList)
    ));
}

#[test]
fn notifiers_without_send_resolved_hear_only_of_firing_alerts() {
    let mut config = config();
    config.routing.notifiers = vec![NotifierSpec {
        send_resolved: false,
        ..NotifierSpec::new("email")
    }];
    let mut engine = AlertEngine::new(config);
    run(&mut engine, &down(&["shop", "blog"]), T0, T0 + MIN, S);
    // blog resolves: no change worth sending to this notifier.
    assert!(run(&mut engine, &down(&["shop"]), T0 + MIN, T0 + 30 * MIN, S).is_empty());
    // shop resolves too: nothing is sent, and the group is gone.
    assert!(
        run(
            &mut engine,
            &Facts::default(),
            T0 + 30 * MIN,
            T0 + 60 * MIN,
            S
        )
        .is_empty()
    );
    // When shop fails again it is news: a fresh group, sent after the group wait.
    let sent = run(
        &mut engine,
        &down(&["shop"]),
        T0 + 60 * MIN,
        T0 + 61 * MIN,
        S,
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, T0 + 60 * MIN + 10 * S);
    let n = &sent[0].1.notifications[0].notification;
    assert_eq!(
        alert_statuses(n),
        vec![("shop".into(), AlertStatus::Firing)]
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const MONITORS: [&str; 3] = ["shop", "blog", "api"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Monitors flap at random for an hour, then all recover. Whatever happened:
        /// no live group is notified twice within the group interval, a notification never
        /// calls firing an alert that is not active, and every group that was told of a
        /// firing alert ends with a resolved notification.
        #[test]
        fn notifications_keep_alertmanager_timing(
            states in proptest::collection::vec(0u8..8, 1..40),
            step_s in 1i64..20,
        ) {
            let mut engine = AlertEngine::new(config());
            let mut last_sent: BTreeMap<(String, String), (i64, AlertStatus)> = BTreeMap::new();
            let hour = 60 * MIN;
            let mut now = T0;
            while now < T0 + hour + 30 * MIN {
                let bits = if now < T0 + hour {
                    let slot = ((now - T0) * states.len() as i64 / hour) as usize;
                    states[slot.min(states.len() - 1)]
                } else {
                    0
                };
                let down_now: Vec<&str> = MONITORS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bits & (1 << i) != 0)
                    .map(|(_, m)| *m)
                    .collect();
                let out = engine.tick(&down(&down_now), now);
                for o in &out.notifications {
                    let key = (o.notifier.clone(), o.notification.group_key.clone());
                    // A resolved notification ends the group; a new one starts afresh.
                    if let Some((at, AlertStatus::Firing)) = last_sent.get(&key) {
                        prop_assert!(now - at >= 5 * MIN, "{key:?} sent at {at} and {now}");
                    }
                    for alert in &o.notification.alerts {
                        if alert.status == AlertStatus::Firing {
                            prop_assert!(down_now.contains(&alert.labels["monitor"].as_str()));
                        }
                    }
                    last_sent.insert(key, (now, o.notification.status));
                }
                now += step_s * S;
            }
            for (key, (_, status)) in &last_sent {
                prop_assert_eq!(*status, AlertStatus::Resolved, "{:?}", key);
            }
            prop_assert!(engine.active_alerts().is_empty());
        }
    }
}

#[test]
fn a_restart_does_not_page_again_for_what_the_previous_run_notified() {
    let facts = down(&["shop", "db"]);
    let shop = run(
        &mut AlertEngine::new(config()),
        &down(&["shop"]),
        T0,
        T0 + 20 * S,
        5 * S,
    );
    let shop_fingerprint = shop[0].1.notifications[0].notification.alerts[0]
        .fingerprint
        .clone();

    // The previous run told about "shop" an hour before this run starts at T0.
    let mut engine = AlertEngine::new(config());
    engine.restore_notified([(shop_fingerprint, T0 - 3600 * S)]);
    let sent = run(&mut engine, &down(&["shop"]), T0, T0 + 10 * MIN, 5 * S);
    assert!(sent.is_empty(), "shop was paged again after a restart");

    // Its repeat comes 4 h after the previous run's notification, as without a restart.
    let sent = run(
        &mut engine,
        &down(&["shop"]),
        T0 + 10 * MIN,
        T0 + 3 * 3600 * S + 10 * MIN,
        5 * S,
    );
    let times: Vec<i64> = sent.iter().map(|(t, _)| *t).collect();
    assert_eq!(times.len(), 1, "{times:?}");
    assert!(times[0] >= T0 + 3 * 3600 * S && times[0] < T0 + 3 * 3600 * S + 5 * MIN);

    // Something the previous run never told about still goes out after the group wait.
    let mut engine = AlertEngine::new(config());
    engine.restore_notified([("0000000000000000".to_string(), T0 - 60 * S)]);
    let sent = run(&mut engine, &facts, T0, T0 + 20 * S, 5 * S);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, T0 + 10 * S);
}

#[test]
fn a_carried_over_alert_is_reported_once_and_a_later_occurrence_pages() {
    let shop = run(
        &mut AlertEngine::new(config()),
        &down(&["shop"]),
        T0,
        T0 + 20 * S,
        5 * S,
    );
    let fingerprint = shop[0].1.notifications[0].notification.alerts[0]
        .fingerprint
        .clone();
    let mut engine = AlertEngine::new(config());
    engine.restore_notified([(fingerprint.clone(), T0 - 60 * S)]);
    let first = engine.tick(&down(&["shop"]), T0);
    assert_eq!(first.carried_over, vec![(fingerprint.clone(), T0 - 60 * S)]);
    let second = engine.tick(&down(&["shop"]), T0 + 5 * S);
    assert!(second.carried_over.is_empty(), "reported once");

    // It resolves: the receiver was told it fired, so it hears that it resolved.
    let resolved = run(
        &mut engine,
        &Facts::default(),
        T0 + 10 * S,
        T0 + 6 * MIN,
        5 * S,
    );
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        for_notifier(&resolved[0].1, "webhook")[0].status,
        AlertStatus::Resolved
    );
    // Twenty minutes later it fires again: a new occurrence, paged after the group wait.
    let again = T0 + 20 * MIN;
    let sent = run(&mut engine, &down(&["shop"]), again, again + 20 * S, 5 * S);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, again + 10 * S);
}
