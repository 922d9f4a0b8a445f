//! A tiny HTTP/1.1 server on loopback for the probe and runner tests: every request is
//! answered by a function of the request, or handed to the test to decide (gated).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

/// How the server answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        delay: Duration,
    },
    /// Close the connection without answering.
    Drop,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self::body(status, b"")
    }

    pub fn body(status: u16, body: &[u8]) -> Self {
        Reply::Answer {
            status,
            headers: Vec::new(),
            body: body.to_vec(),
            delay: Duration::ZERO,
        }
    }
}

/// One request seen by a gated server, waiting for the test's reply.
pub struct Pending {
    pub request: String,
    pub reply: oneshot::Sender<Reply>,
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

enum Mode {
    Auto(Handler),
    Gated(mpsc::UnboundedSender<Pending>),
}

pub struct TestServer {
    pub addr: SocketAddr,
    /// Every request received (head and body, as text).
    pub requests: Arc<Mutex<Vec<String>>>,
    accept: JoinHandle<()>,
}

impl TestServer {
    /// Answers every request with `handler(request)`.
    pub async fn auto(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, Mode::Auto(Arc::new(handler)), None)
    }

    /// Like [`auto`](Self::auto), over TLS.
    pub async fn auto_tls(
        tls: Arc<rustls::ServerConfig>,
        handler: impl Fn(&str) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        Self::serve(listener, Mode::Auto(Arc::new(handler)), Some(acceptor))
    }

    /// Hands every request to the returned receiver; the test replies.
    pub async fn gated(addr: Option<SocketAddr>) -> (TestServer, mpsc::UnboundedReceiver<Pending>) {
        let listener = TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self::serve(listener, Mode::Gated(sender), None), receiver)
    }

    fn serve(
        listener: TcpListener,
        mode: Mode,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> TestServer {
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let mode = Arc::new(mode);
        let accept = tokio::spawn(async move {
            // Dropped with the accept task, which aborts every open connection.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (mode, seen) = (mode.clone(), seen.clone());
                match tls.clone() {
                    None => connections.spawn(handle(stream, mode, seen)),
                    Some(acceptor) => connections.spawn(async move {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            handle(stream, mode, seen).await;
                        }
                    }),
                };
                while connections.try_join_next().is_some() {}
            }
        });
        TestServer {
            addr,
            requests,
            accept,
        }
    }

    pub fn url(&self, path: &str) -> reqwest::Url {
        format!("http://{}{}", self.addr, path).parse().unwrap()
    }

    /// Stops listening and drops every connection: connections are refused from now on.
    pub async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
    }
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    mode: Arc<Mode>,
    seen: Arc<Mutex<Vec<String>>>,
) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    seen.lock().unwrap().push(request.clone());
    let reply = match &*mode {
        Mode::Auto(handler) => handler(&request),
        Mode::Gated(sender) => {
            let (reply, decided) = oneshot::channel();
            if sender.send(Pending { request, reply }).is_err() {
                return;
            }
            match decided.await {
                Ok(reply) => reply,
                Err(_) => return,
            }
        }
    };
    let Reply::Answer {
        status,
        headers,
        body,
        delay,
    } = reply
    else {
        return;
    };
    tokio::time::sleep(delay).await;
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

/// The request head and its body (by content-length), as text.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return Some(String::from_utf8_lossy(&buffer).into_owned());
            }
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A port nothing listens on: bind, note, close.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A CA and a `localhost` leaf valid until `not_after_year`-01-01: the server's TLS config
/// and the CA's DER for the client to trust.
pub fn tls_localhost(not_after_year: i32) -> (Arc<rustls::ServerConfig>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "bulwark test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);

    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    leaf.not_before = rcgen::date_time_ymd(2024, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(not_after_year, 1, 1);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    (Arc::new(config), ca_cert.der().to_vec())
}
