//! The public status page on the public listener: `<path>`, `<path>.json` and
//! `<path>/badge/<monitor>.svg`.
//!
//! Pages are rendered in the background every few seconds and served from memory, so a
//! visitor (or a flood of them) never causes a database read. Only monitors marked
//! `public` appear; nothing else about bulwark is shown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bulwark_config::ValidatedConfig;
use bulwark_config::monitors::Monitor;
use bulwark_config::status_page::Maintenance;
use bulwark_monitor::{HistoryStore, MonitorState, Monitors};
use bulwark_proxy::pages::{Page, PublicPages};
use bulwark_status::{
    BadgeMessage, Component, ComponentGroup, ComponentState, DAYS_SHOWN, DayUptime, Incident,
    IncidentImpact, IncidentStatus, IncidentUpdate, MaintenanceWindow, StatusSnapshot,
};
use bytes::Bytes;
use http::StatusCode;
use tokio_util::sync::CancellationToken;

use super::now_ms;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// How often the pages are rendered again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// Resolved incidents stay on the page this long.
const PAST_INCIDENTS_MS: i64 = 14 * DAY_MS;

/// What the page shows, fixed at start (a reload keeps the running page).
#[derive(Clone)]
pub struct PageConfig {
    pub path: String,
    pub title: String,
    pub logo_url: Option<String>,
    pub monitors: Vec<Monitor>,
    pub maintenance: Vec<Maintenance>,
}

impl PageConfig {
    /// `None` when the page is off, or when no monitor is public: the page then does not
    /// take `/status` from the app behind bulwark.
    pub fn from_config(config: &ValidatedConfig) -> Option<PageConfig> {
        let page = &config.status_page;
        let any_public = config.monitors.iter().any(|m| m.public);
        (page.enabled && any_public).then(|| PageConfig {
            path: page.path.clone(),
            title: page.title.clone(),
            logo_url: page.logo_url.clone(),
            monitors: config
                .monitors
                .iter()
                .filter(|m| m.public)
                .cloned()
                .collect(),
            maintenance: config.maintenance.clone(),
        })
    }
}

struct Rendered {
    html: Bytes,
    json: Bytes,
    badges: HashMap<String, Bytes>,
}

/// The pages, as [`PublicPages`] for the proxy.
pub struct StatusPages {
    path: String,
    json_path: String,
    badge_prefix: String,
    rendered: ArcSwap<Rendered>,
}

impl PublicPages for StatusPages {
    fn page(&self, path: &str) -> Option<Page> {
        let rendered = self.rendered.load();
        let ok = |content_type, body: &Bytes| Page {
            status: StatusCode::OK,
            content_type,
            body: body.clone(),
        };
        if path == self.path || path.strip_prefix(&self.path) == Some("/") {
            return Some(ok("text/html; charset=utf-8", &rendered.html));
        }
        if path == self.json_path {
            return Some(ok("application/json", &rendered.json));
        }
        let name = path
            .strip_prefix(&self.badge_prefix)?
            .strip_suffix(".svg")?;
        Some(match rendered.badges.get(name) {
            Some(svg) => ok("image/svg+xml", svg),
            None => Page {
                status: StatusCode::NOT_FOUND,
                content_type: "application/problem+json",
                body: Bytes::from_static(
                    br#"{"type":"about:blank","title":"Not Found","status":404,"detail":"No public monitor has this name."}"#,
                ),
            },
        })
    }
}

/// Renders the pages once, then keeps them fresh until `cancel`.
pub async fn start(
    config: PageConfig,
    monitors: Monitors,
    cancel: CancellationToken,
) -> Arc<StatusPages> {
    let first = render(&config, &monitors).await;
    let pages = Arc::new(StatusPages {
        json_path: format!("{}.json", config.path),
        badge_prefix: format!("{}/badge/", config.path),
        path: config.path.clone(),
        rendered: ArcSwap::from_pointee(first),
    });
    let refreshed = Arc::clone(&pages);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(REFRESH_EVERY);
        every.tick().await;
        loop {
            tokio::select! {
                _ = every.tick() => {}
                () = cancel.cancelled() => return,
            }
            let next = render(&config, &monitors).await;
            refreshed.rendered.store(Arc::new(next));
        }
    });
    pages
}

async fn render(config: &PageConfig, monitors: &Monitors) -> Rendered {
    let now = now_ms();
    let (config, live) = (config.clone(), monitors.clone());
    let built = tokio::task::spawn_blocking(move || {
        let snapshot = snapshot(&config, &live, now);
        let html = bulwark_status::render_html(&snapshot);
        let json = serde_json::to_vec(&bulwark_status::render_json(&snapshot)).unwrap_or_default();
        let mut badges = HashMap::new();
        for group in &snapshot.groups {
            for component in &group.components {
                let svg = bulwark_status::render_badge(
                    &component.name,
                    BadgeMessage::State(component.state),
                );
                badges.insert(component.slug.clone(), Bytes::from(svg));
            }
        }
        Rendered {
            html: Bytes::from(html),
            json: Bytes::from(json),
            badges,
        }
    })
    .await;
    built.unwrap_or_else(|error| {
        tracing::error!(%error, "Rendering the status page failed; serving an empty page.");
        Rendered {
            html: Bytes::from_static(b"<!doctype html><title>Status</title><p>Status unavailable."),
            json: Bytes::from_static(b"{}"),
            badges: HashMap::new(),
        }
    })
}

/// The page's content at `now`. History read errors show as "no data" for that part
/// (and are logged) rather than taking the page down.
fn snapshot(config: &PageConfig, monitors: &Monitors, now: i64) -> StatusSnapshot {
    let history = monitors.history();
    let mut groups: Vec<ComponentGroup> = Vec::new();
    for monitor in &config.monitors {
        let component = component(monitor, monitors, history, &config.maintenance, now);
        match groups.iter_mut().find(|g| g.name == monitor.group) {
            Some(group) => group.components.push(component),
            None => groups.push(ComponentGroup {
                name: monitor.group.clone(),
                components: vec![component],
            }),
        }
    }
    let public: Vec<&str> = config.monitors.iter().map(|m| m.name.as_str()).collect();
    let incidents = match history.incidents(now - PAST_INCIDENTS_MS) {
        Ok(list) => list,
        Err(error) => {
            tracing::warn!(%error, "Cannot read incidents for the status page.");
            Vec::new()
        }
    };
    StatusSnapshot {
        title: config.title.clone(),
        logo_url: config.logo_url.clone(),
        generated_at_ms: now,
        groups,
        incidents: incidents
            .into_iter()
            // An incident opened for a private monitor is not for the public page.
            .filter(|i| i.monitor.as_deref().is_none_or(|m| public.contains(&m)))
            .map(incident)
            .collect(),
        maintenance: config
            .maintenance
            .iter()
            // A window only about private monitors is nobody's business outside.
            .filter(|w| w.ends_ms > now)
            .filter(|w| {
                w.monitors.is_empty() || w.monitors.iter().any(|m| public.contains(&m.as_str()))
            })
            .map(|w| MaintenanceWindow {
                name: w.name.clone(),
                starts_ms: w.starts_ms,
                ends_ms: w.ends_ms,
                components: names_of(&w.monitors, &config.monitors),
            })
            .collect(),
    }
}

fn names_of(monitors: &[String], public: &[Monitor]) -> Vec<String> {
    if monitors.is_empty() {
        return public.iter().map(|m| m.display_name.clone()).collect();
    }
    public
        .iter()
        .filter(|m| monitors.contains(&m.name))
        .map(|m| m.display_name.clone())
        .collect()
}

fn component(
    monitor: &Monitor,
    monitors: &Monitors,
    history: &HistoryStore,
    maintenance: &[Maintenance],
    now: i64,
) -> Component {
    let in_maintenance = maintenance.iter().any(|w| {
        w.starts_ms <= now
            && now < w.ends_ms
            && (w.monitors.is_empty() || w.monitors.contains(&monitor.name))
    });
    let live = monitors.status(&monitor.name);
    let state = match &live {
        _ if in_maintenance => ComponentState::Maintenance,
        Some(s) if s.state == MonitorState::Down => ComponentState::Down,
        // Up (or not checked yet) but the last check failed: on its way down, or flapping.
        Some(s) if s.last_error.is_some() => ComponentState::Degraded,
        _ => ComponentState::Operational,
    };
    let name = &monitor.name;
    let logged = |what: &str, error: &dyn std::fmt::Display| {
        tracing::warn!(monitor = %name, %error, "Cannot read {what} for the status page.");
    };
    let days = history
        .daily(name, DAYS_SHOWN as u32, now)
        .unwrap_or_else(|e| {
            logged("daily uptime", &e);
            Vec::new()
        })
        .into_iter()
        .map(|b| DayUptime {
            day_start_ms: b.start_ms,
            checks: b.checks,
            successes: b.successes,
            // The sum covers successful checks only.
            avg_response_ms: (b.successes > 0)
                .then(|| u32::try_from(b.response_ms_sum / b.successes).unwrap_or(u32::MAX)),
        })
        .collect();
    let uptime = |window_ms: i64| {
        history
            .uptime(name, window_ms, now)
            .unwrap_or_else(|e| {
                logged("uptime", &e);
                None
            })
            .map(|percent| percent / 100.0)
    };
    let response_ms = history
        .minutes(name, now - DAY_MS)
        .unwrap_or_else(|e| {
            logged("response times", &e);
            Vec::new()
        })
        .into_iter()
        .filter(|b| b.successes > 0)
        .map(|b| u32::try_from(b.response_ms_sum / b.successes).unwrap_or(u32::MAX))
        .collect();
    Component {
        name: monitor.display_name.clone(),
        slug: monitor.name.clone(),
        state,
        days,
        uptime_24h: uptime(DAY_MS),
        uptime_7d: uptime(7 * DAY_MS),
        uptime_30d: uptime(30 * DAY_MS),
        uptime_90d: uptime(90 * DAY_MS),
        response_ms,
    }
}

fn incident(i: bulwark_monitor::Incident) -> Incident {
    use bulwark_monitor::{Impact, IncidentStatus as Status};
    let status = |s: Status| match s {
        Status::Investigating => IncidentStatus::Investigating,
        Status::Identified => IncidentStatus::Identified,
        Status::Monitoring => IncidentStatus::Monitoring,
        Status::Resolved => IncidentStatus::Resolved,
    };
    Incident {
        title: i.title,
        impact: match i.impact {
            Impact::None => IncidentImpact::None,
            Impact::Minor => IncidentImpact::Minor,
            Impact::Major => IncidentImpact::Major,
            Impact::Critical => IncidentImpact::Critical,
        },
        status: status(i.status),
        opened_ms: i.opened_ms,
        resolved_ms: i.resolved_ms,
        updates: i
            .updates
            .into_iter()
            .map(|u| IncidentUpdate {
                at_ms: u.at_ms,
                status: status(u.status),
                message: u.message,
            })
            .collect(),
    }
}
