//! A route's request checks and response headers, against the real binary: 405 with
//! `Allow`, 413 (declared and streamed), 415, JSON 400s, 431, screening in both modes,
//! security headers, and path normalisation before routing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Bulwark, TestUpstream, raw_exchange, split_json_response};

fn config(upstream: &TestUpstream, extra_upstream: Option<SocketAddr>) -> String {
    let plain = extra_upstream.map_or_else(String::new, |addr| {
        format!(
            r#"
[[upstreams]]
name = "plain"
targets = ["http://{addr}"]

[[routes]]
name = "plain"
path_prefix = "/plain"
upstream = "plain"

[[routes]]
name = "bare"
path_prefix = "/bare"
upstream = "plain"
security_headers = false

[[routes]]
name = "tuned"
path_prefix = "/tuned"
upstream = "plain"
security_headers = {{ frame_options = "SAMEORIGIN", referrer_policy = "no-referrer" }}
"#
        )
    });
    format!(
        r#"
[[auth.api_keys]]
name = "ops"
keys = [{{ name = "ops", sha256 = "{zero}" }}]

[[upstreams]]
name = "app"
targets = ["{url}"]
{plain}
[[routes]]
name = "admin"
path_prefix = "/admin"
upstream = "app"
auth = "ops"

[[routes]]
name = "readonly"
path_prefix = "/echo/readonly"
methods = ["GET", "POST"]
upstream = "app"

[[routes]]
name = "upload"
path_prefix = "/upload"
upstream = "app"
max_body_bytes = 1000

[[routes]]
name = "typed"
path_prefix = "/echo/typed"
upstream = "app"
content_types = ["application/json"]

[[routes]]
name = "json"
path_prefix = "/record"
upstream = "app"
json = {{ max_depth = 3, max_bytes = 200 }}
screening = "block"

[[routes]]
name = "strict"
path_prefix = "/echo/strict"
upstream = "app"
max_header_count = 10
max_header_bytes = 512

[[routes]]
name = "blocked"
path_prefix = "/echo/blocked"
upstream = "app"
screening = "block"

[[routes]]
name = "logged"
path_prefix = "/echo/logged"
upstream = "app"
screening = "log"

[[routes]]
name = "slashes"
path_prefix = "/echo/files"
upstream = "app"
allow_encoded_slashes = true

[[routes]]
name = "echo"
path_prefix = "/echo"
upstream = "app"
"#,
        url = upstream.url(),
        zero = "0".repeat(64),
    )
}

async fn problem_type(resp: reqwest::Response) -> String {
    let body: serde_json::Value = resp.json().await.expect("a problem body");
    body["type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("https://bulwark.dev/problems/")
        .to_string()
}

#[tokio::test]
async fn a_path_with_the_wrong_method_gets_405_with_allow() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, None));
    let resp = reqwest::Client::new()
        .delete(bulwark.url("/echo/readonly/1"))
        .send()
        .await
        .unwrap();
    // `readonly` does not take DELETE, but the later catch-all `echo` does: routes are
    // tried in order and the first full match wins.
    assert_eq!(resp.status(), 200);
    // Without a later route taking the method, 405.
    let strict = Bulwark::start(&format!(
        r#"
[[upstreams]]
name = "app"
targets = ["{}"]
[[routes]]
name = "readonly"
path_prefix = "/echo"
methods = ["GET", "POST"]
upstream = "app"
[[routes]]
name = "put"
path_prefix = "/echo/put"
methods = ["PUT"]
upstream = "app"
"#,
        upstream.url()
    ));
    let before = upstream.served();
    let resp = reqwest::Client::new()
        .delete(strict.url("/echo/put/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET, POST, PUT");
    assert_eq!(problem_type(resp).await, "method-not-allowed");
    assert_eq!(upstream.served(), before);
    let resp = reqwest::Client::new()
        .delete(strict.url("/other"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "no path match is still 404");
    assert_eq!(
        strict
            .sample(
                r#"bulwark_request_refused_total{route="readonly",reason="method_not_allowed"}"#
            )
            .await,
        1.0
    );
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_declared_or_streamed() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, None));
    let client = reqwest::Client::new();
    // Declared: refused on Content-Length, before the body is read or the app is asked.
    let resp = client
        .post(bulwark.url("/upload"))
        .body(vec![b'x'; 2000])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(problem_type(resp).await, "body-too-large");
    assert_eq!(upstream.served(), 0);
    let ok = client
        .post(bulwark.url("/upload"))
        .body(vec![b'x'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.text().await.unwrap(), r#"{"len":1000}"#);

    // Streamed (chunked, no length): counted as it passes; the upstream request is
    // aborted when the limit is crossed.
    let mut stream = TcpStream::connect(bulwark.public).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n")
        .await
        .unwrap();
    stream.write_all(&[b'a'; 600]).await.unwrap();
    stream.write_all(b"\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(b"258\r\n").await.unwrap();
    stream.write_all(&[b'b'; 600]).await.unwrap();
    let _ = stream.write_all(b"\r\n0\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    let raw = String::from_utf8_lossy(&out);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("body-too-large"), "{raw}");
    assert_eq!(
        bulwark
            .sample(r#"bulwark_request_refused_total{route="upload",reason="body_too_large"}"#)
            .await,
        2.0
    );
    // A chunked body within the limit passes whole.
    let raw = raw_exchange(
        bulwark.public,
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )
    .await;
    assert!(raw.ends_with(r#"{"len":11}"#), "{raw}");
}

#[tokio::test]
async fn content_types_and_header_limits_are_per_route() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, None));
    let client = reqwest::Client::new();
    let resp = client
        .post(bulwark.url("/echo/typed"))
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(problem_type(resp).await, "unsupported-media-type");
    let resp = client
        .post(bulwark.url("/echo/typed"))
        .header("content-type", "application/json; charset=utf-8")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        client
            .get(bulwark.url("/echo/typed"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "no body, no type needed"
    );

    let mut many = client.get(bulwark.url("/echo/strict"));
    for i in 0..12 {
        many = many.header(format!("x-h{i}"), "1");
    }
    let resp = many.send().await.unwrap();
    assert_eq!(resp.status(), 431);
    assert_eq!(problem_type(resp).await, "header-fields-too-large");
    let resp = client
        .get(bulwark.url("/echo/strict"))
        .header("x-big", "v".repeat(600))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 431);
    // The same headers elsewhere are fine: limits apply after routing.
    let resp = client
        .get(bulwark.url("/echo/other"))
        .header("x-big", "v".repeat(600))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        client
            .get(bulwark.url("/echo/strict"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn json_routes_refuse_malformed_deep_and_large_bodies_saying_which() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, None));
    let client = reqwest::Client::new();
    let post = |body: &'static str| {
        client
            .post(bulwark.url("/record"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, want) in [
        (r#"{"a":"#, "json-malformed"),
        (r#"{"a":[{"b":[1]}]}"#, "json-too-deep"),
        (
            r#"{"a":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#,
            "json-too-large",
        ),
    ] {
        let resp = post(body).await.unwrap();
        assert_eq!(resp.status(), 400, "{want}");
        assert_eq!(problem_type(resp).await, want);
    }
    // Too large while chunked: read up to the limit, then refused.
    let mut chunked = b"POST /record HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nfa\r\n[\"".to_vec();
    chunked.extend(std::iter::repeat_n(b'y', 246));
    chunked.extend_from_slice(b"\"]\r\n0\r\n\r\n");
    let (head, problem) = split_json_response(&raw_exchange(bulwark.public, &chunked).await);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("json-too-large")
    );
    // Screening of JSON strings (the route blocks).
    let resp = post(r#"{"comment":"<script>alert(1)</script>"}"#)
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(problem_type(resp).await, "screening-blocked");
    assert!(
        upstream.recorded().is_empty(),
        "nothing refused reached the app"
    );
    // A good body passes byte for byte.
    let body = r#"{"a": [{"b": 1}], "name": "O'Brien"}"#;
    assert_eq!(post(body).await.unwrap().status(), 204);
    let recorded = upstream.recorded();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].body, body.as_bytes());
}

#[tokio::test]
async fn screening_blocks_or_logs_query_strings() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, None));
    let client = reqwest::Client::new();
    let resp = client
        .get(bulwark.url("/echo/blocked?q=1%27%20OR%20%271%27%3D%271"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(problem_type(resp).await, "screening-blocked");
    assert_eq!(upstream.served(), 0);
    let resp = client
        .get(bulwark.url("/echo/blocked?q=plain+words"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Log mode lets the request through and counts it.
    let resp = client
        .get(bulwark.url("/echo/logged?q=%3Cscript%3Ealert(1)%3C/script%3E"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let scrape = bulwark.metrics().await;
    let sample = |s: &str| crate::support::sample(&scrape, s);
    assert_eq!(
        sample(
            r#"bulwark_screening_matches_total{route="blocked",category="sql_injection",action="blocked"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(r#"bulwark_screening_matches_total{route="logged",category="xss",action="logged"}"#),
        1.0
    );
    assert_eq!(
        sample(r#"security_events_total{event_type="screening_blocked",severity="medium"}"#),
        1.0
    );
    assert!(bulwark.output().contains("Screening matched."));
    assert!(
        !bulwark.output().contains("alert(1)"),
        "the matched input is never logged"
    );
}

/// An upstream that answers every request with `Server`, `X-Powered-By` and, on
/// `/plain/csp`, its own CSP.
async fn chatty_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let csp = if buf.starts_with(b"GET /plain/csp ") {
                    "content-security-policy: default-src 'self'\r\n"
                } else {
                    ""
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nserver: gunicorn/20.1\r\nx-powered-by: PHP/8.1\r\n{csp}content-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = s.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn security_headers_are_added_and_server_headers_removed() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, Some(chatty_upstream().await)));
    let resp = reqwest::get(bulwark.url("/plain/x")).await.unwrap();
    let h = resp.headers();
    assert!(
        h.get("server").is_none() && h.get("x-powered-by").is_none(),
        "{h:?}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["content-security-policy"], "frame-ancestors 'none'");
    assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
    assert!(
        h.get("strict-transport-security").is_none(),
        "HSTS only on TLS connections"
    );
    let resp = reqwest::get(bulwark.url("/plain/csp")).await.unwrap();
    assert_eq!(
        resp.headers()["content-security-policy"],
        "default-src 'self'",
        "the upstream's own policy is kept"
    );
    let resp = reqwest::get(bulwark.url("/bare")).await.unwrap();
    let h = resp.headers();
    assert!(h.get("x-frame-options").is_none() && h.get("x-content-type-options").is_none());
    assert!(
        h.get("server").is_none(),
        "stripped even when the route adds nothing"
    );
    let resp = reqwest::get(bulwark.url("/tuned")).await.unwrap();
    assert_eq!(resp.headers()["x-frame-options"], "SAMEORIGIN");
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn paths_are_normalised_before_routing() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, None));
    let exchange = |path: &str| {
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        async move { raw_exchange(bulwark.public, request.as_bytes()).await }
    };
    // The app sees the path bulwark routed on.
    let (head, echoed) = split_json_response(&exchange("//echo//a/%61%62%7e?x=%2e").await);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(echoed["path"], "/echo/a/ab~");
    assert_eq!(echoed["query"], "x=%2e");
    // An encoded letter does not dodge the route that protects the path.
    for path in ["/%61dmin/users", "//admin/users", "/ADMIN%2e%2e/../admin/x"] {
        let raw = exchange(path).await;
        assert!(
            raw.starts_with("HTTP/1.1 401") || raw.starts_with("HTTP/1.1 400"),
            "{path}: {raw}"
        );
    }
    for (path, want) in [
        ("/echo/../admin/users", "bad-path"),
        ("/echo/%2e%2E/admin/users", "bad-path"),
        ("/echo/./x", "bad-path"),
        ("/echo/a%zz", "bad-path-encoding"),
        ("/echo/a%00b", "bad-path-encoding"),
        ("/echo/a%2Fb", "encoded-slash"),
        ("/echo/a%5cb", "encoded-slash"),
    ] {
        let (head, problem) = split_json_response(&exchange(path).await);
        assert!(head.starts_with("HTTP/1.1 400"), "{path}: {head}");
        assert_eq!(
            problem["type"],
            format!("https://bulwark.dev/problems/{want}"),
            "{path}"
        );
    }
    assert_eq!(
        upstream.served(),
        1,
        "only the first request reached the app"
    );
    // A route that allows encoded slashes gets them as sent (hex upper-cased).
    let (_, echoed) = split_json_response(&exchange("/echo/files/a%2fb").await);
    assert_eq!(echoed["path"], "/echo/files/a%2Fb");
    // `/ADMIN..` is just another path: no route but the catch-all takes it, and the
    // app gets it unchanged rather than resolved.
    let started = Instant::now();
    let (_, echoed) = split_json_response(&exchange("/echo/ADMIN%2e%2e/").await);
    assert_eq!(echoed["path"], "/echo/ADMIN../");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn http2_bodies_without_a_length_are_checked_too() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start(&config(&upstream, None));
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let streamed = |chunks: Vec<&'static [u8]>| {
        reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::from_static(c))),
        ))
    };
    let resp = client
        .post(bulwark.url("/record"))
        .body(streamed(vec![b"{\"a\":", b"[1"]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 400);
    assert_eq!(problem_type(resp).await, "json-malformed");
    let resp = client
        .post(bulwark.url("/echo/typed"))
        .body(streamed(vec![b"{}"]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415, "a body without Content-Type");
    let resp = client
        .post(bulwark.url("/upload"))
        .body(streamed(vec![&[b'x'; 800], &[b'y'; 800]]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(upstream.recorded().is_empty());
}
