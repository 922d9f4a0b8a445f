//! One request through the public listener: request id, message framing and hop-by-hop
//! headers, the request target checked and normalised (Host, path), forwarded headers,
//! route match, the route's policies, the route's action, security headers on the
//! response, then the access log (written when the body ends).
//!
//! The policy stages run in the order DESIGN.md fixes, cheapest first:
//! 1. limits and headers: the route's request checks on the head
//!    ([`crate::policy::request`]): header fields (431), encoded slashes, declared body
//!    size (413), content type (415) — no body read, no shared state;
//! 2. per-IP limit, authentication, roles, per-user/key/plan limit ([`crate::policy`]);
//! 3. screening and the body checks (JSON buffered and parsed), only for callers that
//!    passed everything above, so anonymous floods cost no parsing;
//! 4. the action.

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bulwark_config::routes::ScreeningMode;
use bulwark_events::{Bus, BusEvent, ViolationKind};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Version, header};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::events::{Rejection, RequestLog};
use crate::forwarded::{
    X_REQUEST_ID, incoming_request_id, is_websocket_upgrade, remove_hop_by_hop, set_forwarded,
};
use crate::policy::request::body::RequestBody;
use crate::policy::request::json::JsonError;
use crate::policy::request::{
    HeadFacts, RequestPolicy, ambiguous_framing, events as checks, json, screening,
};
use crate::problem::Problem;
use crate::proxy::{self, ResponseBody};
use crate::router::{self, RouteMatch, request_host};
use crate::state::{ProxyState, RouteAction, SharedState};
use crate::target::{PathError, normalize_host, normalize_path, with_path};

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

    // Taken before any header changes: header limits count what the client sent, and
    // `Transfer-Encoding` goes with the hop-by-hop headers below.
    let facts = HeadFacts::of(request.headers(), !request.body().is_end_stream());
    let framing_problem = ambiguous_framing(request.headers()).then_some(Problem::MalformedRequest);
    // Hop-by-hop headers go first, before bulwark adds its own: a client must not be
    // able to name `X-Forwarded-For` or `X-Request-Id` in `Connection` and have bulwark
    // strip what it just set.
    let upgrade = request.version() == Version::HTTP_11 && is_websocket_upgrade(request.headers());
    remove_hop_by_hop(request.headers_mut(), upgrade);
    // Only bulwark says who the caller is.
    crate::policy::strip_identity_headers(request.headers_mut());
    // The path is normalised before routing, and the upstream gets the normalised path:
    // bulwark routes on exactly what the app will see.
    let mut encoded_slash = false;
    let target_problem = framing_problem
        .or_else(|| normalize_host(&mut request).err())
        .or_else(|| match normalize_request_path(&mut request) {
            Ok(found) => {
                encoded_slash = found;
                None
            }
            Err(problem) => Some(problem),
        });
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

    let route_match = match target_problem {
        Some(_) => RouteMatch::NotFound,
        None => router::find(
            state.routes.iter().map(|r| &r.matcher),
            host.as_deref(),
            request.uri().path(),
            request.method(),
        ),
    };
    let matched = route_match.found().map(|i| &state.routes[i]);
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
    let result = 'outcome: {
        if let Some(problem) = target_problem {
            Rejection::MalformedRequest.record();
            state.bus.publish(BusEvent::SecurityViolation {
                kind: ViolationKind::MalformedRequest,
                client_ip: client_ip.to_string(),
            });
            break 'outcome Err(problem);
        }
        if let Some(pages) = &state.pages
            && (request.method() == Method::GET || request.method() == Method::HEAD)
            && let Some(page) = pages.page(request.uri().path())
        {
            break 'outcome Ok(crate::pages::respond(request.method(), page));
        }
        let route = match (&route_match, matched) {
            (_, Some(route)) => route,
            (RouteMatch::MethodNotAllowed { first, allow }, None) => {
                checks::refused(
                    &state.routes[*first].metrics.name,
                    "method_not_allowed",
                    client_ip,
                );
                refusal_headers.push((header::ALLOW, allow_value(allow)));
                break 'outcome Err(Problem::MethodNotAllowed);
            }
            _ => break 'outcome Err(Problem::NoRoute),
        };
        // Stage 1, limits and headers: the head only, before any shared state is used.
        if let Some(rules) = &route.request
            && let Err((problem, reason)) =
                rules.check_head(request.headers(), &facts, encoded_slash)
        {
            checks::refused(&rules.route, reason, client_ip);
            break 'outcome Err(problem);
        }
        // Stage 2: per-IP limit, authentication, roles, per-user limit.
        if let Some(policy) = &route.policy {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            if let Err(refusal) = policy
                .apply(&mut request, client_ip, &state.limiters, &state.bus, now)
                .await
            {
                refusal_headers = refusal.headers;
                break 'outcome Err(refusal.problem);
            }
        }
        match &route.action {
            RouteAction::Inbox(inbox) => {
                crate::inbox::receive(inbox, request, client_ip, &state.bus).await
            }
            RouteAction::Proxy {
                upstream,
                strip_prefix,
            } => {
                // Stage 3: screening and the body, for callers that passed the rest.
                let request = match &route.request {
                    Some(rules) => {
                        let checked = prepare_body(
                            rules,
                            request,
                            &facts,
                            client_ip,
                            &state.bus,
                            upstream.timeout,
                        )
                        .await;
                        match checked {
                            Ok(request) => request,
                            Err(problem) => break 'outcome Err(problem),
                        }
                    }
                    None => request.map(|body| RequestBody::streamed(body, None, None)),
                };
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
                if let (Err(Problem::BodyTooLarge), Some(rules)) =
                    (&forwarded.response, &route.request)
                {
                    checks::refused(&rules.route, "body_too_large", client_ip);
                }
                forwarded.response
            }
        }
    };
    let mut response = result.unwrap_or_else(|problem| {
        let mut response: Response<ResponseBody> = problem.response(request_id.to_str().ok());
        // After broken framing the rest of the connection's bytes cannot be trusted to
        // start a request: answer, then close (RFC 9112 §6.3).
        if matches!(problem, Problem::MalformedRequest | Problem::BadRequestBody) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    });
    for (name, value) in refusal_headers {
        response.headers_mut().insert(name, value);
    }
    if let Some(rules) = matched.and_then(|r| r.request.as_ref()) {
        rules
            .security_headers
            .apply(response.headers_mut(), conn.scheme == "https");
    }
    response
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), request_id);
    log.status = response.status();
    Ok(response.map(|body| body.with_log(log)))
}

/// Normalises the path in place; true when it has an encoded slash (allowed or not per
/// route, decided after routing).
fn normalize_request_path<B>(request: &mut Request<B>) -> Result<bool, Problem> {
    let normalized = normalize_path(request.uri().path()).map_err(|e| match e {
        PathError::DotSegment => Problem::BadPath,
        PathError::BadEncoding => Problem::BadPathEncoding,
    })?;
    let encoded_slash = normalized.encoded_slash;
    if let Cow::Owned(path) = normalized.path {
        *request.uri_mut() = with_path(request.uri(), &path).ok_or(Problem::BadPath)?;
    }
    Ok(encoded_slash)
}

fn allow_value(methods: &[Method]) -> HeaderValue {
    let list: Vec<&str> = methods.iter().map(Method::as_str).collect();
    HeaderValue::from_str(&list.join(", ")).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Screening of the query, then the body: JSON routes buffer it (bounded by the route's
/// limits and `read_timeout`) and check it; other routes stream it under
/// `max_body_bytes`, after reading the first chunk of a chunked body so broken chunking
/// is refused before the upstream is contacted.
async fn prepare_body(
    rules: &RequestPolicy,
    request: Request<Incoming>,
    facts: &HeadFacts,
    client_ip: IpAddr,
    bus: &Bus,
    read_timeout: Duration,
) -> Result<Request<RequestBody>, Problem> {
    let (parts, mut body) = request.into_parts();
    let route = &*rules.route;
    let limits = &rules.rules;
    if let (Some(mode), Some(query)) = (limits.screening, parts.uri.query())
        && let Some(finding) = screening::screen_query(query)
    {
        checks::screened(route, mode, finding, client_ip, bus);
        if mode == ScreeningMode::Block {
            return Err(Problem::ScreeningBlocked);
        }
    }
    if let (Some(json_checks), true) = (limits.json, facts.has_body) {
        let body_limit_first = limits
            .max_body_bytes
            .is_some_and(|max| max < json_checks.max_bytes);
        let limit = limits
            .max_body_bytes
            .map_or(json_checks.max_bytes, |max| max.min(json_checks.max_bytes));
        let read = http_body_util::Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        let bytes = match tokio::time::timeout(read_timeout, read).await {
            Err(_) => {
                checks::refused(route, "request_body_timeout", client_ip);
                return Err(Problem::RequestBodyTimeout);
            }
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
                let (problem, reason) = if body_limit_first {
                    (Problem::BodyTooLarge, "body_too_large")
                } else {
                    (Problem::JsonTooLarge, "json_too_large")
                };
                checks::refused(route, reason, client_ip);
                return Err(problem);
            }
            Ok(Err(error)) => return Err(body_failed(&*error, client_ip, bus)),
        };
        if !bytes.is_empty() {
            let keep = limits.screening.is_some();
            match json::check(&bytes, json_checks.max_depth, keep) {
                Err(JsonError::Malformed) => {
                    checks::refused(route, "json_malformed", client_ip);
                    return Err(Problem::JsonMalformed);
                }
                Err(JsonError::TooDeep) => {
                    checks::refused(route, "json_too_deep", client_ip);
                    return Err(Problem::JsonTooDeep);
                }
                Ok(Some(document)) => {
                    if let (Some(mode), Some(finding)) =
                        (limits.screening, screening::screen_json(&document))
                    {
                        checks::screened(route, mode, finding, client_ip, bus);
                        if mode == ScreeningMode::Block {
                            return Err(Problem::ScreeningBlocked);
                        }
                    }
                }
                Ok(None) => {}
            }
        }
        return Ok(Request::from_parts(parts, RequestBody::buffered(bytes)));
    }
    let mut first = None;
    if facts.chunked {
        match tokio::time::timeout(read_timeout, body.frame()).await {
            // The client is slow: stream as it comes, the upstream deadline applies.
            Err(_) | Ok(None) => {}
            Ok(Some(Ok(frame))) => first = Some(frame),
            Ok(Some(Err(error))) => return Err(body_failed(&error, client_ip, bus)),
        }
        let first_len = first
            .as_ref()
            .and_then(|f: &http_body::Frame<Bytes>| f.data_ref())
            .map_or(0, |d| d.len() as u64);
        if limits.max_body_bytes.is_some_and(|max| first_len > max) {
            checks::refused(route, "body_too_large", client_ip);
            return Err(Problem::BodyTooLarge);
        }
    }
    Ok(Request::from_parts(
        parts,
        RequestBody::streamed(body, first, limits.max_body_bytes),
    ))
}

/// A body that failed while being read: broken chunking is counted as a malformed
/// request (a smuggling attempt looks like this); a client that went away is not.
fn body_failed(error: &(dyn std::error::Error + 'static), client_ip: IpAddr, bus: &Bus) -> Problem {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData
            )
        {
            Rejection::MalformedRequest.record();
            bus.publish(BusEvent::SecurityViolation {
                kind: ViolationKind::MalformedRequest,
                client_ip: client_ip.to_string(),
            });
            break;
        }
        source = e.source();
    }
    tracing::info!(%client_ip, "Request body from the client failed.");
    Problem::BadRequestBody
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
