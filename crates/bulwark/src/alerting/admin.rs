//! The alerting part of the admin API on the ops listener:
//!
//! | method and path                          | scope          | answer                                |
//! |------------------------------------------|----------------|---------------------------------------|
//! | `POST /admin/v1/alerts`                  | `alerts:write` | 200 `{"accepted": n}`; Alertmanager v2 body |
//! | `GET /admin/v1/alerts`                   | `read`         | 200 `{"active": [...], "history": [...]}` |
//! | `GET /admin/v1/silences`                 | `read`         | 200, active and pending silences      |
//! | `POST /admin/v1/silences`                | `silences:write` | 200 `{"id": ...}`                    |
//! | `DELETE /admin/v1/silences/{id}`         | `silences:write` | 204 / 404                            |
//! | `GET /admin/v1/incidents`                | `read`         | 200, incidents of the last 90 days    |
//! | `POST /admin/v1/incidents`               | `incidents:write` | 200, the new incident / 400        |
//! | `POST /admin/v1/incidents/{id}/updates`  | `incidents:write` | 200, the incident / 404            |
//!
//! Scopes are split so that an app's `alerts:write` token can raise alerts but not
//! silence them (a compromised app could hide its own attack) nor write on the public
//! status page.
//!
//! `GET /admin/v1/alerts` takes `state` (firing, resolved, suppressed), `since_ms` and
//! `limit` (1-1000, default 100). Incidents need at least one monitor (they live in the
//! monitor history). Problems and counting are those of the rest of the admin API.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use bulwark_alerts::{HistoryFilter, HistoryState, Matcher, Silence};
use bulwark_config::admin::{AdminToken, Scope};
use bulwark_events::{Bus, BusEvent};
use bulwark_monitor::{Impact, IncidentStatus};
use bulwark_ops::admin::auth::authorize;
use bulwark_ops::admin::events::AdminRequest;
use bulwark_ops::admin::problem::AdminProblem;
use serde::Deserialize;

use super::{Alerting, now_ms};

const ALERTS: &str = "/admin/v1/alerts";
const SILENCES: &str = "/admin/v1/silences";
const SILENCE: &str = "/admin/v1/silences/{id}";
const INCIDENTS: &str = "/admin/v1/incidents";
const INCIDENT_UPDATES: &str = "/admin/v1/incidents/{id}/updates";
const DAY_MS: i64 = 86_400_000;

#[derive(Clone)]
pub struct AlertAdmin {
    pub alerting: Alerting,
    pub tokens: Arc<Vec<AdminToken>>,
    pub bus: Bus,
}

pub fn router(state: AlertAdmin) -> Router {
    Router::new()
        .route(ALERTS, post(post_alerts).get(list_alerts))
        .route(SILENCES, get(list_silences).post(add_silence))
        .route(SILENCE, delete(expire_silence))
        .route(INCIDENTS, get(list_incidents).post(open_incident))
        .route(INCIDENT_UPDATES, post(update_incident))
        .with_state(state)
}

type Answer = Result<Response, AdminProblem>;

/// Counts the answer like the rest of the admin API and turns problems into responses.
fn finish(endpoint: &'static str, answer: Answer) -> Response {
    let mut response = answer.unwrap_or_else(IntoResponse::into_response);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    AdminRequest {
        endpoint,
        status: response.status().as_u16(),
    }
    .emit();
    response
}

fn json(value: serde_json::Value) -> Response {
    axum::Json(value).into_response()
}

fn admin_action(state: &AlertAdmin, token: &str, action: &str, target: Option<String>, count: u64) {
    state.bus.publish(BusEvent::AdminAction {
        token: token.to_string(),
        action: action.to_string(),
        target,
        count,
    });
}

/// Blocking history calls run off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, AdminProblem> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            tracing::error!(%error, "Admin API: the alert or monitor history failed.");
            Err(AdminProblem::StoreUnavailable)
        }
        Err(error) => {
            tracing::error!(%error, "Admin API: a history task failed.");
            Err(AdminProblem::StoreUnavailable)
        }
    }
}

async fn post_alerts(State(state): State<AlertAdmin>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = async {
        let caller = authorize(&state.tokens, &headers, Scope::AlertsWrite)?;
        let accepted = state
            .alerting
            .engine()
            .post_alerts(&body, now_ms())
            .map_err(|e| AdminProblem::BadBody(e.to_string()))?;
        state.alerting.wake.notify_one();
        admin_action(&state, caller.name(), "post_alerts", None, accepted as u64);
        Ok(json(serde_json::json!({ "accepted": accepted })))
    }
    .await;
    finish("POST /admin/v1/alerts", answer)
}

/// `state`, `since_ms`, `limit`; anything else is refused, as in the rest of the API.
fn history_filter(query: Option<&str>) -> Result<HistoryFilter, AdminProblem> {
    let mut filter = HistoryFilter {
        state: None,
        since_ms: None,
        limit: 100,
    };
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "state" => {
                filter.state = Some(HistoryState::parse(&value).ok_or_else(|| {
                    AdminProblem::BadQuery("state is firing, resolved or suppressed".into())
                })?);
            }
            "since_ms" => {
                filter.since_ms = Some(value.parse().map_err(|_| {
                    AdminProblem::BadQuery("since_ms is a Unix time in milliseconds".into())
                })?);
            }
            "limit" => {
                filter.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| AdminProblem::BadQuery("limit is 1 to 1000".into()))?;
            }
            other => {
                return Err(AdminProblem::BadQuery(format!(
                    "unknown parameter {other:?}"
                )));
            }
        }
    }
    Ok(filter)
}

async fn list_alerts(
    State(state): State<AlertAdmin>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let answer = async {
        authorize(&state.tokens, &headers, Scope::Read)?;
        let filter = history_filter(query.as_deref())?;
        let active: Vec<serde_json::Value> = state
            .alerting
            .engine()
            .active_alerts()
            .into_iter()
            .map(|a| {
                serde_json::json!({
                    "fingerprint": a.fingerprint,
                    "labels": a.alert.labels,
                    "annotations": a.alert.annotations,
                    "startsAt": bulwark_alerts::rfc3339::format_ms(a.alert.starts_at_ms),
                    "source": match a.source {
                        bulwark_alerts::AlertSource::Rule => "rule",
                        bulwark_alerts::AlertSource::Posted => "posted",
                    },
                    "muted": a.muted,
                })
            })
            .collect();
        let history = Arc::clone(&state.alerting.history);
        let rows = blocking(move || history.list(&filter).map_err(|e| e.to_string())).await?;
        Ok(json(
            serde_json::json!({ "active": active, "history": rows }),
        ))
    }
    .await;
    finish("GET /admin/v1/alerts", answer)
}

fn silence_json(s: &Silence) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "matchers": s.matchers.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        "startsAt": bulwark_alerts::rfc3339::format_ms(s.starts_at_ms),
        "endsAt": bulwark_alerts::rfc3339::format_ms(s.ends_at_ms),
        "createdBy": s.created_by,
        "comment": s.comment,
    })
}

async fn list_silences(State(state): State<AlertAdmin>, headers: HeaderMap) -> Response {
    let answer = async {
        authorize(&state.tokens, &headers, Scope::Read)?;
        let list: Vec<serde_json::Value> = state
            .alerting
            .engine()
            .silences(now_ms())
            .iter()
            .map(silence_json)
            .collect();
        Ok(json(serde_json::Value::Array(list)))
    }
    .await;
    finish("GET /admin/v1/silences", answer)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SilenceBody {
    matchers: Vec<MatcherBody>,
    /// RFC 3339; now when absent.
    #[serde(rename = "startsAt")]
    starts_at: Option<String>,
    /// RFC 3339; or `duration` from the start.
    #[serde(rename = "endsAt")]
    ends_at: Option<String>,
    duration: Option<String>,
    #[serde(default)]
    comment: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatcherBody {
    name: String,
    value: String,
    /// Alertmanager's `isEqual`, true by default.
    #[serde(rename = "isEqual", default = "yes")]
    is_equal: bool,
}

fn yes() -> bool {
    true
}

fn silence_from(body: &[u8], created_by: &str, now: i64) -> Result<Silence, AdminProblem> {
    let body: SilenceBody = serde_json::from_slice(body)
        .map_err(|e| AdminProblem::BadBody(format!("expected a silence: {e}")))?;
    let time = |field: &str, text: &Option<String>| -> Result<Option<i64>, AdminProblem> {
        text.as_deref()
            .map(|t| {
                bulwark_alerts::rfc3339::parse_ms(t).ok_or_else(|| {
                    AdminProblem::BadBody(format!("{field} is not an RFC 3339 time"))
                })
            })
            .transpose()
    };
    bounded_len("comment", &body.comment, 1024)?;
    if body.matchers.is_empty() || body.matchers.len() > 64 {
        return Err(AdminProblem::BadBody("give 1 to 64 matchers".into()));
    }
    for m in &body.matchers {
        bounded_len("matcher name", &m.name, 128)?;
        bounded_len("matcher value", &m.value, 1024)?;
    }
    let starts = time("startsAt", &body.starts_at)?.unwrap_or(now);
    let ends = match (time("endsAt", &body.ends_at)?, &body.duration) {
        (Some(ends), None) => ends,
        (None, Some(duration)) => {
            let duration = bulwark_config::duration::parse_duration(duration)
                .map_err(|e| AdminProblem::BadBody(format!("duration: {e}")))?;
            starts.saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
        }
        _ => {
            return Err(AdminProblem::BadBody(
                "give either endsAt or duration".into(),
            ));
        }
    };
    let silence = Silence {
        id: uuid::Uuid::now_v7().to_string(),
        matchers: body
            .matchers
            .iter()
            .map(|m| {
                if m.is_equal {
                    Matcher::equal(&m.name, &m.value)
                } else {
                    Matcher::not_equal(&m.name, &m.value)
                }
            })
            .collect(),
        starts_at_ms: starts,
        ends_at_ms: ends,
        created_by: created_by.to_string(),
        comment: body.comment,
    };
    silence
        .validate(now)
        .map_err(|e| AdminProblem::BadBody(e.to_string()))?;
    Ok(silence)
}

async fn add_silence(State(state): State<AlertAdmin>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = async {
        let caller = authorize(&state.tokens, &headers, Scope::SilencesWrite)?;
        let now = now_ms();
        let silence = silence_from(&body, caller.name(), now)?;
        // The engine first (it refuses past its cap), then the store; a store failure
        // takes the silence back out, so the two never disagree after a restart.
        state
            .alerting
            .engine()
            .add_silence(silence.clone(), now)
            .map_err(|e| AdminProblem::BadBody(e.to_string()))?;
        let history = Arc::clone(&state.alerting.history);
        let stored = silence.clone();
        let saved =
            blocking(move || history.add_silence(&stored, now).map_err(|e| e.to_string())).await;
        if let Err(problem) = saved {
            let _ = state.alerting.engine().expire_silence(&silence.id, now);
            return Err(problem);
        }
        state.alerting.wake.notify_one();
        admin_action(
            &state,
            caller.name(),
            "silence",
            Some(silence.id.clone()),
            1,
        );
        Ok(json(serde_json::json!({ "id": silence.id })))
    }
    .await;
    finish("POST /admin/v1/silences", answer)
}

async fn expire_silence(
    State(state): State<AlertAdmin>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let answer = async {
        let caller = authorize(&state.tokens, &headers, Scope::SilencesWrite)?;
        let now = now_ms();
        state
            .alerting
            .engine()
            .expire_silence(&id, now)
            .map_err(|_| AdminProblem::NotFound("silence"))?;
        let history = Arc::clone(&state.alerting.history);
        let stored_id = id.clone();
        blocking(move || {
            history
                .expire_silence(&stored_id, now)
                .map_err(|e| e.to_string())
        })
        .await?;
        state.alerting.wake.notify_one();
        admin_action(&state, caller.name(), "expire_silence", Some(id), 1);
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    finish("DELETE /admin/v1/silences/{id}", answer)
}

fn monitors(state: &AlertAdmin) -> Result<bulwark_monitor::Monitors, AdminProblem> {
    state
        .alerting
        .monitors
        .clone()
        .ok_or(AdminProblem::NotConfigured("at least one [[monitors]]"))
}

async fn list_incidents(State(state): State<AlertAdmin>, headers: HeaderMap) -> Response {
    let answer = async {
        authorize(&state.tokens, &headers, Scope::Read)?;
        let monitors = monitors(&state)?;
        let since = now_ms() - 90 * DAY_MS;
        let list = blocking(move || {
            monitors
                .history()
                .incidents(since)
                .map_err(|e| e.to_string())
        })
        .await?;
        Ok(json(serde_json::to_value(list).unwrap_or_default()))
    }
    .await;
    finish("GET /admin/v1/incidents", answer)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentBody {
    title: String,
    /// none, minor, major, critical.
    #[serde(default = "minor")]
    impact: String,
    message: String,
    monitor: Option<String>,
}

fn minor() -> String {
    "minor".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    /// investigating, identified, monitoring, resolved.
    status: String,
    message: String,
}

fn bounded_len(field: &str, text: &str, max: usize) -> Result<(), AdminProblem> {
    if text.len() > max {
        return Err(AdminProblem::BadBody(format!(
            "{field} must have at most {max} bytes"
        )));
    }
    Ok(())
}

fn bounded(field: &str, text: &str, max: usize) -> Result<(), AdminProblem> {
    if text.trim().is_empty() || text.len() > max {
        return Err(AdminProblem::BadBody(format!(
            "{field} must have 1 to {max} bytes"
        )));
    }
    Ok(())
}

async fn open_incident(
    State(state): State<AlertAdmin>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let caller = authorize(&state.tokens, &headers, Scope::IncidentsWrite)?;
        let monitors = monitors(&state)?;
        let body: IncidentBody = serde_json::from_slice(&body)
            .map_err(|e| AdminProblem::BadBody(format!("expected an incident: {e}")))?;
        bounded("title", &body.title, 200)?;
        bounded("message", &body.message, 4000)?;
        let impact = Impact::parse(&body.impact).ok_or_else(|| {
            AdminProblem::BadBody("impact is none, minor, major or critical".into())
        })?;
        // A typo would store an incident no page ever shows.
        if let Some(name) = &body.monitor
            && (name.len() > 64 || monitors.status(name).is_none())
        {
            return Err(AdminProblem::BadBody(format!("no monitor named {name:?}")));
        }
        let now = now_ms();
        let incident = blocking(move || {
            monitors
                .history()
                .open_incident(
                    &body.title,
                    impact,
                    body.monitor.as_deref(),
                    &body.message,
                    now,
                )
                .map_err(|e| e.to_string())
        })
        .await?;
        admin_action(
            &state,
            caller.name(),
            "open_incident",
            Some(incident.id.to_string()),
            1,
        );
        Ok(json(serde_json::to_value(incident).unwrap_or_default()))
    }
    .await;
    finish("POST /admin/v1/incidents", answer)
}

async fn update_incident(
    State(state): State<AlertAdmin>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let answer = async {
        let caller = authorize(&state.tokens, &headers, Scope::IncidentsWrite)?;
        let monitors = monitors(&state)?;
        let id: i64 = id.parse().map_err(|_| AdminProblem::NotFound("incident"))?;
        let body: UpdateBody = serde_json::from_slice(&body)
            .map_err(|e| AdminProblem::BadBody(format!("expected an update: {e}")))?;
        bounded("message", &body.message, 4000)?;
        let status = IncidentStatus::parse(&body.status).ok_or_else(|| {
            AdminProblem::BadBody(
                "status is investigating, identified, monitoring or resolved".into(),
            )
        })?;
        let now = now_ms();
        let result = tokio::task::spawn_blocking(move || {
            monitors
                .history()
                .add_update(id, status, &body.message, now)
        })
        .await;
        let incident = match result {
            Ok(Ok(incident)) => incident,
            Ok(Err(bulwark_monitor::HistoryError::UnknownIncident(_))) => {
                return Err(AdminProblem::NotFound("incident"));
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "Admin API: the monitor history failed.");
                return Err(AdminProblem::StoreUnavailable);
            }
            Err(error) => {
                tracing::error!(%error, "Admin API: a history task failed.");
                return Err(AdminProblem::StoreUnavailable);
            }
        };
        admin_action(
            &state,
            caller.name(),
            "update_incident",
            Some(id.to_string()),
            1,
        );
        Ok(json(serde_json::to_value(incident).unwrap_or_default()))
    }
    .await;
    finish("POST /admin/v1/incidents/{id}/updates", answer)
}
