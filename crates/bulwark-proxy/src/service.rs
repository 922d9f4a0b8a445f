//! One request through the public listener: request id, forwarded headers, route
//! match, the route's action, then the access log (written when the body ends).
//!
//! Policies (limits, auth, signatures) will slot in between the route match and the
//! action, in the order DESIGN.md fixes; today a route goes straight to its action.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;

use crate::events::RequestLog;
use crate::forwarded::{X_REQUEST_ID, incoming_request_id, set_forwarded};
use crate::problem::Problem;
use crate::proxy::{self, ResponseBody};
use crate::router::{self, request_host};
use crate::state::{ProxyState, RouteAction, SharedState};

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
    let host = request_host(&request).map(str::to_ascii_lowercase);
    let client_ip = set_forwarded(
        request.headers_mut(),
        conn.peer.ip(),
        &state.trusted_proxies,
        conn.scheme,
        host.as_deref(),
    );
    request
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), request_id.clone());

    let matched = router::find(
        state.routes.iter().map(|r| &r.matcher),
        host.as_deref(),
        request.uri().path(),
        request.method(),
    )
    .map(|i| &state.routes[i]);
    let mut log = RequestLog {
        start,
        request_id: request_id.clone(),
        route: matched.map_or_else(|| state.unmatched.clone(), |r| r.metrics.clone()),
        method: request.method().clone(),
        path: request.uri().path().to_string(),
        client_ip,
        status: http::StatusCode::OK,
        upstream: None,
        bytes: 0,
        access_log: state.access_log.clone(),
    };

    let result = match matched.map(|r| &r.action) {
        None => Err(Problem::NoRoute),
        Some(RouteAction::Proxy {
            upstream,
            strip_prefix,
        }) => {
            let forwarded =
                proxy::forward(upstream, strip_prefix.as_deref(), request, &state.bus).await;
            log.upstream = forwarded.target;
            forwarded.response
        }
    };
    let mut response = result.unwrap_or_else(|problem| problem.response(request_id.to_str().ok()));
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
