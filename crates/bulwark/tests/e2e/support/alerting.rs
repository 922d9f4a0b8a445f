//! Test parts for alerting: a monitored service that can really go away (its open
//! connections too) and come back on the same port, and a receiver that records the
//! notifications bulwark sends (webhook, Slack, SMS) and can refuse them for a while.
#![allow(dead_code)] // each test module uses a different part of the harness

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// An HTTP service answering `200 {"status":"UP"}` on every path, until stopped.
pub struct MonitoredService {
    pub addr: SocketAddr,
    tasks: Mutex<Option<JoinSet<()>>>,
}

impl MonitoredService {
    pub async fn start() -> MonitoredService {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = MonitoredService {
            addr,
            tasks: Mutex::new(None),
        };
        service.serve(listener);
        service
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn serve(&self, listener: TcpListener) {
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            // Connections live in this inner set, so dropping the outer task ends them.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                connections.spawn(async move {
                    let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
                        let mut response =
                            Response::new(Full::new(Bytes::from_static(br#"{"status":"UP"}"#)));
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, Infallible>(response)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        *self.tasks.lock().unwrap() = Some(tasks);
    }

    /// Closes the listener and every open connection: checks now get "connection refused".
    pub fn stop(&self) {
        // Dropping a JoinSet aborts its tasks, and with them the connection set.
        self.tasks.lock().unwrap().take();
    }

    /// Listens again on the same address.
    pub async fn restart(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded_pairs(&self.body)
    }
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(body).expect("a UTF-8 form");
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Records every request; answers 503 to the first `refuse_first` of them, then 200.
pub struct Receiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    refused: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(refuse_first: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicUsize::new(0));
        let (r, f) = (received.clone(), refused.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (received, refused) = (r.clone(), f.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (received, refused) = (received.clone(), refused.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes());
                            let body = body.unwrap_or_default();
                            let status = if refused.fetch_add(1, Ordering::SeqCst) < refuse_first {
                                StatusCode::SERVICE_UNAVAILABLE
                            } else {
                                received.lock().unwrap().push(Received {
                                    path: parts.uri.path().to_string(),
                                    headers: parts.headers,
                                    body,
                                });
                                StatusCode::OK
                            };
                            let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
                            *response.status_mut() = status;
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            received,
            refused,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Accepted requests to `path` (or under it, for `prefix/`), in arrival order.
    pub fn at(&self, path: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path || (path.ends_with('/') && r.path.starts_with(path)))
            .cloned()
            .collect()
    }

    /// Requests answered so far, refused ones included.
    pub fn attempts(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The mails the SMTP sink (started by scripts/test.sh) received, as raw RFC 5322 text.
pub fn maildir_messages() -> Vec<String> {
    let dir = std::env::var("BULWARK_TEST_SMTP_MAILDIR")
        .expect("BULWARK_TEST_SMTP_MAILDIR is set by scripts/test.sh (run the tests through it)");
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(std::path::Path::new(&dir).join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                out.push(text);
            }
        }
    }
    out
}

/// The SMTP sink's address, `host:port`.
pub fn smtp_addr() -> (String, u16) {
    let addr = std::env::var("BULWARK_TEST_SMTP_ADDR")
        .expect("BULWARK_TEST_SMTP_ADDR is set by scripts/test.sh (run the tests through it)");
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    (host.to_string(), port.parse().expect("a port"))
}
