//! The public listener: accepts connections, finishes the TLS handshake when the
//! listener has TLS (under its own deadline), applies the edge timeouts, and hands each
//! connection to hyper (HTTP/1.1 with upgrades, or HTTP/2 by ALPN or prior knowledge).
//! Also the optional plain-HTTP listener that only redirects to https ([`redirect`]).

mod head;
mod io;
pub mod redirect;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bulwark_events::{BusEvent, ViolationKind};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use head::{HTTP2_PREFACE, HeadError, Start, read_start};
pub use io::PrefixedIo;

use crate::events::{Rejection, open_connections};
use crate::problem::Problem;
use crate::service::{ConnInfo, handle};
use crate::state::SharedState;
use crate::tls::TlsServer;
use crate::tls::events::HandshakeRefused;

/// Accepts until `shutdown` is cancelled; each connection runs on `tracker`, so the
/// caller can wait for in-flight requests to drain. With `tls`, every connection is
/// HTTPS (a reload swaps the certificate inside `tls`).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<TlsServer>>,
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
            Ok((stream, peer)) => {
                tracker.spawn(connection(
                    stream,
                    peer,
                    tls.clone(),
                    shared.clone(),
                    shutdown.clone(),
                ));
            }
            Err(error) => {
                // Out of file descriptors or the like: back off instead of spinning.
                tracing::warn!(%error, "Accept failed.");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Counts a client connection in `bulwark_open_connections` while alive.
pub(crate) struct ConnectionGauge;

impl ConnectionGauge {
    pub(crate) fn open() -> Self {
        open_connections().increment(1.0);
        Self
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        open_connections().decrement(1.0);
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<TlsServer>>,
    shared: SharedState,
    shutdown: CancellationToken,
) {
    let _gauge = ConnectionGauge::open();
    let _ = stream.set_nodelay(true);
    let Some(tls) = tls else {
        return serve_connection(stream, peer, "http", shared, shutdown).await;
    };
    // Like the request head deadline: a client that opens a connection and never
    // finishes its handshake must not hold it for free.
    let deadline = shared.load().timeouts.tls_handshake;
    match tokio::time::timeout(deadline, tls.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => serve_connection(stream, peer, "https", shared, shutdown).await,
        Ok(Err(error)) => HandshakeRefused::Failed.record(Some(&error)),
        // Dropping the handshake closes the socket.
        Err(_) => HandshakeRefused::Timeout.record(None),
    }
}

/// Serves one connection whose bytes are HTTP (after TLS, if any). The head and preface
/// deadlines run from here, i.e. after the handshake.
async fn serve_connection<S>(
    mut stream: S,
    peer: SocketAddr,
    scheme: &'static str,
    shared: SharedState,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let accepted = tokio::time::Instant::now();
    let state = shared.load_full();
    let timeouts = state.timeouts.clone();

    let start = read_start(
        &mut stream,
        accepted,
        timeouts.request_head,
        timeouts.http2_preface,
        state.max_request_head_bytes,
    )
    .await;
    let violation = |kind| {
        state.bus.publish(BusEvent::SecurityViolation {
            kind,
            client_ip: peer.ip().to_string(),
        })
    };
    let start = match start {
        Ok(start) => start,
        Err(HeadError::HeadTimeout { partial }) => {
            Rejection::RequestHeadTimeout.record();
            if partial {
                violation(ViolationKind::RequestHeadTimeout);
                answer_and_close(stream, Problem::RequestHeadTimeout).await;
            }
            return;
        }
        Err(HeadError::TooLarge) => {
            Rejection::RequestHeadTooLarge.record();
            violation(ViolationKind::RequestHeadTooLarge);
            answer_and_close(stream, Problem::RequestHeadTooLarge).await;
            return;
        }
        Err(HeadError::AmbiguousLength) => {
            Rejection::MalformedRequest.record();
            violation(ViolationKind::MalformedRequest);
            answer_and_close(stream, Problem::MalformedRequest).await;
            return;
        }
        Err(HeadError::PrefaceTimeout) => {
            Rejection::Http2PrefaceTimeout.record();
            violation(ViolationKind::Http2PrefaceTimeout);
            return;
        }
        Err(HeadError::Closed | HeadError::Io(_)) => return,
    };
    let max_head = state.max_request_head_bytes;
    let bus = state.bus.clone();
    drop(state);

    let activity = Arc::new(AtomicU64::new(0));
    let info = ConnInfo { peer, scheme };
    let service = service_fn(move |request| handle(shared.clone(), info, request));
    let served = match start {
        Start::Http1(prefix) => {
            let io = TokioIo::new(PrefixedIo::new(prefix.freeze(), stream, activity.clone()));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                // Measured by hyper from the end of the previous response, so this is
                // also how long an idle keep-alive connection waits for its next request.
                .header_read_timeout(timeouts.idle)
                .keep_alive(true)
                // Later heads on the connection: hyper answers 431 above this.
                .max_buf_size(max_head.max(8192))
                .serve_connection(io, service)
                .with_upgrades();
            drive(conn, activity, timeouts.idle, shutdown).await
        }
        Start::Http2(prefix) => {
            let io = TokioIo::new(PrefixedIo::new(prefix.freeze(), stream, activity.clone()));
            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .serve_connection(io, service);
            drive(conn, activity, timeouts.idle, shutdown).await
        }
    };
    if let Err(error) = served {
        if error.is_parse() || error.is_parse_too_large() {
            // hyper already answered 400/431; count it like the other edge refusals.
            Rejection::MalformedRequest.record();
            bus.publish(BusEvent::SecurityViolation {
                kind: ViolationKind::MalformedRequest,
                client_ip: peer.ip().to_string(),
            });
        } else {
            tracing::debug!(%error, "Client connection ended with an error.");
        }
    }
}

/// Sends a problem answer before hyper owns the connection, then closes without losing
/// it: closing a socket with unread input makes the kernel send a reset, which can
/// destroy the answer in flight, so the rest of the input is drained for a moment first.
async fn answer_and_close<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, problem: Problem) {
    if stream.write_all(&problem.raw_http1()).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        let mut total = 0usize;
        while let Ok(n) = stream.read(&mut sink).await {
            total += n;
            if n == 0 || total > 1024 * 1024 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// A hyper connection that can be asked to finish its in-flight requests and close.
trait GracefulConnection: Future<Output = Result<(), hyper::Error>> {
    fn close_gracefully(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulConnection for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn close_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B, E> GracefulConnection for hyper::server::conn::http2::Connection<I, S, E>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn close_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Runs the connection. On shutdown, or once no byte has moved either way for `idle`
/// (checked four times per period, so within 1.25x), it is asked to close gracefully,
/// which lets in-flight requests finish. A connection that then stays silent for
/// another `idle` is dropped: a client that stops reading stalls hyper's writes, and
/// a graceful close would wait for it forever.
async fn drive<C: GracefulConnection>(
    conn: C,
    activity: Arc<AtomicU64>,
    idle: Duration,
    shutdown: CancellationToken,
) -> Result<(), hyper::Error> {
    let mut conn = pin!(conn);
    let mut ticker = tokio::time::interval(idle / 4);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut last_seen = activity.load(Ordering::Relaxed);
    let mut quiet_ticks = 0;
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => return result,
            _ = shutdown.cancelled(), if !closing => {
                conn.as_mut().close_gracefully();
                closing = true;
                quiet_ticks = 0;
            }
            _ = ticker.tick() => {
                let now = activity.load(Ordering::Relaxed);
                if now != last_seen {
                    quiet_ticks = 0;
                    last_seen = now;
                    continue;
                }
                quiet_ticks += 1;
                if quiet_ticks < 4 {
                    continue;
                }
                if closing {
                    tracing::debug!("Dropping a connection that stayed silent while closing.");
                    return Ok(());
                }
                conn.as_mut().close_gracefully();
                closing = true;
                quiet_ticks = 0;
            }
        }
    }
}
