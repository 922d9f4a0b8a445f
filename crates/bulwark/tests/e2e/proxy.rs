//! The reverse proxy seen from outside: routing, streaming, header rewriting, HTTP/2,
//! WebSockets, passive health.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};

use crate::support::{Bulwark, TestUpstream, eventually, raw_exchange, wait_until};

fn one_upstream(upstream: &TestUpstream, extra: &str) -> String {
    format!(
        r#"
{extra}
[[upstreams]]
name = "app"
targets = ["{}"]

[[routes]]
name = "app"
upstream = "app"
"#,
        upstream.url()
    )
}

async fn echo(
    client: &reqwest::Client,
    url: String,
    headers: &[(&str, &str)],
) -> serde_json::Value {
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("echo json")
}

#[tokio::test]
async fn routes_by_host_prefix_and_method_in_file_order() {
    let a = TestUpstream::start().await;
    let b = TestUpstream::start().await;
    let c = TestUpstream::start().await;
    let bulwark = Bulwark::start(&format!(
        r#"
[[upstreams]]
name = "a"
targets = ["{}"]
[[upstreams]]
name = "b"
targets = ["{}"]
[[upstreams]]
name = "c"
targets = ["{}"]

[[routes]]
name = "api-writes"
path_prefix = "/api"
methods = ["POST"]
upstream = "a"
strip_prefix = true

[[routes]]
name = "admin-host"
host = "*.admin.test"
upstream = "b"

[[routes]]
name = "api-reads"
path_prefix = "/echo"
upstream = "c"
"#,
        a.url(),
        b.url(),
        c.url()
    ));
    let client = reqwest::Client::new();

    let resp = client
        .post(bulwark.url("/api/echo/x?q=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["path"], "/echo/x", "prefix stripped");
    assert_eq!(body["query"], "q=1");
    assert_eq!((a.served(), b.served(), c.served()), (1, 0, 0));

    let resp = client
        .get(bulwark.url("/echo"))
        .header("host", "eu.admin.test:8443")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!((a.served(), b.served(), c.served()), (1, 1, 0));

    let body = echo(&client, bulwark.url("/echo/y"), &[]).await;
    assert_eq!(body["path"], "/echo/y");
    assert_eq!((a.served(), b.served(), c.served()), (1, 1, 1));

    // `/echox` is not under `/echo` (404); GET /api is not a write (405, `Allow: POST`).
    for (path, status) in [("/echox", 404), ("/api/x", 405)] {
        let resp = client.get(bulwark.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), status, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        if status == 405 {
            assert_eq!(resp.headers()["allow"], "POST");
        }
        let problem: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(problem["status"], status);
    }
    let scrape = bulwark.metrics().await;
    assert!(
        scrape.contains(
            r#"bulwark_http_requests_total{route="api-writes",method="POST",status="2xx"} 1"#
        ),
        "{scrape}"
    );
    assert!(
        scrape.contains(
            r#"bulwark_http_requests_total{route="_unmatched",method="GET",status="4xx"} 2"#
        ),
        "{scrape}"
    );
}

#[tokio::test]
async fn large_bodies_stream_both_ways_without_buffering() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&one_upstream(&upstream, ""));
    let client = reqwest::Client::new();

    // Download: the first chunk reaches the client while the upstream still holds the
    // rest back, which a buffering proxy could not do.
    let total = 32 * 1024 * 1024;
    let resp = client
        .get(bulwark.url(&format!("/gated/{total}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("first chunk arrives before the upstream finishes")
        .unwrap()
        .unwrap();
    let mut received = first.len();
    upstream.open_gate();
    while let Some(chunk) = stream.next().await {
        received += chunk.unwrap().len();
    }
    assert_eq!(received, total);

    // Upload: the upstream sees the first chunk while the client still holds the rest.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
    let body = reqwest::Body::wrap_stream(futures_util::stream::poll_fn({
        let mut rx = rx;
        move |cx| rx.poll_recv(cx)
    }));
    let request = tokio::spawn(client.post(bulwark.url("/upload-gated")).body(body).send());
    tx.send(Ok(bytes::Bytes::from(vec![1u8; 64 * 1024])))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), upstream.first_chunk())
        .await
        .expect("upstream gets the first chunk before the upload ends");
    let chunk = bytes::Bytes::from(vec![2u8; 1024 * 1024]);
    for _ in 0..31 {
        tx.send(Ok(chunk.clone())).await.unwrap();
    }
    drop(tx);
    let resp = request.await.unwrap().unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["len"], 64 * 1024 + 31 * 1024 * 1024);
}

#[tokio::test]
async fn hop_by_hop_headers_are_removed_both_ways() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&one_upstream(&upstream, ""));
    let raw = raw_exchange(
        bulwark.public,
        b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close, x-client-hop\r\nX-Client-Hop: 1\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\nX-End-To-End: yes\r\n\r\n",
    )
    .await;
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let echoed: serde_json::Value = serde_json::from_str(body).expect("echo body");
    let headers = echoed["headers"].as_object().unwrap();
    for gone in ["x-client-hop", "keep-alive", "te", "proxy-connection"] {
        assert!(
            !headers.contains_key(gone),
            "{gone} crossed the proxy: {headers:?}"
        );
    }
    assert_eq!(headers["x-end-to-end"], "yes");
    assert_ne!(
        headers.get("connection").and_then(|v| v.as_str()),
        Some("close, x-client-hop")
    );

    let resp = reqwest::get(bulwark.url("/hop")).await.unwrap();
    assert!(resp.headers().get("x-upstream-hop").is_none());
    assert!(resp.headers().get("keep-alive").is_none());
    assert_eq!(resp.headers()["x-end-to-end"], "kept");
}

#[tokio::test]
async fn forwarded_headers_are_trusted_only_from_configured_proxies() {
    let upstream = TestUpstream::start().await;
    let spoof = [
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.test"),
    ];
    let client = reqwest::Client::new();

    let untrusted = Bulwark::start(&one_upstream(&upstream, ""));
    let body = echo(&client, untrusted.url("/echo"), &spoof).await;
    assert_eq!(body["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(body["headers"]["x-forwarded-proto"], "http");
    // The Host as the client sent it, port included.
    assert_eq!(
        body["headers"]["x-forwarded-host"],
        untrusted.public.to_string()
    );

    let trusted = Bulwark::start(&one_upstream(
        &upstream,
        "[proxy]\ntrusted_proxies = [\"127.0.0.1/32\"]\n",
    ));
    let body = echo(&client, trusted.url("/echo"), &spoof).await;
    assert_eq!(body["headers"]["x-forwarded-for"], "6.6.6.6, 127.0.0.1");
    assert_eq!(body["headers"]["x-forwarded-proto"], "https");
    assert_eq!(body["headers"]["x-forwarded-host"], "evil.test");
    // The access log names the real client behind the trusted proxy.
    assert!(trusted.wait_for_output("\"client_ip\":\"6.6.6.6\"", Duration::from_secs(5)));
}

#[tokio::test]
async fn request_ids_are_generated_or_propagated() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&one_upstream(&upstream, ""));
    let client = reqwest::Client::new();
    let resp = client.get(bulwark.url("/echo")).send().await.unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["headers"]["x-request-id"], id.as_str());
    assert!(id.len() >= 16);

    let resp = client
        .get(bulwark.url("/echo"))
        .header("x-request-id", "trace-abc-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-abc-1");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["headers"]["x-request-id"], "trace-abc-1");
}

#[tokio::test]
async fn http2_clients_are_proxied_as_http1_with_a_host() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&one_upstream(&upstream, ""));
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = client.get(bulwark.url("/echo/h2")).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["version"], "HTTP/1.1");
    assert_eq!(body["headers"]["host"], bulwark.public.to_string());
}

#[tokio::test]
async fn websocket_upgrades_pass_through() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&one_upstream(&upstream, ""));
    let (mut ws, response) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws", bulwark.public))
            .await
            .expect("websocket handshake through bulwark");
    assert_eq!(response.status(), 101);
    for text in ["hello", "through the proxy"] {
        ws.send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .unwrap();
        let echoed = ws.next().await.unwrap().unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), text);
    }
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn a_dead_target_is_ejected_then_restored_after_its_cooldown() {
    let alive = TestUpstream::start().await;
    let dead_port = bulwark_testkit::free_port();
    let bulwark = Bulwark::start(&format!(
        r#"
[[upstreams]]
name = "app"
targets = ["{}", "http://127.0.0.1:{dead_port}"]
passive_health = {{ max_failures = 1, cooldown = "400ms" }}

[[routes]]
name = "app"
upstream = "app"
"#,
        alive.url()
    ));
    let client = reqwest::Client::new();
    // Round robin reaches the dead target within two requests: 502, then it is out.
    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(
            client
                .get(bulwark.url("/echo"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    statuses.sort();
    assert_eq!(statuses, [200, 502]);
    let before = alive.served();
    for _ in 0..6 {
        let resp = client.get(bulwark.url("/echo")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "ejected target must get no traffic");
    }
    assert_eq!(alive.served(), before + 6);

    // Bring the target up; after the cool-down it takes traffic again.
    let revived = TestUpstream::start_on(format!("127.0.0.1:{dead_port}").parse().unwrap()).await;
    let back = eventually(Duration::from_secs(10), || async {
        let _ = client.get(bulwark.url("/echo")).send().await;
        revived.served() > 0
    })
    .await;
    assert!(back, "restored target never got traffic");
    assert!(bulwark.wait_for_output("Upstream target restored.", Duration::from_secs(5)));
    let events = || -> Vec<String> {
        bulwark
            .audit_events()
            .iter()
            .map(|e| e["event"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // The audit log is written by its own task; wait for it to catch up.
    assert!(
        wait_until(Duration::from_secs(5), || events()
            .contains(&"upstream_target_restored".to_string())),
        "{:?}",
        events()
    );
    assert!(
        events().contains(&"upstream_target_ejected".to_string()),
        "{:?}",
        events()
    );
    let scrape = bulwark.metrics().await;
    assert!(
        // The first connect error, and perhaps one more if the cool-down ended before
        // the revived target was listening.
        scrape.contains(r#"external_api_errors_total{target="app",kind="connect"} "#),
        "{scrape}"
    );
}

#[tokio::test]
async fn all_targets_down_is_503_with_retry_after() {
    let dead_port = bulwark_testkit::free_port();
    let bulwark = Bulwark::start(&format!(
        r#"
[[upstreams]]
name = "app"
targets = ["http://127.0.0.1:{dead_port}"]
passive_health = {{ max_failures = 1, cooldown = "1m" }}
[[routes]]
name = "app"
upstream = "app"
"#
    ));
    let client = reqwest::Client::new();
    let first = client.get(bulwark.url("/")).send().await.unwrap();
    assert_eq!(first.status(), 502);
    let problem: serde_json::Value = first.json().await.unwrap();
    assert_eq!(problem["status"], 502);
    assert!(
        !problem.to_string().contains(&dead_port.to_string()),
        "no internals in problems"
    );
    let second = client.get(bulwark.url("/")).send().await.unwrap();
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "1");
}
