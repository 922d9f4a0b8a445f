//! A test upstream on 127.0.0.1:0, run inside the test process. Paths:
//! - `/echo...`: JSON with method, path, query and headers as received
//! - `/bytes/N`: N bytes streamed in 64 KiB chunks
//! - `/gated/N`: one 64 KiB chunk, then waits for [`TestUpstream::open_gate`] before the
//!   rest of N bytes (shows that bulwark streams instead of buffering)
//! - `/upload`: reports the request body's length; `/upload-gated` also announces the
//!   first chunk's arrival on [`TestUpstream::first_chunk`] before reading the rest
//! - `/slow/MS`: answers after MS milliseconds
//! - `/stall`: sends the head and one chunk, then never finishes the body
//! - `/status/CODE`: answers with that status
//! - `/hop`: answers with hop-by-hop headers set
//! - `/ws`: WebSocket echo
//! - `/record`: keeps each request's headers and body for [`TestUpstream::recorded`]
//! - `/toggle`: 400 until [`TestUpstream::set_accepting`], then like `/record`
//! - `/toggle-gone`: 410 Gone until [`TestUpstream::set_accepting`], then like `/record`
//! - `/record-hold`: like `/record`, but a request with `x-order-key: A` is answered only
//!   after [`TestUpstream::release_held`] (the app is stuck on key A)
#![allow(dead_code)] // each test module uses a different part of the harness

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

type Body = BoxBody<Bytes, Infallible>;

/// A request as `/record` received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

pub struct TestUpstream {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicUsize>,
    recorded: Arc<std::sync::Mutex<Vec<Recorded>>>,
    accepting: Arc<std::sync::atomic::AtomicBool>,
    gate: Arc<Notify>,
    released: Arc<tokio::sync::watch::Sender<bool>>,
    first_chunk_rx: tokio::sync::Mutex<mpsc::Receiver<()>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Shared {
    requests: Arc<AtomicUsize>,
    recorded: Arc<std::sync::Mutex<Vec<Recorded>>>,
    accepting: Arc<std::sync::atomic::AtomicBool>,
    gate: Arc<Notify>,
    released: Arc<tokio::sync::watch::Sender<bool>>,
    first_chunk: mpsc::Sender<()>,
}

impl TestUpstream {
    pub async fn start() -> TestUpstream {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(addr: SocketAddr) -> TestUpstream {
        let listener = TcpListener::bind(addr).await.expect("bind test upstream");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel(4);
        let shared = Shared {
            requests: Arc::new(AtomicUsize::new(0)),
            recorded: Arc::new(std::sync::Mutex::new(Vec::new())),
            accepting: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            gate: Arc::new(Notify::new()),
            released: Arc::new(tokio::sync::watch::Sender::new(false)),
            first_chunk: tx,
        };
        let (requests, gate) = (shared.requests.clone(), shared.gate.clone());
        let released = shared.released.clone();
        let recorded = shared.recorded.clone();
        let accepting = shared.accepting.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req| handle(shared.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        TestUpstream {
            addr,
            requests,
            recorded,
            accepting,
            gate,
            released,
            first_chunk_rx: tokio::sync::Mutex::new(rx),
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Lets every held and future `/record-hold` request for key A be answered.
    pub fn release_held(&self) {
        self.released.send_replace(true);
    }

    /// Lets `/gated/N` send the rest of its body.
    pub fn open_gate(&self) {
        self.gate.notify_one();
    }

    /// Resolves when `/upload-gated` has received its first body chunk.
    pub async fn first_chunk(&self) {
        self.first_chunk_rx.lock().await.recv().await;
    }

    /// Stops accepting; open connections are not closed.
    pub fn stop(&self) {
        self.task.abort();
    }

    /// From now on `/toggle` accepts (and records) instead of answering 400.
    pub fn set_accepting(&self) {
        self.accepting.store(true, Ordering::SeqCst);
    }

    /// What `/record` received so far.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }

    pub fn served(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TestUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r
}

fn stream_of(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = tokio_stream_from(rx).map(|b| Ok::<_, Infallible>(Frame::data(b)));
    BodyExt::boxed(StreamBody::new(stream))
}

fn tokio_stream_from(mut rx: mpsc::Receiver<Bytes>) -> impl futures_util::Stream<Item = Bytes> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

const CHUNK: usize = 64 * 1024;

async fn handle(shared: Shared, mut req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path().to_string();
    let number = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|n| n.parse::<u64>().ok())
    };
    let response = if path.starts_with("/echo") {
        let headers: serde_json::Map<String, serde_json::Value> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").into()))
            .collect();
        let body = serde_json::json!({
            "method": req.method().as_str(),
            "path": path,
            "query": req.uri().query(),
            "version": format!("{:?}", req.version()),
            "headers": headers,
        });
        let mut r = full(StatusCode::OK, serde_json::to_vec(&body).unwrap());
        r.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        r
    } else if let Some(n) = number("/bytes/") {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let mut left = n as usize;
            while left > 0 {
                let k = left.min(CHUNK);
                if tx.send(Bytes::from(vec![b'x'; k])).await.is_err() {
                    return;
                }
                left -= k;
            }
        });
        let mut r = Response::new(stream_of(rx));
        r.headers_mut().insert("content-length", n.into());
        r
    } else if let Some(n) = number("/gated/") {
        let (tx, rx) = mpsc::channel(4);
        let gate = shared.gate.clone();
        tokio::spawn(async move {
            let _ = tx.send(Bytes::from(vec![b'g'; CHUNK])).await;
            gate.notified().await;
            let mut left = n as usize - CHUNK;
            while left > 0 {
                let k = left.min(CHUNK);
                if tx.send(Bytes::from(vec![b'g'; k])).await.is_err() {
                    return;
                }
                left -= k;
            }
        });
        Response::new(stream_of(rx))
    } else if path == "/upload" || path == "/upload-gated" {
        let mut body = req.into_body();
        let mut len = 0usize;
        let mut first = path == "/upload-gated";
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Some(data) = frame.data_ref() {
                len += data.len();
                if first && len > 0 {
                    first = false;
                    let _ = shared.first_chunk.send(()).await;
                }
            }
        }
        full(StatusCode::OK, format!("{{\"len\":{len}}}"))
    } else if let Some(ms) = number("/slow/") {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        full(StatusCode::OK, "slow done")
    } else if path == "/stall" {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let _ = tx.send(Bytes::from_static(b"partial")).await;
            // Keep the sender alive so the body never ends.
            tx.closed().await;
        });
        Response::new(stream_of(rx))
    } else if let Some(code) = number("/status/") {
        full(StatusCode::from_u16(code as u16).unwrap(), "")
    } else if path == "/hop" {
        let mut r = full(StatusCode::OK, "hop");
        let h = r.headers_mut();
        h.insert("connection", "x-upstream-hop".parse().unwrap());
        h.insert("x-upstream-hop", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-end-to-end", "kept".parse().unwrap());
        r
    } else if path == "/toggle" && !shared.accepting.load(Ordering::SeqCst) {
        full(StatusCode::BAD_REQUEST, "")
    } else if path == "/toggle-gone" && !shared.accepting.load(Ordering::SeqCst) {
        full(StatusCode::GONE, "")
    } else if matches!(
        path.as_str(),
        "/record" | "/toggle" | "/toggle-gone" | "/record-hold"
    ) {
        let headers = req.headers().clone();
        let held = path == "/record-hold" && headers.get("x-order-key").is_some_and(|k| k == "A");
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        shared
            .recorded
            .lock()
            .unwrap()
            .push(Recorded { headers, body });
        if held {
            let _ = shared.released.subscribe().wait_for(|r| *r).await;
        }
        full(StatusCode::NO_CONTENT, "")
    } else if path == "/ws" {
        websocket_echo(&mut req)
    } else {
        full(StatusCode::NOT_FOUND, "")
    };
    Ok(response)
}

fn websocket_echo(req: &mut Request<Incoming>) -> Response<Body> {
    let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
        return full(StatusCode::BAD_REQUEST, "");
    };
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            tokio_tungstenite::tungstenite::protocol::Role::Server,
            None,
        )
        .await;
        while let Some(Ok(message)) = ws.next().await {
            if message.is_text() || message.is_binary() {
                if ws.send(message).await.is_err() {
                    return;
                }
            } else if message.is_close() {
                return;
            }
        }
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut r = full(StatusCode::SWITCHING_PROTOCOLS, "");
    let h = r.headers_mut();
    h.insert("connection", "upgrade".parse().unwrap());
    h.insert("upgrade", "websocket".parse().unwrap());
    h.insert("sec-websocket-accept", accept.parse().unwrap());
    r
}
