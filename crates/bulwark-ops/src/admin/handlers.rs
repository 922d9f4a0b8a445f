//! The admin route handlers. Each authorizes first (nothing is read or parsed for an
//! unauthenticated caller), then asks the store, and answers through [`finish`], which
//! counts the request and marks the answer uncacheable.

use bulwark_events::time::now_ms;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use bulwark_config::admin::Scope;
use bulwark_queue::store::{
    DeadFilter, DeadLetters, Message, MessageId, MessageState, Pauses, ReplayOutcome, StoreError,
};
use serde::{Deserialize, Serialize};

use super::auth::authorize;
use super::events::{AdminRequest, DeadLettersChanged, DestinationResumed};
use super::problem::AdminProblem;
use super::{AdminState, DEFAULT_LIMIT, MAX_LIMIT};

const LIST_DEAD: &str = "GET /admin/v1/dead-letters";
const PURGE_MATCHING: &str = "POST /admin/v1/dead-letters/purge";
const SHOW_MESSAGE: &str = "GET /admin/v1/messages/{id}";
const PURGE_MESSAGE: &str = "DELETE /admin/v1/messages/{id}";
const REPLAY_MESSAGE: &str = "POST /admin/v1/messages/{id}/replay";
const LIST_PAUSED: &str = "GET /admin/v1/destinations/paused";
const RESUME_DESTINATION: &str = "POST /admin/v1/destinations/{name}/resume";

type AdminResult = Result<Response, AdminProblem>;

/// A message as the admin API shows it: never its body or headers.
#[derive(Debug, Serialize)]
struct MessageView {
    id: String,
    destination: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    attempts: u32,
    created_at_ms: i64,
    updated_at_ms: i64,
    last_error: Option<String>,
    event_id: Option<String>,
    body_bytes: usize,
}

impl MessageView {
    fn new(m: Message, with_state: bool) -> Self {
        MessageView {
            id: m.id.to_string(),
            destination: m.destination,
            state: with_state.then_some(state_name(m.state)),
            attempts: m.attempts,
            created_at_ms: m.created_at_ms,
            updated_at_ms: m.updated_at_ms,
            last_error: m.last_error,
            event_id: m.event_id,
            body_bytes: m.body.len(),
        }
    }
}

fn state_name(state: MessageState) -> &'static str {
    match state {
        MessageState::Pending => "pending",
        MessageState::Leased => "leased",
        MessageState::Delivered => "delivered",
        MessageState::Dead => "dead",
        MessageState::Paused => "paused",
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    destination: Option<String>,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilterQuery {
    destination: Option<String>,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
}

fn filter(destination: Option<String>, since_ms: Option<i64>, until_ms: Option<i64>) -> DeadFilter {
    DeadFilter {
        destination: destination.filter(|d| !d.is_empty()),
        since_ms,
        until_ms,
    }
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, AdminProblem> {
    query
        .map(|Query(q)| q)
        .map_err(|e| AdminProblem::BadQuery(e.body_text()))
}

fn message_id(path: Result<Path<String>, PathRejection>) -> Result<MessageId, AdminProblem> {
    let Path(raw) = path.map_err(|_| AdminProblem::BadMessageId)?;
    raw.parse().map_err(|_| AdminProblem::BadMessageId)
}

fn store_error(operation: &'static str) -> impl FnOnce(StoreError) -> AdminProblem {
    move |error| {
        tracing::warn!(operation, error = %error, "Admin API: the store failed.");
        AdminProblem::StoreUnavailable
    }
}

/// Counts the answer and forbids caching it.
fn finish(endpoint: &'static str, result: AdminResult) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    AdminRequest {
        endpoint,
        status: response.status().as_u16(),
    }
    .emit();
    response
}

pub(super) async fn list_dead(
    State(state): State<AdminState>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let result = async {
        authorize(&state.tokens, &headers, Scope::Read)?;
        let q = query(q)?;
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(AdminProblem::BadQuery(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let dead = state
            .store
            .list_dead(filter(q.destination, q.since_ms, q.until_ms), limit)
            .await
            .map_err(store_error("list dead letters"))?;
        let views: Vec<MessageView> = dead
            .into_iter()
            .map(|m| MessageView::new(m, false))
            .collect();
        Ok(Json(views).into_response())
    }
    .await;
    finish(LIST_DEAD, result)
}

pub(super) async fn show_message(
    State(state): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        authorize(&state.tokens, &headers, Scope::Read)?;
        let id = message_id(path)?;
        let message = state
            .store
            .get(id)
            .await
            .map_err(store_error("get a message"))?
            .ok_or(AdminProblem::MessageNotFound)?;
        Ok(Json(MessageView::new(message, true)).into_response())
    }
    .await;
    finish(SHOW_MESSAGE, result)
}

pub(super) async fn replay_message(
    State(state): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let caller = authorize(&state.tokens, &headers, Scope::Replay)?;
        let id = message_id(path)?;
        match state
            .store
            .replay(id, now_ms())
            .await
            .map_err(store_error("replay a dead letter"))?
        {
            ReplayOutcome::Replayed => {
                state.wake_dispatcher();
                DeadLettersChanged {
                    token: caller.name(),
                    action: "replay",
                    id: Some(id.to_string()),
                    count: 1,
                }
                .emit(state.bus.as_ref());
                Ok(Json(serde_json::json!({ "status": "replayed" })).into_response())
            }
            ReplayOutcome::NotFound => Err(AdminProblem::MessageNotFound),
            ReplayOutcome::NotDead => Err(AdminProblem::NotDead),
        }
    }
    .await;
    finish(REPLAY_MESSAGE, result)
}

pub(super) async fn purge_message(
    State(state): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let caller = authorize(&state.tokens, &headers, Scope::Purge)?;
        let id = message_id(path)?;
        if state
            .store
            .purge(id)
            .await
            .map_err(store_error("purge a dead letter"))?
        {
            DeadLettersChanged {
                token: caller.name(),
                action: "purge",
                id: Some(id.to_string()),
                count: 1,
            }
            .emit(state.bus.as_ref());
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        // Nothing purged: say whether the message is missing or just not dead.
        match state
            .store
            .get(id)
            .await
            .map_err(store_error("get a message"))?
        {
            Some(_) => Err(AdminProblem::NotDead),
            None => Err(AdminProblem::MessageNotFound),
        }
    }
    .await;
    finish(PURGE_MESSAGE, result)
}

pub(super) async fn purge_matching(
    State(state): State<AdminState>,
    headers: HeaderMap,
    q: Result<Query<FilterQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let caller = authorize(&state.tokens, &headers, Scope::Purge)?;
        let q = query(q)?;
        let purged = state
            .store
            .purge_matching(filter(q.destination, q.since_ms, q.until_ms))
            .await
            .map_err(store_error("purge dead letters"))?;
        DeadLettersChanged {
            token: caller.name(),
            action: "purge_matching",
            id: None,
            count: purged,
        }
        .emit(state.bus.as_ref());
        Ok(Json(serde_json::json!({ "purged": purged })).into_response())
    }
    .await;
    finish(PURGE_MATCHING, result)
}

pub(super) async fn list_paused(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let result = async {
        authorize(&state.tokens, &headers, Scope::Read)?;
        let paused = state
            .store
            .paused()
            .await
            .map_err(store_error("list paused destinations"))?;
        let views: Vec<serde_json::Value> = paused
            .into_iter()
            .map(|p| {
                serde_json::json!({
                    "destination": p.destination,
                    "since_ms": p.since_ms,
                    "reason": p.reason,
                })
            })
            .collect();
        Ok(Json(views).into_response())
    }
    .await;
    finish(LIST_PAUSED, result)
}

pub(super) async fn resume_destination(
    State(state): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        // Resuming starts deliveries again, like a replay.
        let caller = authorize(&state.tokens, &headers, Scope::Replay)?;
        let Path(name) = path.map_err(|_| AdminProblem::NotPaused)?;
        if !state
            .store
            .resume(&name)
            .await
            .map_err(store_error("resume a destination"))?
        {
            return Err(AdminProblem::NotPaused);
        }
        state.wake_dispatcher();
        DestinationResumed {
            token: caller.name(),
            destination: &name,
        }
        .emit(state.bus.as_ref());
        Ok(Json(serde_json::json!({ "status": "resumed" })).into_response())
    }
    .await;
    finish(RESUME_DESTINATION, result)
}
