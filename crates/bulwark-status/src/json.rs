//! `/status.json`: the page's data for scripts and other dashboards.
//!
//! The shape (version 1) is stable; fields may be added, never renamed or removed:
//!
//! ```text
//! { "version": 1, "title": str, "logo_url": str|null, "generated_at": RFC 3339 UTC,
//!   "status": { "indicator": "operational"|"partial_outage"|"major_outage"|"maintenance",
//!               "description": banner text },
//!   "groups": [ { "name": str, "components": [ {
//!       "name": str, "slug": str,
//!       "state": "operational"|"degraded"|"down"|"maintenance",
//!       "uptime": { "24h": pct|null, "7d": pct|null, "30d": pct|null, "90d": pct|null },
//!       "days": [ { "date": "YYYY-MM-DD", "checks": int, "successes": int,
//!                   "uptime": pct|null, "avg_response_ms": int|null } ],   // oldest first, 90
//!       "response_ms": [int] } ] } ],
//!   "incidents": [ { "title": str, "impact": "none"|"minor"|"major"|"critical",
//!       "status": "investigating"|"identified"|"monitoring"|"resolved",
//!       "opened_at": RFC 3339, "resolved_at": RFC 3339|null,
//!       "updates": [ { "at": RFC 3339, "status": str, "message": str } ] } ],  // newest first
//!   "maintenance": [ { "name": str, "starts_at": RFC 3339, "ends_at": RFC 3339,
//!       "active": bool, "components": [str] } ] }                             // by start
//! ```
//!
//! A percentage (`pct`) is a number with at most two decimals, rounded down like the page
//! (99.999% is 99.99, never 100); null means no checks in the period.

use serde_json::{Value, json};

use crate::days::day_window;
use crate::format::{basis_points_to_json, format_date, format_iso, fraction_to_basis_points};
use crate::html::is_safe_logo_url;
use crate::overall::overall_status;
use crate::snapshot::{Component, Incident, MaintenanceWindow, StatusSnapshot};

/// The document served at `/status.json`.
pub fn render_json(snapshot: &StatusSnapshot) -> Value {
    let now_ms = snapshot.generated_at_ms;
    let overall = overall_status(snapshot);
    let groups: Vec<Value> = snapshot
        .groups
        .iter()
        .map(|group| {
            json!({
                "name": group.name,
                "components": group
                    .components
                    .iter()
                    .map(|c| component_json(c, now_ms))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();

    let mut incidents: Vec<&Incident> = snapshot.incidents.iter().collect();
    incidents.sort_by_key(|i| std::cmp::Reverse(i.opened_ms));
    let mut windows: Vec<&MaintenanceWindow> = snapshot.maintenance.iter().collect();
    windows.sort_by_key(|w| w.starts_ms);

    json!({
        "version": 1,
        "title": snapshot.title,
        "logo_url": snapshot.logo_url.as_deref().filter(|url| is_safe_logo_url(url)),
        "generated_at": format_iso(now_ms),
        "status": {
            "indicator": overall.as_str(),
            "description": overall.label(),
        },
        "groups": groups,
        "incidents": incidents.into_iter().map(incident_json).collect::<Vec<_>>(),
        "maintenance": windows
            .into_iter()
            .map(|w| maintenance_json(w, now_ms))
            .collect::<Vec<_>>(),
    })
}

fn uptime_json(fraction: Option<f64>) -> Value {
    basis_points_to_json(fraction.and_then(fraction_to_basis_points))
}

fn component_json(component: &Component, now_ms: i64) -> Value {
    let days: Vec<Value> = day_window(&component.days, now_ms)
        .iter()
        .map(|cell| {
            json!({
                "date": format_date(cell.day_start_ms),
                "checks": cell.checks,
                "successes": cell.successes,
                "uptime": basis_points_to_json(cell.basis_points),
                "avg_response_ms": if cell.checks > 0 { cell.avg_response_ms } else { None },
            })
        })
        .collect();
    json!({
        "name": component.name,
        "slug": component.slug,
        "state": component.state.as_str(),
        "uptime": {
            "24h": uptime_json(component.uptime_24h),
            "7d": uptime_json(component.uptime_7d),
            "30d": uptime_json(component.uptime_30d),
            "90d": uptime_json(component.uptime_90d),
        },
        "days": days,
        "response_ms": component.response_ms,
    })
}

fn incident_json(incident: &Incident) -> Value {
    let mut updates: Vec<_> = incident.updates.iter().collect();
    updates.sort_by_key(|u| std::cmp::Reverse(u.at_ms));
    json!({
        "title": incident.title,
        "impact": incident.impact.as_str(),
        "status": incident.status.as_str(),
        "opened_at": format_iso(incident.opened_ms),
        "resolved_at": incident.resolved_ms.map(format_iso),
        "updates": updates
            .into_iter()
            .map(|u| json!({
                "at": format_iso(u.at_ms),
                "status": u.status.as_str(),
                "message": u.message,
            }))
            .collect::<Vec<_>>(),
    })
}

fn maintenance_json(window: &MaintenanceWindow, now_ms: i64) -> Value {
    json!({
        "name": window.name,
        "starts_at": format_iso(window.starts_ms),
        "ends_at": format_iso(window.ends_ms),
        "active": window.is_active(now_ms),
        "components": window.components,
    })
}
