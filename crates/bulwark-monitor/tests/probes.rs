//! Probes against real local servers: a small HTTP server, TCP listeners, and the shared
//! PostgreSQL and Redis of `scripts/test.sh` (those tests fail without them).

mod common;

use std::time::{Duration, Instant, SystemTime};

use bulwark_monitor::probe::{
    self, HttpClients, MAX_BODY_BYTES, ProbeError, certificate_time_left,
};
use bulwark_monitor::{Condition, ProbeSpec};
use bytes::Bytes;
use common::{Reply, TestServer, closed_port};

const TIMEOUT: Duration = Duration::from_secs(5);

fn passes(conditions: &[&str], result: &bulwark_monitor::ProbeResult) -> bool {
    let observation = result.observation();
    conditions.iter().all(|text| {
        Condition::parse(text)
            .unwrap()
            .evaluate(&observation)
            .success
    })
}

#[tokio::test]
async fn http_status_and_json_body_are_observed() {
    let server = TestServer::auto(|_| Reply::body(200, br#"{"status":"UP","items":[1,2]}"#)).await;
    let clients = HttpClients::new().unwrap();
    let spec = ProbeSpec::http_get(server.url("/health"));

    let result = probe::check(&spec, TIMEOUT, true, &clients).await;
    assert_eq!(result.error, None);
    assert_eq!(result.status, Some(200));
    assert!(result.connected);
    assert_eq!(result.certificate_expiration, None);
    assert!(passes(
        &[
            "[STATUS] == 200",
            "[BODY].status == UP",
            "len([BODY].items) == 2"
        ],
        &result
    ));

    // Without a [BODY] condition the body is not kept.
    let result = probe::check(&spec, TIMEOUT, false, &clients).await;
    assert_eq!(result.status, Some(200));
    assert_eq!(result.body, None);
    assert!(server.requests.lock().unwrap()[0].starts_with("GET /health HTTP/1.1"));
}

#[tokio::test]
async fn default_http_conditions_accept_2xx_only() {
    let server = TestServer::auto(|request| {
        if request.starts_with("GET /created") {
            Reply::status(201)
        } else {
            Reply::status(503)
        }
    })
    .await;
    let clients = HttpClients::new().unwrap();
    for (path, expected) in [("/created", true), ("/broken", false)] {
        let spec = ProbeSpec::http_get(server.url(path));
        let result = probe::check(&spec, TIMEOUT, false, &clients).await;
        let observation = result.observation();
        let ok = spec
            .default_conditions()
            .iter()
            .all(|c| c.evaluate(&observation).success);
        assert_eq!(ok, expected, "{path}");
    }
}

#[tokio::test]
async fn http_sends_method_headers_and_body() {
    let server = TestServer::auto(|_| Reply::status(204)).await;
    let clients = HttpClients::new().unwrap();
    let spec = ProbeSpec::Http {
        url: server.url("/submit"),
        method: http::Method::POST,
        headers: vec![("X-Probe".into(), "yes".into())],
        body: Some(Bytes::from_static(b"ping")),
        follow_redirects: false,
    };
    let result = probe::check(&spec, TIMEOUT, false, &clients).await;
    assert_eq!(result.status, Some(204));
    let request = server.requests.lock().unwrap()[0].clone();
    assert!(request.starts_with("POST /submit HTTP/1.1"), "{request}");
    assert!(
        request.to_ascii_lowercase().contains("x-probe: yes"),
        "{request}"
    );
    assert!(request.ends_with("\r\n\r\nping"), "{request}");
}

#[tokio::test]
async fn the_body_is_capped_at_64_kib() {
    let big = vec![b'a'; 100 * 1024];
    let server = TestServer::auto(move |_| Reply::body(200, &big)).await;
    let clients = HttpClients::new().unwrap();
    let result = probe::check(
        &ProbeSpec::http_get(server.url("/")),
        TIMEOUT,
        true,
        &clients,
    )
    .await;
    assert_eq!(result.error, None);
    assert_eq!(result.body.as_ref().map(Bytes::len), Some(65_536));
    assert_eq!(MAX_BODY_BYTES, 65_536);
}

#[tokio::test]
async fn redirects_are_followed_only_when_asked() {
    let server = TestServer::auto(|request| {
        if request.starts_with("GET /old") {
            Reply::Answer {
                status: 302,
                headers: vec![("location".into(), "/new".into())],
                body: Vec::new(),
                delay: Duration::ZERO,
            }
        } else {
            Reply::status(200)
        }
    })
    .await;
    let clients = HttpClients::new().unwrap();
    let mut spec = ProbeSpec::http_get(server.url("/old"));
    assert_eq!(
        probe::check(&spec, TIMEOUT, false, &clients).await.status,
        Some(302)
    );
    if let ProbeSpec::Http {
        follow_redirects, ..
    } = &mut spec
    {
        *follow_redirects = true;
    }
    assert_eq!(
        probe::check(&spec, TIMEOUT, false, &clients).await.status,
        Some(200)
    );
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let server = TestServer::auto(|_| Reply::Answer {
        status: 200,
        headers: Vec::new(),
        body: Vec::new(),
        delay: Duration::from_secs(10),
    })
    .await;
    let clients = HttpClients::new().unwrap();
    let started = Instant::now();
    let result = probe::check(
        &ProbeSpec::http_get(server.url("/")),
        Duration::from_millis(200),
        false,
        &clients,
    )
    .await;
    assert_eq!(result.error, Some(ProbeError::Timeout));
    assert_eq!(result.status, None);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!passes(&["[STATUS] != 500"], &result));
}

#[tokio::test]
async fn a_refused_connection_names_no_credentials() {
    let clients = HttpClients::new().unwrap();
    let url = format!(
        "http://admin:hunter2@127.0.0.1:{}/?token=hunter2",
        closed_port()
    );
    let result = probe::check(
        &ProbeSpec::http_get(url.parse().unwrap()),
        TIMEOUT,
        false,
        &clients,
    )
    .await;
    assert_eq!(result.error, Some(ProbeError::ConnectRefused));
    assert!(!result.connected);
    assert_eq!(result.error.unwrap().to_string(), "connection refused");
}

#[tokio::test]
async fn a_connection_closed_without_an_answer_fails() {
    let server = TestServer::auto(|_| Reply::Drop).await;
    let clients = HttpClients::new().unwrap();
    let result = probe::check(
        &ProbeSpec::http_get(server.url("/")),
        TIMEOUT,
        false,
        &clients,
    )
    .await;
    assert_eq!(result.error, Some(ProbeError::ConnectionClosed));
    assert_eq!(result.status, None);
}

#[tokio::test]
async fn tcp_connects_or_is_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let clients = HttpClients::new().unwrap();
    let open = ProbeSpec::Tcp {
        address: listener.local_addr().unwrap().to_string(),
    };
    let result = probe::check(&open, TIMEOUT, false, &clients).await;
    assert!(result.connected);
    assert_eq!(result.error, None);
    assert!(passes(&["[CONNECTED] == true"], &result));

    let closed = ProbeSpec::Tcp {
        address: format!("127.0.0.1:{}", closed_port()),
    };
    let result = probe::check(&closed, TIMEOUT, false, &clients).await;
    assert!(!result.connected);
    assert_eq!(result.error, Some(ProbeError::ConnectRefused));
}

#[tokio::test]
async fn postgres_answers_select_1() {
    let url = bulwark_testkit::shared_database_url();
    let clients = HttpClients::new().unwrap();
    let result = probe::check(
        &ProbeSpec::Postgres { url: url.clone() },
        TIMEOUT,
        false,
        &clients,
    )
    .await;
    assert_eq!(result.error, None);
    assert!(result.connected);

    // A database that does not exist: a SQLSTATE, never the URL or its password.
    let mut missing: reqwest::Url = url.parse().unwrap();
    missing.set_path("/bulwark_no_such_database");
    missing.set_password(Some("hunter2")).unwrap();
    let result = probe::check(
        &ProbeSpec::Postgres {
            url: missing.to_string(),
        },
        TIMEOUT,
        false,
        &clients,
    )
    .await;
    assert_eq!(result.error, Some(ProbeError::Server("3D000".into())));
    assert!(!result.error.unwrap().to_string().contains("hunter2"));
}

#[tokio::test]
async fn redis_answers_pong() {
    let url = bulwark_testkit::shared_redis_url();
    let clients = HttpClients::new().unwrap();
    let result = probe::check(&ProbeSpec::Redis { url }, TIMEOUT, false, &clients).await;
    assert_eq!(result.error, None);
    assert!(result.connected);

    let closed = ProbeSpec::Redis {
        url: format!("redis://:hunter2@127.0.0.1:{}/", closed_port()),
    };
    let result = probe::check(&closed, TIMEOUT, false, &clients).await;
    assert!(!result.connected);
    assert_eq!(result.error, Some(ProbeError::ConnectRefused));
}

#[tokio::test]
async fn https_reports_the_certificate_time_left() {
    let (tls, ca) = common::tls_localhost(2099);
    let server = TestServer::auto_tls(tls, |_| Reply::status(200)).await;
    let clients = HttpClients::with_extra_roots(&[ca]).unwrap();
    let url = format!("https://localhost:{}/", server.addr.port());
    let result = probe::check(
        &ProbeSpec::http_get(url.parse().unwrap()),
        TIMEOUT,
        false,
        &clients,
    )
    .await;
    assert_eq!(result.error, None);
    assert_eq!(result.status, Some(200));
    let left = result
        .certificate_expiration
        .expect("a certificate was seen");
    // notAfter 2099-01-01T00:00:00Z = 4070908800 s since the epoch.
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    let expected = Duration::from_secs(4_070_908_800) - now;
    assert!(
        left.abs_diff(expected) < Duration::from_secs(60),
        "{left:?} vs {expected:?}"
    );
    assert!(passes(&["[CERTIFICATE_EXPIRATION] > 30d"], &result));

    // A client without the CA refuses the handshake.
    let strict = HttpClients::new().unwrap();
    let result = probe::check(
        &ProbeSpec::http_get(url.parse().unwrap()),
        TIMEOUT,
        false,
        &strict,
    )
    .await;
    assert_eq!(result.error, Some(ProbeError::Tls));
}

#[test]
fn certificate_time_left_reads_not_after() {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    // 2029-12-31T00:00:00Z = 1893369600 s; notAfter 2030-01-01T00:00:00Z = 1893456000 s.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_893_369_600);
    assert_eq!(
        certificate_time_left(cert.der(), now),
        Some(Duration::from_secs(86_400))
    );
    let later = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000);
    assert_eq!(
        certificate_time_left(cert.der(), later),
        Some(Duration::ZERO)
    );
    assert_eq!(certificate_time_left(b"not a certificate", now), None);
}
