//! Hostile or broken clients: what they may not do to the headers bulwark sets, to the
//! targets' health, to routing, or to bulwark's connections.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::{Bulwark, TestUpstream, eventually, raw_exchange, split_json_response};

fn config(upstream: &TestUpstream, extra: &str) -> String {
    format!(
        r#"
{extra}
[[upstreams]]
name = "app"
targets = ["{}"]
passive_health = {{ max_failures = 1, cooldown = "1m" }}

[[routes]]
name = "public"
path_prefix = "/echo"
upstream = "app"

[[routes]]
name = "admin"
path_prefix = "/admin"
methods = ["GET"]
upstream = "app"
"#,
        upstream.url()
    )
}

#[tokio::test]
async fn connection_cannot_name_the_headers_bulwark_sets() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, ""));
    let raw = raw_exchange(
        bulwark.public,
        b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close, x-forwarded-for, x-request-id, x-forwarded-proto\r\n\r\n",
    )
    .await;
    let echoed = split_json_response(&raw).1;
    assert_eq!(echoed["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(echoed["headers"]["x-forwarded-proto"], "http");
    assert!(echoed["headers"]["x-request-id"].is_string());
}

#[tokio::test]
async fn a_broken_request_body_is_the_clients_fault_not_the_targets() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, ""));
    for _ in 0..3 {
        let raw = raw_exchange(
            bulwark.public,
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\nZZ\r\n",
        )
        .await;
        assert!(raw.is_empty() || raw.starts_with("HTTP/1.1 400"), "{raw}");
    }
    // The only target was not ejected (max_failures = 1): normal traffic still flows.
    let resp = reqwest::get(bulwark.url("/echo")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!bulwark.output().contains("Upstream target ejected."));
}

#[tokio::test]
async fn a_stalled_reader_of_a_large_body_is_dropped_after_the_idle_timeout() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&format!(
        r#"
[timeouts]
idle = "300ms"
[[upstreams]]
name = "app"
targets = ["{}"]
timeout = "1m"
[[routes]]
name = "app"
upstream = "app"
"#,
        upstream.url()
    ));
    let mut stalled = TcpStream::connect(bulwark.public).await.unwrap();
    // Asks for far more than the socket buffers hold, then never reads.
    stalled
        .write_all(b"GET /bytes/200000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || async { upstream.served() == 1 }).await);
    let closed = eventually(Duration::from_secs(10), || async {
        bulwark
            .metrics()
            .await
            .contains("bulwark_open_connections 0\n")
    })
    .await;
    assert!(
        closed,
        "a client that never reads must not hold a connection forever"
    );
    drop(stalled);
}

#[tokio::test]
async fn the_routed_host_is_the_host_the_app_sees() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, ""));
    let raw = raw_exchange(
        bulwark.public,
        b"GET http://other.test/echo HTTP/1.1\r\nHost: public.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    let echoed = split_json_response(&raw).1;
    assert_eq!(echoed["headers"]["host"], "other.test");
    assert_eq!(echoed["headers"]["x-forwarded-host"], "other.test");

    for request in [
        &b"GET /echo HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n"[..],
        &b"GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n"[..],
    ] {
        let raw = raw_exchange(bulwark.public, request).await;
        assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
        assert_eq!(
            split_json_response(&raw).1["type"],
            "https://bulwark.dev/problems/bad-host"
        );
    }
    assert_eq!(upstream.served(), 1);
}

#[tokio::test]
async fn dot_segments_cannot_reach_past_a_route() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, ""));
    let client = reqwest::Client::new();
    for path in ["/echo/../admin/users/1", "/echo/%2e%2e/admin/users/1"] {
        let raw = raw_exchange(
            bulwark.public,
            format!("DELETE {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(raw.starts_with("HTTP/1.1 400"), "{path}: {raw}");
    }
    assert_eq!(upstream.served(), 0);
    let resp = client
        .delete(bulwark.url("/admin/users/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        405,
        "DELETE is not routed to /admin: the path matches, the method does not"
    );
    let scrape = bulwark.metrics().await;
    assert!(
        scrape.contains(r#"bulwark_http_rejected_total{reason="malformed_request"} 2"#),
        "{scrape}"
    );
}

#[tokio::test]
async fn only_websocket_upgrades_pass_and_idle_tunnels_close() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&format!(
        r#"
[timeouts]
idle = "300ms"
[[upstreams]]
name = "app"
targets = ["{}"]
[[routes]]
name = "app"
upstream = "app"
"#,
        upstream.url()
    ));
    let raw = raw_exchange(
        bulwark.public,
        b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, close\r\nUpgrade: h2c\r\n\r\n",
    )
    .await;
    let echoed = split_json_response(&raw).1;
    assert!(echoed["headers"].get("upgrade").is_none(), "{echoed}");

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", bulwark.public))
        .await
        .expect("handshake");
    let ended = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
    let ended = ended.expect("an idle tunnel is closed after the idle timeout");
    assert!(
        !matches!(
            ended,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_)))
        ),
        "no data was sent, so the only thing to arrive is the end: {ended:?}"
    );
}

/// Known smuggling payloads, each sent on its own connection. Each gets 400 or a closed
/// connection; none reaches the upstream.
const SMUGGLING: &[(&str, &[u8])] = &[
    (
        "conflicting Content-Length",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    ),
    (
        "Content-Length list",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 6\r\n\r\nhello!",
    ),
    (
        "signed Content-Length",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
    ),
    (
        "two Transfer-Encoding lines",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "chunked, chunked",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "gzip, chunked",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "identity, chunked",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "unknown coding",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "Transfer-Encoding on HTTP/1.0",
        b"POST /echo HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "invalid chunk size",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "negative chunk size",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "chunk size overflow",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF5\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "chunk lines ended by LF",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
    ),
    (
        "bare CR in a chunk extension",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a\rb\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "whitespace before colon",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello",
    ),
    (
        "whitespace before colon on Transfer-Encoding",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello",
    ),
    (
        "bare CR in a header",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nX-A: a\rContent-Length: 5\r\n\r\nhello",
    ),
    (
        "bare CR ending the request line",
        b"GET /echo HTTP/1.1\rHost: t\r\n\r\n",
    ),
    (
        "obs-fold",
        b"GET /echo HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n",
    ),
    (
        "obs-fold continuing Transfer-Encoding",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n ,chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "NUL in a header value",
        b"GET /echo HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n",
    ),
];

#[tokio::test]
async fn smuggling_payloads_are_refused_and_never_reach_the_upstream() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&format!(
        r#"
[timeouts]
request_head = "1s"
[[upstreams]]
name = "app"
targets = ["{}"]
[[routes]]
name = "app"
upstream = "app"
"#,
        upstream.url()
    ));
    for (name, payload) in SMUGGLING {
        let raw = raw_exchange(bulwark.public, payload).await;
        assert!(
            raw.is_empty() || raw.starts_with("HTTP/1.1 400") || raw.starts_with("HTTP/1.0 400"),
            "{name}: {raw}"
        );
    }
    assert_eq!(upstream.served(), 0, "no payload reached the upstream");
    let scrape = bulwark.metrics().await;
    let refused = crate::support::sample(
        &scrape,
        r#"bulwark_http_rejected_total{reason="malformed_request"}"#,
    );
    assert_eq!(
        refused,
        SMUGGLING.len() as f64,
        "each one is counted: {scrape}"
    );
    assert_eq!(
        crate::support::sample(
            &scrape,
            r#"security_events_total{event_type="malformed_request",severity="medium"}"#
        ),
        SMUGGLING.len() as f64
    );
    // The listener is fine afterwards.
    assert_eq!(
        reqwest::get(bulwark.url("/echo")).await.unwrap().status(),
        200
    );
}

/// `Content-Length` with `Transfer-Encoding`: two ways to find where the body ends.
/// On a connection's first request bulwark reads the raw head itself and refuses it with
/// 400; on later requests hyper resolves it as RFC 9112 §6.3 allows (chunked wins,
/// `Content-Length` is dropped, the connection closes after the answer). Either way the
/// request hidden in the body never reaches the upstream.
#[tokio::test]
async fn content_length_with_chunked_is_refused_or_forwarded_only_unambiguously() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&format!(
        r#"
[[upstreams]]
name = "app"
targets = ["{}"]
[[routes]]
name = "app"
upstream = "app"
"#,
        upstream.url()
    ));
    let both = [
        &b"POST /record HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        &b"POST /record HTTP/1.1\r\nHost: t\r\ntransfer-encoding: chunked\r\ncontent-length: 40\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"[..],
    ];
    // First request on the connection: 400, nothing forwarded.
    for payload in both {
        let raw = raw_exchange(bulwark.public, payload).await;
        assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
        assert!(!raw.contains("smuggled"), "{raw}");
    }
    assert_eq!(upstream.served(), 0, "nothing reached the upstream");

    // After a clean first request on the same connection: one well-framed request.
    for payload in both {
        let mut request = b"GET /echo/first HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
        request.extend_from_slice(payload);
        let started = std::time::Instant::now();
        let raw = raw_exchange(bulwark.public, &request).await;
        assert!(raw.contains("HTTP/1.1 204"), "{raw}");
        assert!(
            !raw.contains("/echo/smuggled"),
            "the hidden request was not answered: {raw}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the connection is closed after the answer"
        );
    }
    for recorded in upstream.recorded() {
        assert!(recorded.headers.get("content-length").is_none());
        assert_eq!(recorded.body, "hello".as_bytes());
    }
    assert_eq!(
        upstream.recorded().len(),
        2,
        "one /record each, nothing hidden"
    );
}
