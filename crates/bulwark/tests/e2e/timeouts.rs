//! Every edge and upstream timeout, each seen from outside with its problem body.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Bulwark, TestUpstream, raw_exchange, split_json_response, wait_until};

fn config(upstream: &str, timeouts: &str, upstream_extra: &str) -> String {
    format!(
        r#"
[timeouts]
{timeouts}

[proxy]
max_request_head_bytes = 2048

[[upstreams]]
name = "app"
targets = ["{upstream}"]
{upstream_extra}

[[routes]]
name = "app"
upstream = "app"
"#
    )
}

#[tokio::test]
async fn a_slow_request_head_gets_408_and_is_counted() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream.url(), "request_head = \"200ms\"", ""));
    let raw = raw_exchange(bulwark.public, b"GET /echo HTTP/1.1\r\nHost: slow\r\n").await;
    let (head, problem) = split_json_response(&raw);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(head.contains("application/problem+json"));
    assert_eq!(problem["status"], 408);
    assert_eq!(upstream.served(), 0);
    let scrape = bulwark.metrics().await;
    assert!(
        scrape.contains(r#"bulwark_http_rejected_total{reason="request_head_timeout"} 1"#),
        "{scrape}"
    );
    assert!(bulwark.wait_for_output("Request refused before routing.", Duration::from_secs(5)));
    // The audit log is written by its own task; wait for it to catch up.
    let violations = || {
        bulwark
            .audit_events()
            .into_iter()
            .filter(|e| e["event"] == "security_violation" && e["kind"] == "request_head_timeout")
            .count()
    };
    assert!(wait_until(Duration::from_secs(5), || violations() == 1));
    assert_eq!(violations(), 1);
}

#[tokio::test]
async fn an_oversized_request_head_gets_431() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream.url(), "", ""));
    let mut request = b"GET /echo HTTP/1.1\r\nHost: big\r\nX-Filler: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 4000));
    request.extend_from_slice(b"\r\n\r\n");
    let raw = raw_exchange(bulwark.public, &request).await;
    let (head, problem) = split_json_response(&raw);
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    assert_eq!(problem["status"], 431);
    assert_eq!(upstream.served(), 0);
}

#[tokio::test]
async fn an_incomplete_http2_preface_is_cut_off() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(
        &upstream.url(),
        "http2_preface = \"200ms\"\nrequest_head = \"30s\"",
        "",
    ));
    let mut stream = TcpStream::connect(bulwark.public).await.unwrap();
    stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "connection must close at the preface deadline, not the head deadline"
    );
    assert!(
        out.is_empty(),
        "nothing is sent to a client that never finished its preface"
    );
    let scrape = bulwark.metrics().await;
    assert!(
        scrape.contains(r#"bulwark_http_rejected_total{reason="http2_preface_timeout"} 1"#),
        "{scrape}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream.url(), "idle = \"300ms\"", ""));
    let mut stream = TcpStream::connect(bulwark.public).await.unwrap();
    stream
        .write_all(b"GET /status/204 HTTP/1.1\r\nHost: idle\r\n\r\n")
        .await
        .unwrap();
    let answered = Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "idle connection was never closed");
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 204"));
    assert!(
        answered.elapsed() >= Duration::from_millis(300),
        "closed before the idle timeout"
    );
}

#[tokio::test]
async fn a_slow_upstream_gets_504() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream.url(), "", "timeout = \"200ms\""));
    let resp = reqwest::get(bulwark.url("/slow/3000")).await.unwrap();
    assert_eq!(resp.status(), 504);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(problem["status"], 504);
    assert!(problem["request_id"].is_string());
    let scrape = bulwark.metrics().await;
    assert!(
        scrape.contains(r#"bulwark_upstream_requests_total{upstream="app",outcome="timeout"} 1"#),
        "{scrape}"
    );
    assert!(
        scrape.contains(r#"external_api_errors_total{target="app",kind="timeout"} 1"#),
        "{scrape}"
    );
}

#[tokio::test]
async fn an_upstream_that_never_accepts_hits_the_connect_timeout() {
    // A listener whose accept queue is full: the kernel drops further SYNs, so a
    // connect hangs until bulwark's connect timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
        {
            fillers.push(s);
        }
    }
    let bulwark = Bulwark::start(&config(
        &format!("http://{addr}"),
        "",
        "connect_timeout = \"300ms\"\ntimeout = \"20s\"",
    ));
    let started = Instant::now();
    let resp = reqwest::get(bulwark.url("/echo")).await.unwrap();
    assert_eq!(resp.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "connect timeout, not the total timeout"
    );
    let scrape = bulwark.metrics().await;
    assert!(
        scrape.contains(r#"bulwark_upstream_requests_total{upstream="app",outcome="timeout"} 1"#),
        "{scrape}"
    );
    drop(listener);
}

#[tokio::test]
async fn the_total_timeout_cuts_a_stalled_response_body() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream.url(), "", "timeout = \"300ms\""));
    let resp = reqwest::get(bulwark.url("/stall")).await.unwrap();
    assert_eq!(resp.status(), 200, "the head arrived in time");
    let body = tokio::time::timeout(Duration::from_secs(10), resp.bytes()).await;
    let body = body.expect("the body must be cut at the total timeout, not hang");
    assert!(
        body.is_err(),
        "a cut body is an error to the client, never a clean end"
    );
}

#[tokio::test]
async fn a_malformed_later_request_is_refused_and_counted() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream.url(), "", ""));
    // The first head is read by bulwark itself; the second one by hyper.
    let raw = raw_exchange(
        bulwark.public,
        b"GET /status/204 HTTP/1.1\r\nHost: a\r\n\r\nGET /echo HTTP/1.1\r\nHost a-broken-header\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 204"), "{raw}");
    assert!(
        raw.contains("HTTP/1.1 400"),
        "hyper answers the broken head: {raw}"
    );
    assert_eq!(upstream.served(), 1);
    let counted = crate::support::eventually(Duration::from_secs(5), || async {
        bulwark
            .metrics()
            .await
            .contains(r#"bulwark_http_rejected_total{reason="malformed_request"} 1"#)
    })
    .await;
    assert!(counted);
}
