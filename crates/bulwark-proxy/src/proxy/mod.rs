//! The `proxy` action: forward a request to one target of an upstream and stream the
//! answer back, with the upstream's total deadline, passive health, and WebSocket
//! upgrades passed through.

mod body;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use http::uri::{PathAndQuery, Uri};
use http::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;

pub use body::{BoxError, ResponseBody, TotalTimeout};

use crate::events::UpstreamOutcome;
use crate::forwarded::remove_hop_by_hop;
use crate::listener::{ConnectionGauge, PrefixedIo};
use crate::policy::request::body::{BodyTooLarge, RequestBody};
use crate::problem::Problem;
use crate::upstream::UpstreamPool;
use bulwark_events::Bus;

/// What the proxy hands back: a response, and which target served it (for the log).
pub struct Forwarded {
    pub response: Result<Response<ResponseBody>, Problem>,
    pub target: Option<Arc<str>>,
}

/// Forwards `request`, whose headers the caller has already rewritten for the hop
/// (hop-by-hop removed, Host checked, forwarded headers, request id), to the next
/// available target of `pool`. `upgrade` is a WebSocket upgrade to pass through.
pub async fn forward(
    pool: &UpstreamPool,
    strip_prefix: Option<&str>,
    mut request: Request<RequestBody>,
    upgrade: bool,
    tunnel_idle: Duration,
    bus: &Bus,
) -> Forwarded {
    let Some(index) = pool.pick(Instant::now()) else {
        pool.metrics.record(UpstreamOutcome::NoHealthyTarget, None);
        return Forwarded {
            response: Err(Problem::NoHealthyTarget),
            target: None,
        };
    };
    let target = &pool.targets[index];
    let label = target.label.clone();

    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    *request.uri_mut() = upstream_uri(request.uri(), target, strip_prefix);
    *request.version_mut() = Version::HTTP_11;

    let started = Instant::now();
    // One timer for the whole exchange: it bounds the wait for the response head here,
    // then travels with the response body and cuts it at the same deadline.
    let mut deadline = Box::pin(tokio::time::sleep(pool.timeout));
    let result = tokio::select! {
        biased;
        result = pool.client.request(request) => Ok(result),
        () = deadline.as_mut() => Err(()),
    };
    let mut response = match result {
        Err(()) => {
            pool.record_failure(index, started, bus);
            pool.metrics.record(UpstreamOutcome::Timeout, Some(started));
            tracing::warn!(upstream = %pool.name, upstream_target = %label, "Upstream timed out.");
            return Forwarded {
                response: Err(Problem::GatewayTimeout),
                target: Some(label),
            };
        }
        Ok(Err(error)) if has_source::<BodyTooLarge>(&error) => {
            // Over the route's `max_body_bytes` mid-stream: the upstream request was
            // aborted; the target did nothing wrong.
            pool.metrics
                .record(UpstreamOutcome::ClientError, Some(started));
            return Forwarded {
                response: Err(Problem::BodyTooLarge),
                target: Some(label),
            };
        }
        Ok(Err(error)) if is_client_body_error(&error) => {
            // The client's own body broke (bad chunking, reset mid-upload): not the
            // target's fault, so passive health is left alone.
            pool.metrics
                .record(UpstreamOutcome::ClientError, Some(started));
            tracing::info!(upstream = %pool.name, "Request body from the client failed mid-stream.");
            return Forwarded {
                response: Err(Problem::BadRequestBody),
                target: Some(label),
            };
        }
        Ok(Err(error)) => {
            pool.record_failure(index, started, bus);
            // A connect that timed out is a timeout to the client (504, as nginx);
            // refused or reset connections are a bad gateway (502).
            let (outcome, problem) = if error.is_connect() && has_timed_out(&error) {
                (UpstreamOutcome::Timeout, Problem::GatewayTimeout)
            } else if error.is_connect() {
                (UpstreamOutcome::ConnectError, Problem::BadGateway)
            } else {
                (UpstreamOutcome::ProtocolError, Problem::BadGateway)
            };
            pool.metrics.record(outcome, Some(started));
            tracing::warn!(upstream = %pool.name, upstream_target = %label, error = %ErrorChain(&error), "Upstream request failed.");
            return Forwarded {
                response: Err(problem),
                target: Some(label),
            };
        }
        Ok(Ok(response)) => response,
    };
    pool.record_success(index, started, bus);
    pool.metrics
        .record(UpstreamOutcome::Status(response.status()), Some(started));

    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    remove_hop_by_hop(response.headers_mut(), switching);
    if switching {
        match client_upgrade {
            Some(client_upgrade) => tunnel(
                client_upgrade,
                hyper::upgrade::on(&mut response),
                tunnel_idle,
            ),
            // An upstream must not switch protocols nobody asked for.
            None => {
                return Forwarded {
                    response: Err(Problem::BadGateway),
                    target: Some(label),
                };
            }
        }
        let response = response.map(|_| ResponseBody::empty());
        return Forwarded {
            response: Ok(response),
            target: Some(label),
        };
    }
    Forwarded {
        response: Ok(response.map(|body| ResponseBody::streamed(body, Some(deadline)))),
        target: Some(label),
    }
}

/// `scheme://target` + the request's path (prefix stripped when asked) and query.
fn upstream_uri(
    uri: &Uri,
    target: &crate::upstream::TargetState,
    strip_prefix: Option<&str>,
) -> Uri {
    let original = uri.path_and_query().cloned();
    let path_and_query = match (strip_prefix, &original) {
        (Some(prefix), Some(pq)) => match pq.as_str().strip_prefix(prefix) {
            Some(rest) if rest.is_empty() || rest.starts_with('?') => {
                PathAndQuery::try_from(format!("/{rest}")).ok()
            }
            Some(rest) => PathAndQuery::try_from(rest).ok(),
            None => original,
        },
        // Without a prefix to strip, the parsed path is reused as is (shared bytes).
        _ => original,
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(target.target.scheme.clone());
    parts.authority = Some(target.target.authority.clone());
    parts.path_and_query = Some(path_and_query.unwrap_or_else(|| PathAndQuery::from_static("/")));
    Uri::from_parts(parts).unwrap_or_else(|_| Uri::from_static("/"))
}

/// Copies bytes both ways between the upgraded client and upstream connections, until
/// either side closes or nothing has moved for `idle`. Counted as an open connection:
/// hyper's connection task ends when the upgrade happens.
fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade, idle: Duration) {
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(error) => {
                tracing::debug!(%error, "Upgrade did not complete.");
                return;
            }
        };
        let _gauge = ConnectionGauge::open();
        let activity = Arc::new(AtomicU64::new(0));
        let mut client = PrefixedIo::new(Bytes::new(), TokioIo::new(client), activity.clone());
        let mut upstream = PrefixedIo::new(Bytes::new(), TokioIo::new(upstream), activity.clone());
        let copy = tokio::io::copy_bidirectional(&mut client, &mut upstream);
        tokio::select! {
            result = copy => {
                if let Err(error) = result {
                    tracing::debug!(%error, "Upgraded connection ended with an error.");
                }
            }
            () = silent_for(&activity, idle) => {
                tracing::debug!("Closing an upgraded connection idle for too long.");
            }
        }
    });
}

/// Resolves once `activity` has not changed for `idle` (checked four times per period).
async fn silent_for(activity: &AtomicU64, idle: Duration) {
    let mut ticker = tokio::time::interval(idle / 4);
    ticker.tick().await;
    let mut last_seen = activity.load(Ordering::Relaxed);
    let mut quiet_ticks = 0;
    while quiet_ticks < 4 {
        ticker.tick().await;
        let now = activity.load(Ordering::Relaxed);
        if now == last_seen {
            quiet_ticks += 1;
        } else {
            quiet_ticks = 0;
            last_seen = now;
        }
    }
}

/// hyper reports a failing request body as a "user" error: the body is the client's.
fn is_client_body_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_user)
        {
            return true;
        }
        source = e.source();
    }
    false
}

fn has_source<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<E>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn has_timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// Displays an error with its sources, for logs (upstream errors carry no secrets:
/// targets cannot hold credentials).
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}
