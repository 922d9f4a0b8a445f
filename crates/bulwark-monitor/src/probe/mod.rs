//! Probes: one check of one service, bounded by the monitor's timeout, producing an owned
//! [`ProbeResult`] that conditions are evaluated against.
//!
//! Driver errors can quote the URL they were given (with its password), so they are
//! never kept: each is mapped to a [`ProbeError`] kind where it is caught.

mod http;
mod postgres;
mod redis;
mod tcp;

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use self::http::{HttpClientError, HttpClients, MAX_BODY_BYTES, certificate_time_left};
use crate::condition::Observation;
use crate::spec::ProbeSpec;

/// Why a check could not complete. Messages are safe to show on a public status page:
/// kinds and codes, never driver text or URLs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("timed out")]
    Timeout,
    #[error("connection refused")]
    ConnectRefused,
    #[error("cannot resolve the host")]
    Resolve,
    #[error("cannot connect: {0}")]
    Connect(io::ErrorKind),
    #[error("connection lost: {0}")]
    Io(io::ErrorKind),
    #[error("connection closed without a complete response")]
    ConnectionClosed,
    #[error("TLS handshake failed")]
    Tls,
    #[error("too many redirects")]
    Redirect,
    #[error("authentication failed")]
    AuthFailed,
    /// A server-side error code (SQLSTATE, a Redis error prefix): a code, never a message.
    #[error("server error {0}")]
    Server(String),
    #[error("protocol error")]
    Protocol,
    #[error("unexpected reply")]
    UnexpectedReply,
    #[error("invalid URL")]
    InvalidUrl,
    #[error("invalid request header")]
    InvalidHeader,
}

/// What one check saw, owned. [`observation`](Self::observation) lends it to conditions.
#[derive(Clone, Debug, Default)]
pub struct ProbeResult {
    pub status: Option<u16>,
    pub response_time: Duration,
    /// At most [`MAX_BODY_BYTES`]; only read when a condition uses `[BODY]`.
    pub body: Option<Bytes>,
    pub certificate_expiration: Option<Duration>,
    pub connected: bool,
    /// Set when the check could not complete (no answer, a failed command). A check with
    /// an error fails whatever its conditions say.
    pub error: Option<ProbeError>,
}

impl ProbeResult {
    /// The result as the condition evaluator reads it.
    pub fn observation(&self) -> Observation<'_> {
        let mut observation = Observation::new()
            .with_response_time(self.response_time)
            .with_connected(self.connected);
        observation.status = self.status;
        observation.certificate_expiration = self.certificate_expiration;
        match &self.body {
            Some(body) => observation.with_body(body),
            None => observation,
        }
    }

    fn failed(started: Instant, connected: bool, error: ProbeError) -> Self {
        Self {
            response_time: started.elapsed(),
            connected,
            error: Some(error),
            ..Self::default()
        }
    }
}

/// Runs one check. Never fails: a failure is a result with an [`error`](ProbeResult::error).
/// `read_body`: whether a condition needs the body (reading it costs memory and time).
pub async fn check(
    probe: &ProbeSpec,
    timeout: Duration,
    read_body: bool,
    clients: &HttpClients,
) -> ProbeResult {
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, async {
        match probe {
            ProbeSpec::Http {
                url,
                method,
                headers,
                body,
                follow_redirects,
            } => {
                let request = http::HttpRequest {
                    url,
                    method,
                    headers,
                    body: body.as_ref(),
                    follow_redirects: *follow_redirects,
                };
                http::check(clients, &request, timeout, read_body, started).await
            }
            ProbeSpec::Tcp { address } => tcp::check(address, started).await,
            ProbeSpec::Postgres { url } => postgres::check(url, started).await,
            ProbeSpec::Redis { url } => redis::check(url, started).await,
        }
    })
    .await;
    result.unwrap_or_else(|_elapsed| ProbeResult::failed(started, false, ProbeError::Timeout))
}

fn connect_error(error: &io::Error) -> ProbeError {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => ProbeError::ConnectRefused,
        io::ErrorKind::TimedOut => ProbeError::Timeout,
        kind => ProbeError::Connect(kind),
    }
}

/// The innermost `io::Error` kind in a source chain.
fn root_io_kind(error: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut kind = None;
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            kind = Some(io.kind());
        }
        current = e.source();
    }
    kind
}
