//! The admin API for the dead-letter queue, served on the ops listener under `/admin/v1`.
//!
//! | method and path                              | scope    | answer                          |
//! |----------------------------------------------|----------|---------------------------------|
//! | `GET /admin/v1/dead-letters`                 | `read`   | 200, JSON array of dead letters |
//! | `GET /admin/v1/messages/{id}`                | `read`   | 200 / 404                       |
//! | `POST /admin/v1/messages/{id}/replay`        | `replay` | 200 / 404 / 409 (not dead)      |
//! | `DELETE /admin/v1/messages/{id}`             | `purge`  | 204 / 404 / 409 (not dead)      |
//! | `POST /admin/v1/dead-letters/purge`          | `purge`  | 200 `{"purged": n}`             |
//! | `GET /admin/v1/destinations/paused`          | `read`   | 200, destinations paused by 410 |
//! | `POST /admin/v1/destinations/{name}/resume`  | `replay` | 200 / 404 (not paused)          |
//!
//! The list and the bulk purge take `destination`, `since_ms`, `until_ms` (when the message
//! died: at or after `since_ms`, before `until_ms`); the list also takes `limit` (1 to
//! [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]). Unknown query parameters are refused, so a
//! misspelt filter never widens a purge.
//!
//! Every request needs `Authorization: Bearer <token>` with a configured admin token
//! ([`auth`]). Errors are RFC 9457 problems ([`problem`]). Message bodies and headers are
//! never shown: headers may carry provider credentials; the body's size is shown instead.
//! Every answer is `Cache-Control: no-store` and counted in
//! [`events::ADMIN_REQUESTS_TOTAL`].

pub mod auth;
pub mod events;
mod handlers;
pub mod problem;

use axum::Router;
use axum::routing::{get, post};
use bulwark_config::admin::AdminToken;
use bulwark_queue::store::SqliteStore;

/// Dead letters listed when the request gives no `limit`.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest `limit` accepted.
pub const MAX_LIMIT: u32 = 1000;

/// Route templates; also the `endpoint` label of the request counter (with the method).
pub const DEAD_LETTERS: &str = "/admin/v1/dead-letters";
pub const DEAD_LETTERS_PURGE: &str = "/admin/v1/dead-letters/purge";
pub const MESSAGE: &str = "/admin/v1/messages/{id}";
pub const MESSAGE_REPLAY: &str = "/admin/v1/messages/{id}/replay";
pub const PAUSED: &str = "/admin/v1/destinations/paused";
pub const RESUME: &str = "/admin/v1/destinations/{name}/resume";

/// What the admin routes need: the store and the configured tokens (validated by
/// `bulwark-config`: unique, at least 32 bytes, at least one scope).
#[derive(Clone)]
pub struct AdminState {
    pub store: SqliteStore,
    pub tokens: Vec<AdminToken>,
    /// Wakes the dispatcher after a replay or a resume, so delivery starts now rather
    /// than at its next idle check.
    pub waker: Option<std::sync::Arc<tokio::sync::Notify>>,
    /// Admin actions go on the bus, and from there into the audit log.
    pub bus: Option<bulwark_events::Bus>,
}

impl AdminState {
    /// After a replay or a resume: deliver now, not at the dispatcher's next idle check.
    fn wake_dispatcher(&self) {
        if let Some(waker) = &self.waker {
            waker.notify_one();
        }
    }
}

/// The admin API's routes, to be merged into the ops router.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route(DEAD_LETTERS, get(handlers::list_dead))
        .route(DEAD_LETTERS_PURGE, post(handlers::purge_matching))
        .route(
            MESSAGE,
            get(handlers::show_message).delete(handlers::purge_message),
        )
        .route(MESSAGE_REPLAY, post(handlers::replay_message))
        .route(PAUSED, get(handlers::list_paused))
        .route(RESUME, post(handlers::resume_destination))
        .with_state(state)
}
