//! HTTP(S): one request through a shared client; status, body (only when a condition
//! reads it), and the leaf certificate's time to expiry.
//!
//! The response time is measured until the response head arrives, so it does not depend
//! on whether the body was read.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderName, HeaderValue};

use super::{ProbeError, ProbeResult, connect_error, root_io_kind};

/// The most body bytes kept for conditions; the rest is not read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Idle connections kept per host, and for how long. Monitors of one host whose checks
/// fall close together share a warm connection; the short idle time bounds the idle
/// connections (tens of KiB each with TLS buffers) to about checks/s x 2 s, instead of
/// one per monitored host, which for 10,000 hosts would blow the memory budget.
const IDLE_PER_HOST: usize = 1;
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_REDIRECTS: usize = 10;

/// The HTTP clients shared by every HTTP monitor (two, because reqwest fixes the redirect
/// policy per client). Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClients {
    no_redirects: reqwest::Client,
    follow_redirects: reqwest::Client,
}

/// The HTTP clients could not be built (no TLS roots, usually).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the monitors' HTTP client")]
pub struct HttpClientError(#[source] reqwest::Error);

impl HttpClients {
    /// Clients that trust the system's roots.
    pub fn new() -> Result<Self, HttpClientError> {
        Self::with_extra_roots(&[])
    }

    /// Clients that also trust these DER certificates (a private CA).
    pub fn with_extra_roots(roots: &[Vec<u8>]) -> Result<Self, HttpClientError> {
        let roots = roots
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(HttpClientError)?;
        Ok(Self {
            no_redirects: build(reqwest::redirect::Policy::none(), &roots)?,
            follow_redirects: build(reqwest::redirect::Policy::limited(MAX_REDIRECTS), &roots)?,
        })
    }
}

fn build(
    policy: reqwest::redirect::Policy,
    roots: &[reqwest::Certificate],
) -> Result<reqwest::Client, HttpClientError> {
    reqwest::Client::builder()
        .tls_certs_merge(roots.iter().cloned())
        .redirect(policy)
        .tls_info(true)
        .pool_max_idle_per_host(IDLE_PER_HOST)
        .pool_idle_timeout(IDLE_TIMEOUT)
        .user_agent(concat!("bulwark-monitor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(HttpClientError)
}

pub(super) struct HttpRequest<'a> {
    pub url: &'a reqwest::Url,
    pub method: &'a http::Method,
    pub headers: &'a [(String, String)],
    pub body: Option<&'a Bytes>,
    pub follow_redirects: bool,
}

pub(super) async fn check(
    clients: &HttpClients,
    request: &HttpRequest<'_>,
    timeout: Duration,
    read_body: bool,
    started: Instant,
) -> ProbeResult {
    let client = if request.follow_redirects {
        &clients.follow_redirects
    } else {
        &clients.no_redirects
    };
    let mut builder = client
        .request(request.method.clone(), request.url.clone())
        .timeout(timeout);
    for (name, value) in request.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return ProbeResult::failed(started, false, ProbeError::InvalidHeader);
        };
        builder = builder.header(name, value);
    }
    if let Some(body) = request.body {
        // Bytes clones share the buffer.
        builder = builder.body(body.clone());
    }
    let mut response = match builder.send().await {
        Ok(response) => response,
        Err(error) => return ProbeResult::failed(started, false, request_error(&error)),
    };
    let response_time = started.elapsed();
    let certificate_expiration = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(|der| certificate_time_left(der, SystemTime::now()));
    let status = response.status().as_u16();
    let (body, error) = if read_body {
        match read_capped(&mut response).await {
            Ok(body) => (Some(body), None),
            Err(error) => (None, Some(error)),
        }
    } else {
        drain_small(&mut response).await;
        (None, None)
    };
    ProbeResult {
        status: Some(status),
        response_time,
        body,
        certificate_expiration,
        connected: true,
        error,
    }
}

/// Up to [`MAX_BODY_BYTES`] of the body; the rest is left unread.
async fn read_capped(response: &mut reqwest::Response) -> Result<Bytes, ProbeError> {
    let mut body = BytesMut::new();
    while body.len() < MAX_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_BODY_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(error) => return Err(request_error(&error)),
        }
    }
    Ok(body.freeze())
}

/// Reads and drops a small body so the connection can go back to the pool; a large one
/// is abandoned (the connection closes), which costs less than reading it.
async fn drain_small(response: &mut reqwest::Response) {
    let mut seen = 0usize;
    while seen < MAX_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => seen += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
}

/// Time left until the DER certificate's notAfter; zero once expired; `None` when it
/// does not parse.
pub fn certificate_time_left(der: &[u8], now: SystemTime) -> Option<Duration> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after_s = certificate.validity().not_after.timestamp();
    let now_s = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let now_s = i64::try_from(now_s).ok()?;
    let left = u64::try_from(not_after_s.saturating_sub(now_s)).unwrap_or(0);
    Some(Duration::from_secs(left))
}

/// Maps a reqwest error to a kind. reqwest's own text names the URL, so it is dropped.
fn request_error(error: &reqwest::Error) -> ProbeError {
    if error.is_timeout() {
        return ProbeError::Timeout;
    }
    if error.is_redirect() {
        return ProbeError::Redirect;
    }
    if error.is_builder() {
        return ProbeError::InvalidUrl;
    }
    // Lower layers say what happened only in their Display text; only the fact that
    // they mention DNS or TLS is kept, never the text.
    let mut resolve = false;
    let mut tls = false;
    let mut closed = false;
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        let text = e.to_string().to_ascii_lowercase();
        resolve |= text.contains("dns error") || text.contains("failed to lookup");
        tls |= text.contains("certificate") || text.contains("tls") || text.contains("handshake");
        closed |= text.contains("connection closed before message completed");
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return ProbeError::ConnectRefused;
        }
        source = e.source();
    }
    if resolve {
        return ProbeError::Resolve;
    }
    if tls {
        return ProbeError::Tls;
    }
    if closed {
        return ProbeError::ConnectionClosed;
    }
    let kind = root_io_kind(error);
    if error.is_connect() {
        return match kind {
            Some(kind) => connect_error(&std::io::Error::from(kind)),
            None => ProbeError::Connect(std::io::ErrorKind::Other),
        };
    }
    match kind {
        Some(kind) => ProbeError::Io(kind),
        None => ProbeError::Protocol,
    }
}
