//! The ops listener's routes: `/health/live` `/livez`, `/health/ready` `/readyz`,
//! `/health`, `/version`, `/metrics`. Meant for 127.0.0.1: failure reasons are shown here
//! and nowhere else. The binary merges the admin API into the same router.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::health::Health;
use crate::health::report::{self, ReadyQuery, Rendered};
use crate::version::VersionInfo;

/// Prometheus text exposition format 0.0.4.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
pub struct OpsState {
    pub health: Health,
    pub metrics: PrometheusHandle,
    pub version: VersionInfo,
}

pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/livez", get(live))
        .route("/health/ready", get(ready))
        .route("/readyz", get(ready))
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn live() -> Response {
    respond(report::liveness())
}

async fn ready(State(state): State<OpsState>, RawQuery(query): RawQuery) -> Response {
    let query = ReadyQuery::parse(query.as_deref());
    respond(report::readiness(&state.health.snapshot(), &query))
}

async fn health(State(state): State<OpsState>) -> Response {
    respond(report::health(&state.health.snapshot(), &state.version))
}

async fn version(State(state): State<OpsState>) -> Json<VersionInfo> {
    Json(state.version)
}

async fn metrics(State(state): State<OpsState>) -> Response {
    crate::metrics::record_process_metrics();
    (
        [(CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS_TEXT))],
        state.metrics.render(),
    )
        .into_response()
}

fn respond(rendered: Rendered) -> Response {
    let status = StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static(rendered.content_type),
            ),
            // Health is a reading of now; a cached answer is a wrong one.
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        rendered.body,
    )
        .into_response()
}
