//! RFC 9457 problem responses of the admin API. They never echo the request's token, and
//! never show store internals (those are logged).

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bulwark_config::admin::Scope;

/// An error answer of the admin API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminProblem {
    /// No `Authorization: Bearer` header, or a malformed one.
    MissingToken,
    /// A bearer token that matches no configured admin token.
    InvalidToken,
    /// A known token without the scope this endpoint needs.
    MissingScope(Scope),
    /// The path's id is not a message id.
    BadMessageId,
    /// The query string could not be read; the detail says why.
    BadQuery(String),
    MessageNotFound,
    /// The message exists but is not in the dead-letter queue.
    NotDead,
    /// The destination to resume is not paused.
    NotPaused,
    /// The store could not answer now.
    StoreUnavailable,
    /// The request body could not be used; the detail says which field and why.
    BadBody(String),
    /// No such thing (alert silence, incident, ...); names what was looked for.
    NotFound(&'static str),
    /// The feature behind this endpoint is not configured; names what to configure.
    NotConfigured(&'static str),
}

/// The name a scope has in the config and in answers.
pub fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Read => "read",
        Scope::Replay => "replay",
        Scope::Purge => "purge",
        Scope::AlertsWrite => "alerts:write",
        Scope::SilencesWrite => "silences:write",
        Scope::IncidentsWrite => "incidents:write",
    }
}

impl AdminProblem {
    pub fn status(&self) -> StatusCode {
        match self {
            AdminProblem::MissingToken | AdminProblem::InvalidToken => StatusCode::UNAUTHORIZED,
            AdminProblem::MissingScope(_) => StatusCode::FORBIDDEN,
            AdminProblem::BadMessageId | AdminProblem::BadQuery(_) | AdminProblem::BadBody(_) => {
                StatusCode::BAD_REQUEST
            }
            AdminProblem::MessageNotFound
            | AdminProblem::NotPaused
            | AdminProblem::NotFound(_)
            | AdminProblem::NotConfigured(_) => StatusCode::NOT_FOUND,
            AdminProblem::NotDead => StatusCode::CONFLICT,
            AdminProblem::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn slug_and_detail(&self) -> (&'static str, String) {
        match self {
            AdminProblem::MissingToken => (
                "admin-token-missing",
                "Send an admin token as `Authorization: Bearer <token>`.".into(),
            ),
            AdminProblem::InvalidToken => (
                "admin-token-invalid",
                "The bearer token is not a configured admin token.".into(),
            ),
            AdminProblem::MissingScope(scope) => (
                "admin-scope-missing",
                format!(
                    "This admin token lacks the `{}` scope this endpoint needs.",
                    scope_name(*scope)
                ),
            ),
            AdminProblem::BadMessageId => (
                "bad-message-id",
                "The message id must be a UUID, as shown in the dead-letter list.".into(),
            ),
            AdminProblem::BadQuery(why) => ("bad-query", format!("Invalid query string: {why}")),
            AdminProblem::MessageNotFound => {
                ("message-not-found", "No message has this id.".into())
            }
            AdminProblem::NotDead => (
                "message-not-dead",
                "The message is not in the dead-letter queue (it is pending, in delivery, delivered or paused).".into(),
            ),
            AdminProblem::NotPaused => (
                "destination-not-paused",
                "No destination of this name is paused.".into(),
            ),
            AdminProblem::StoreUnavailable => (
                "store-unavailable",
                "The message store is unavailable; retry later.".into(),
            ),
            AdminProblem::BadBody(why) => ("bad-body", format!("Invalid request body: {why}")),
            AdminProblem::NotFound(what) => ("not-found", format!("No {what} has this id.")),
            AdminProblem::NotConfigured(what) => (
                "not-configured",
                format!("This endpoint needs {what} in the config."),
            ),
        }
    }

    /// The JSON body: `type`, `title`, `status`, `detail`.
    pub fn body(&self) -> serde_json::Value {
        let (slug, detail) = self.slug_and_detail();
        let status = self.status();
        serde_json::json!({
            "type": format!("https://bulwark.dev/problems/{slug}"),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        })
    }
}

impl IntoResponse for AdminProblem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).expect("a json! value always serialises");
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        // RFC 6750 section 3.
        let challenge = match &self {
            AdminProblem::MissingToken => Some(HeaderValue::from_static("Bearer")),
            AdminProblem::InvalidToken => {
                Some(HeaderValue::from_static("Bearer error=\"invalid_token\""))
            }
            AdminProblem::MissingScope(scope) => HeaderValue::from_str(&format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\"",
                scope_name(*scope)
            ))
            .ok(),
            _ => None,
        };
        if let Some(challenge) = challenge {
            headers.insert(WWW_AUTHENTICATE, challenge);
        }
        if self == AdminProblem::StoreUnavailable {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_unavailable_is_503_with_retry_after() {
        let response = AdminProblem::StoreUnavailable.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "5");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
        assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
        let body = AdminProblem::StoreUnavailable.body();
        assert_eq!(body["status"], 503);
        assert_eq!(
            body["type"],
            "https://bulwark.dev/problems/store-unavailable"
        );
        assert_eq!(body["title"], "Service Unavailable");
    }

    #[test]
    fn auth_problems_challenge() {
        let r = AdminProblem::MissingToken.into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer");
        let r = AdminProblem::InvalidToken.into_response();
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
        let r = AdminProblem::MissingScope(Scope::Purge).into_response();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            "Bearer error=\"insufficient_scope\", scope=\"purge\""
        );
    }
}
