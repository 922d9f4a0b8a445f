use serde_json::json;

use crate::*;

/// 2026-11-28T06:39:40Z (checked with `date -u -d @1795847980`).
const NOW: i64 = 1_795_847_980_000;
/// 2026-11-28T00:00:00Z.
const TODAY: i64 = 1_795_824_000_000;
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

fn component(name: &str, state: ComponentState) -> Component {
    Component {
        name: name.to_owned(),
        slug: name.to_ascii_lowercase(),
        state,
        days: vec![],
        uptime_24h: None,
        uptime_7d: None,
        uptime_30d: None,
        uptime_90d: None,
        response_ms: vec![],
    }
}

fn snapshot(states: &[ComponentState]) -> StatusSnapshot {
    StatusSnapshot {
        title: "Acme".to_owned(),
        logo_url: None,
        generated_at_ms: NOW,
        groups: vec![ComponentGroup {
            name: "Core".to_owned(),
            components: states
                .iter()
                .enumerate()
                .map(|(i, &s)| component(&format!("C{i}"), s))
                .collect(),
        }],
        incidents: vec![],
        maintenance: vec![],
    }
}

use ComponentState::{Degraded, Down, Maintenance, Operational};

#[test]
fn banner_follows_the_worst_state() {
    let cases: &[(&[ComponentState], &str)] = &[
        (&[], "All systems operational"),
        (&[Operational, Operational], "All systems operational"),
        (&[Operational, Degraded], "Partial outage"),
        (&[Degraded, Down, Operational], "Major outage"),
        (&[Maintenance, Operational], "Under maintenance"),
        (&[Maintenance, Degraded], "Partial outage"),
        (&[Maintenance, Down], "Major outage"),
    ];
    for (states, expected) in cases {
        let snap = snapshot(states);
        assert_eq!(overall_status(&snap).label(), *expected, "{states:?}");
        let html = render_html(&snap);
        assert!(
            html.contains(&format!("<p class=\"banner-text\">{expected}</p>")),
            "{states:?}"
        );
    }
}

#[test]
fn an_active_maintenance_window_shows_maintenance_unless_something_is_broken() {
    let window = MaintenanceWindow {
        name: "DB upgrade".to_owned(),
        starts_ms: NOW - HOUR,
        ends_ms: NOW + HOUR,
        components: vec!["Database".to_owned()],
    };
    let mut snap = snapshot(&[Operational]);
    snap.maintenance.push(window.clone());
    assert_eq!(overall_status(&snap), OverallStatus::Maintenance);
    let html = render_html(&snap);
    assert!(html.contains("In progress"));
    assert!(html.contains("Affects: Database"));

    snap.groups[0].components[0].state = Down;
    assert_eq!(overall_status(&snap), OverallStatus::MajorOutage);

    // A window that ended is neither maintenance nor shown.
    let mut ended = snapshot(&[Operational]);
    ended.maintenance.push(MaintenanceWindow {
        starts_ms: NOW - 2 * HOUR,
        ends_ms: NOW,
        ..window
    });
    assert_eq!(overall_status(&ended), OverallStatus::Operational);
    assert!(!render_html(&ended).contains("DB upgrade"));
}

#[test]
fn ninety_bars_per_component_with_day_details() {
    let mut snap = snapshot(&[Operational, Degraded]);
    let api = &mut snap.groups[0].components[0];
    api.days = vec![
        DayUptime {
            day_start_ms: TODAY,
            checks: 2000,
            successes: 1999,
            avg_response_ms: Some(120),
        },
        DayUptime {
            day_start_ms: TODAY - DAY,
            checks: 0,
            successes: 0,
            avg_response_ms: None,
        },
        DayUptime {
            day_start_ms: TODAY - 2 * DAY,
            checks: 100_000,
            successes: 99_999,
            avg_response_ms: Some(95),
        },
    ];
    api.uptime_24h = Some(0.9995);
    api.uptime_30d = Some(0.99999);
    api.uptime_90d = None;
    let html = render_html(&snap);

    assert_eq!(html.matches("<rect class=\"day\"").count(), 2 * 90);
    assert!(html.contains("<title>2026-11-28: 99.95% uptime, 1999 of 2000 checks ok</title>"));
    // Zero checks is no data, never 100%.
    assert!(html.contains("<title>2026-11-27: no data</title>"));
    // One failure in 100,000 rounds down, not up to 100%.
    assert!(html.contains("<title>2026-11-26: 99.99% uptime, 99999 of 100000 checks ok</title>"));
    assert!(
        html.contains("<title>2026-08-31: no data</title>"),
        "first of 90 days"
    );
    assert!(!html.contains("2026-08-30"));
    assert!(html.contains("<dt>24 hours</dt><dd class=\"uptime\">99.95%</dd>"));
    assert!(html.contains("<dt>30 days</dt><dd class=\"uptime\">99.99%</dd>"));
    assert!(html.contains("<dt>90 days</dt><dd class=\"uptime\">no data</dd>"));
    assert!(html.contains("<td>1999 / 2000</td><td>120 ms</td>"));
    assert!(!html.contains("100.00%"));
}

#[test]
fn sparkline_is_a_polyline_scaled_to_the_maximum() {
    let mut snap = snapshot(&[Operational]);
    snap.groups[0].components[0].response_ms = vec![100, 200, 50];
    let html = render_html(&snap);
    // x: 0, 100, 200; y: 38 - v/200 * 36 -> 20, 2, 29.
    assert!(
        html.contains("<polyline class=\"spark-line\" points=\"0.0,20.0 100.0,2.0 200.0,29.0\"/>")
    );
    assert!(html.contains("avg 116 ms \u{b7} max 200 ms"));

    snap.groups[0].components[0].response_ms = vec![100];
    assert!(!render_html(&snap).contains("<polyline"));
}

#[test]
fn every_configured_or_incident_text_is_escaped_and_there_are_no_scripts() {
    let evil = "<script>alert(1)</script>";
    let mut snap = snapshot(&[Down]);
    snap.title = evil.to_owned();
    snap.logo_url = Some("javascript:alert(1)".to_owned());
    snap.groups[0].name = evil.to_owned();
    snap.groups[0].components[0].name = evil.to_owned();
    snap.groups[0].components[0].slug = "\"><script>".to_owned();
    snap.incidents.push(Incident {
        title: evil.to_owned(),
        impact: IncidentImpact::Major,
        status: IncidentStatus::Identified,
        opened_ms: NOW - HOUR,
        resolved_ms: None,
        updates: vec![IncidentUpdate {
            at_ms: NOW - HOUR,
            status: IncidentStatus::Identified,
            message: evil.to_owned(),
        }],
    });
    snap.maintenance.push(MaintenanceWindow {
        name: evil.to_owned(),
        starts_ms: NOW + HOUR,
        ends_ms: NOW + 2 * HOUR,
        components: vec![evil.to_owned()],
    });
    let html = render_html(&snap);
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(!html.contains("javascript:"));
    assert!(html.contains("<h1 class=\"title\">&lt;script&gt;alert(1)&lt;/script&gt;</h1>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;</p></li>"));
    assert!(
        html.matches("&lt;script&gt;alert(1)&lt;/script&gt;")
            .count()
            >= 7
    );
}

#[test]
fn safe_logo_is_shown() {
    let mut snap = snapshot(&[Operational]);
    snap.logo_url = Some("https://example.com/logo.png?a=1&b=2".to_owned());
    let html = render_html(&snap);
    assert!(html.contains("<img class=\"logo\" src=\"https://example.com/logo.png?a=1&amp;b=2\""));
}

#[test]
fn incidents_active_above_past_below_with_updates_newest_first() {
    let mut snap = snapshot(&[Degraded]);
    snap.incidents = vec![
        Incident {
            title: "Old outage".to_owned(),
            impact: IncidentImpact::Critical,
            status: IncidentStatus::Resolved,
            opened_ms: NOW - 3 * DAY,
            resolved_ms: Some(NOW - 3 * DAY + HOUR),
            updates: vec![],
        },
        Incident {
            title: "Slow API".to_owned(),
            impact: IncidentImpact::Minor,
            status: IncidentStatus::Monitoring,
            opened_ms: NOW - 2 * HOUR,
            resolved_ms: None,
            updates: vec![
                IncidentUpdate {
                    at_ms: NOW - 2 * HOUR,
                    status: IncidentStatus::Investigating,
                    message: "Looking into it.".to_owned(),
                },
                IncidentUpdate {
                    at_ms: NOW - HOUR,
                    status: IncidentStatus::Monitoring,
                    message: "Fix deployed.".to_owned(),
                },
            ],
        },
    ];
    let html = render_html(&snap);
    let active = html.find("Active incidents").unwrap();
    let slow = html.find("Slow API").unwrap();
    let group = html.find("class=\"group-name\"").unwrap();
    let past = html.find("Past incidents").unwrap();
    let old = html.find("Old outage").unwrap();
    assert!(active < slow && slow < group && group < past && past < old);
    assert!(html.find("Fix deployed.").unwrap() < html.find("Looking into it.").unwrap());
    assert!(
        html.contains(
            "resolved <time datetime=\"2026-11-25T07:39:40Z\">2026-11-25 07:39 UTC</time>"
        )
    );

    let quiet = render_html(&snapshot(&[Operational]));
    assert!(!quiet.contains("Active incidents"));
    assert!(quiet.contains("No incidents reported recently."));
}

#[test]
fn page_is_a_mobile_friendly_html5_document() {
    let html = render_html(&snapshot(&[Operational]));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    assert!(html.contains("<title>Acme status</title>"));
    assert!(html.contains(
        "Last updated <time datetime=\"2026-11-28T06:39:40Z\">2026-11-28 06:39 UTC</time>"
    ));
}

#[test]
fn json_has_the_documented_shape() {
    let mut snap = snapshot(&[Degraded]);
    snap.logo_url = Some("/logo.svg".to_owned());
    let api = &mut snap.groups[0].components[0];
    api.name = "API".to_owned();
    api.slug = "api".to_owned();
    api.uptime_24h = Some(0.9995);
    api.uptime_7d = Some(0.99999);
    api.uptime_30d = Some(1.0);
    api.response_ms = vec![120, 80];
    api.days = vec![DayUptime {
        day_start_ms: TODAY,
        checks: 2000,
        successes: 1999,
        avg_response_ms: Some(120),
    }];
    snap.incidents.push(Incident {
        title: "Slow API".to_owned(),
        impact: IncidentImpact::Minor,
        status: IncidentStatus::Resolved,
        opened_ms: NOW - 2 * HOUR,
        resolved_ms: Some(NOW - HOUR),
        updates: vec![IncidentUpdate {
            at_ms: NOW - HOUR,
            status: IncidentStatus::Resolved,
            message: "Fixed.".to_owned(),
        }],
    });
    snap.maintenance.push(MaintenanceWindow {
        name: "DB upgrade".to_owned(),
        starts_ms: NOW + HOUR,
        ends_ms: NOW + 2 * HOUR,
        components: vec!["API".to_owned()],
    });

    let mut value = render_json(&snap);
    let days = value["groups"][0]["components"][0]
        .as_object_mut()
        .unwrap()
        .remove("days")
        .unwrap();
    assert_eq!(
        value,
        json!({
            "version": 1,
            "title": "Acme",
            "logo_url": "/logo.svg",
            "generated_at": "2026-11-28T06:39:40Z",
            "status": {"indicator": "partial_outage", "description": "Partial outage"},
            "groups": [{
                "name": "Core",
                "components": [{
                    "name": "API",
                    "slug": "api",
                    "state": "degraded",
                    "uptime": {"24h": 99.95, "7d": 99.99, "30d": 100.0, "90d": null},
                    "response_ms": [120, 80],
                }],
            }],
            "incidents": [{
                "title": "Slow API",
                "impact": "minor",
                "status": "resolved",
                "opened_at": "2026-11-28T04:39:40Z",
                "resolved_at": "2026-11-28T05:39:40Z",
                "updates": [{"at": "2026-11-28T05:39:40Z", "status": "resolved", "message": "Fixed."}],
            }],
            "maintenance": [{
                "name": "DB upgrade",
                "starts_at": "2026-11-28T07:39:40Z",
                "ends_at": "2026-11-28T08:39:40Z",
                "active": false,
                "components": ["API"],
            }],
        })
    );
    let days = days.as_array().unwrap();
    assert_eq!(days.len(), 90);
    assert_eq!(
        days[0],
        json!({"date": "2026-08-31", "checks": 0, "successes": 0, "uptime": null, "avg_response_ms": null})
    );
    assert_eq!(
        days[89],
        json!({"date": "2026-11-28", "checks": 2000, "successes": 1999, "uptime": 99.95, "avg_response_ms": 120})
    );
}

#[test]
fn json_drops_an_unsafe_logo() {
    let mut snap = snapshot(&[]);
    snap.logo_url = Some("data:text/html,x".to_owned());
    assert_eq!(render_json(&snap)["logo_url"], serde_json::Value::Null);
}
