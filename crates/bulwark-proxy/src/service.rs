//! One request through the public listener: request id, hop-by-hop headers, the
//! request target checked (Host, dot segments), forwarded headers, route match, the
//! route's action, then the access log (written when the body ends).
//!
//! The route's policies (limits, authentication, roles; [`crate::policy`]) run between
//! the route match and the action.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bulwark_events::{BusEvent, ViolationKind};
use http::{HeaderValue, Request, Response, Version, header};
use hyper::body::Incoming;

use crate::events::{Rejection, RequestLog};
use crate::forwarded::{
    X_REQUEST_ID, incoming_request_id, is_websocket_upgrade, remove_hop_by_hop, set_forwarded,
};
use crate::problem::Problem;
use crate::proxy::{self, ResponseBody};
use crate::router::{self, request_host};
use crate::state::{ProxyState, RouteAction, SharedState};
use crate::target::{has_dot_segments, normalize_host};

/// Facts about the client connection a request arrived on.
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub scheme: &'static str,
}

pub async fn handle(
    shared: SharedState,
    conn: ConnInfo,
    mut request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let start = Instant::now();
    let state: Arc<ProxyState> = shared.load_full();
    let request_id = incoming_request_id(request.headers()).unwrap_or_else(new_request_id);

    // Hop-by-hop headers go first, before bulwark adds its own: a client must not be
    // able to name `X-Forwarded-For` or `X-Request-Id` in `Connection` and have bulwark
    // strip what it just set.
    let upgrade = request.version() == Version::HTTP_11 && is_websocket_upgrade(request.headers());
    remove_hop_by_hop(request.headers_mut(), upgrade);
    // Only bulwark says who the caller is.
    crate::policy::strip_identity_headers(request.headers_mut());
    let target_problem = normalize_host(&mut request)
        .err()
        .or_else(|| has_dot_segments(request.uri().path()).then_some(Problem::BadPath));
    // A cheap clone (shared bytes), so the value can be read while headers change.
    let host_with_port = request.headers().get(header::HOST).cloned();
    let host = request_host(&request).map(str::to_ascii_lowercase);
    let client_ip = set_forwarded(
        request.headers_mut(),
        conn.peer.ip(),
        &state.trusted_proxies,
        conn.scheme,
        host_with_port.as_ref().and_then(|v| v.to_str().ok()),
    );
    request
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), request_id.clone());

    let matched = match target_problem {
        Some(_) => None,
        None => router::find(
            state.routes.iter().map(|r| &r.matcher),
            host.as_deref(),
            request.uri().path(),
            request.method(),
        )
        .map(|i| &state.routes[i]),
    };
    let mut log = RequestLog {
        start,
        request_id: request_id.clone(),
        route: matched.map_or_else(|| state.unmatched.clone(), |r| r.metrics.clone()),
        method: request.method().clone(),
        uri: request.uri().clone(),
        client_ip,
        status: http::StatusCode::OK,
        upstream: None,
        bytes: 0,
        access_log: state.access_log.clone(),
    };

    let mut refusal_headers = Vec::new();
    let policy = match (target_problem, matched.and_then(|r| r.policy.as_ref())) {
        (None, Some(policy)) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            policy
                .apply(&mut request, client_ip, &state.limiters, &state.bus, now)
                .await
        }
        _ => Ok(()),
    };
    let result = match (target_problem, matched.map(|r| &r.action)) {
        (None, Some(_)) if policy.is_err() => {
            let refusal = policy.expect_err("checked by the guard");
            refusal_headers = refusal.headers;
            Err(refusal.problem)
        }
        (Some(problem), _) => {
            Rejection::MalformedRequest.record();
            state.bus.publish(BusEvent::SecurityViolation {
                kind: ViolationKind::MalformedRequest,
                client_ip: client_ip.to_string(),
            });
            Err(problem)
        }
        (None, None) => Err(Problem::NoRoute),
        (None, Some(RouteAction::Inbox(inbox))) => {
            crate::inbox::receive(inbox, request, client_ip, &state.bus).await
        }
        (
            None,
            Some(RouteAction::Proxy {
                upstream,
                strip_prefix,
            }),
        ) => {
            let forwarded = proxy::forward(
                upstream,
                strip_prefix.as_deref(),
                request,
                upgrade,
                state.timeouts.idle,
                &state.bus,
            )
            .await;
            log.upstream = forwarded.target;
            forwarded.response
        }
    };
    let mut response = result.unwrap_or_else(|problem| problem.response(request_id.to_str().ok()));
    for (name, value) in refusal_headers {
        response.headers_mut().insert(name, value);
    }
    response
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), request_id);
    log.status = response.status();
    Ok(response.map(|body| body.with_log(log)))
}

/// A process-unique id: a random-enough prefix per process and a counter, so making one
/// costs an increment rather than a random number per request.
fn new_request_id() -> HeaderValue {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mixed = nanos ^ (u64::from(std::process::id()) << 32);
        format!("{mixed:016x}")
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    HeaderValue::from_str(&format!("{prefix}-{n:x}"))
        .expect("hex digits and '-' are valid header bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_in_a_process() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        let prefix = |v: &HeaderValue| v.to_str().unwrap().split('-').next().unwrap().to_string();
        assert_eq!(prefix(&a), prefix(&b));
    }
}
