//! The plain-HTTP listener of a TLS deployment (`[listen] redirect_http`): every request
//! gets `308 Permanent Redirect` to the same path and query on `https://` at the same
//! host name and the public listener's port (left out when it is 443). 308 rather than
//! 301 keeps the method and body of a POST. Nothing is routed or proxied here.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bytes::Bytes;
use http::uri::Authority;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ConnectionGauge, PrefixedIo, drive};
use crate::state::SharedState;

/// Accepts until `shutdown` is cancelled; connections run on `tracker` like the public
/// listener's, with the same head and idle timeouts (read from `shared` per connection).
pub async fn serve(
    listener: TcpListener,
    https_port: u16,
    shared: SharedState,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                tracker.spawn(connection(
                    stream,
                    https_port,
                    shared.clone(),
                    shutdown.clone(),
                ));
            }
            Err(error) => {
                tracing::warn!(%error, "Accept failed on the redirect listener.");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(
    stream: TcpStream,
    https_port: u16,
    shared: SharedState,
    shutdown: CancellationToken,
) {
    let _gauge = ConnectionGauge::open();
    let _ = stream.set_nodelay(true);
    let (timeouts, max_head) = {
        let state = shared.load();
        (state.timeouts.clone(), state.max_request_head_bytes)
    };
    let activity = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(PrefixedIo::new(Bytes::new(), stream, activity.clone()));
    let service =
        service_fn(
            move |request| async move { Ok::<_, Infallible>(redirect(&request, https_port)) },
        );
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // Covers the first head too (from accept) and the wait for the next request.
        .header_read_timeout(timeouts.request_head.min(timeouts.idle))
        .keep_alive(true)
        .max_buf_size(max_head.max(8192))
        .serve_connection(io, service)
        .with_upgrades();
    if let Err(error) = drive(conn, activity, timeouts.idle, shutdown).await {
        tracing::debug!(%error, "Redirect connection ended with an error.");
    }
}

/// The answer to any request: 308 to its https twin, or 400 when there is no host to
/// send the client to.
pub fn redirect<B>(request: &Request<B>, https_port: u16) -> Response<Full<Bytes>> {
    let location = https_location(request, https_port)
        .and_then(|location| HeaderValue::try_from(location).ok());
    let mut response = Response::new(Full::new(Bytes::new()));
    match location {
        Some(location) => {
            *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
            response.headers_mut().insert(header::LOCATION, location);
        }
        None => {
            *response.status_mut() = StatusCode::BAD_REQUEST;
        }
    }
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// `https://host[:port]/path?query`, the host taken from an absolute-form target or the
/// `Host` header (its port dropped), `None` without a valid one.
pub fn https_location<B>(request: &Request<B>, https_port: u16) -> Option<String> {
    let authority = match request.uri().authority() {
        Some(authority) => authority.clone(),
        None => {
            let mut hosts = request.headers().get_all(header::HOST).iter();
            let host = hosts.next()?;
            if hosts.next().is_some() {
                return None;
            }
            Authority::try_from(host.as_bytes()).ok()?
        }
    };
    // The host part only: no user info, never empty.
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    let host = authority.host();
    let path = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let path = if path.starts_with('/') { path } else { "/" };
    Some(if https_port == 443 {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{https_port}{path}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, host: Option<&str>) -> Request<()> {
        let mut builder = Request::builder().uri(target);
        if let Some(host) = host {
            builder = builder.header(header::HOST, host);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn path_and_query_are_kept_and_the_port_is_replaced() {
        let r = request("/a/b?x=1&y=%20", Some("example.com:8080"));
        assert_eq!(
            https_location(&r, 8443).unwrap(),
            "https://example.com:8443/a/b?x=1&y=%20"
        );
    }

    #[test]
    fn port_443_is_left_out() {
        let r = request("/", Some("example.com"));
        assert_eq!(https_location(&r, 443).unwrap(), "https://example.com/");
    }

    #[test]
    fn ipv6_hosts_keep_their_brackets() {
        let r = request("/x", Some("[::1]:80"));
        assert_eq!(https_location(&r, 443).unwrap(), "https://[::1]/x");
    }

    #[test]
    fn an_absolute_target_wins() {
        let r = request("http://a.example/p?q", Some("b.example"));
        assert_eq!(https_location(&r, 443).unwrap(), "https://a.example/p?q");
    }

    #[test]
    fn no_host_or_a_bad_one_is_400() {
        assert_eq!(
            redirect(&request("/", None), 443).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            redirect(&request("/", Some("a b")), 443).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            redirect(&request("/", Some("user@evil.example")), 443).status(),
            StatusCode::BAD_REQUEST
        );
        let r = redirect(&request("/p", Some("ok.example")), 443);
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(r.headers()[header::LOCATION], "https://ok.example/p");
    }
}
