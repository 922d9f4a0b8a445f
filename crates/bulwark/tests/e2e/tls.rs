//! TLS end to end: HTTPS on the public listener (HTTP/1.1 and h2 by ALPN), the redirect
//! listener, a certificate swapped by SIGHUP while a connection stays open, the
//! handshake timeout, and `https` upstreams verified against a `ca_file`. Every CA and
//! key is generated here, at test time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use tokio::io::AsyncReadExt;

use crate::support::{Bulwark, TestUpstream, eventually};

/// A throwaway CA that signs leaf certificates for `127.0.0.1` and `localhost`.
struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A leaf certificate and its key, as PEM, with what the test checks about it.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
    not_after: i64,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Valid from 2024 until 1 January of `until_year`.
    fn leaf(&self, serial: u64, until_year: i32) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params.serial_number = Some(serial.into());
        params.not_before = date_time_ymd(2024, 1, 1);
        params.not_after = date_time_ymd(until_year, 1, 1);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
            not_after: params.not_after.unix_timestamp(),
        }
    }

    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.pem).unwrap();
        path
    }
}

impl Leaf {
    fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

/// `[listen]` with TLS, a redirect listener, all on port 0.
fn tls_listen(cert: &Path, key: &Path, extra_listen: &str) -> String {
    format!(
        r#"
[listen]
public = "127.0.0.1:0"
ops = "127.0.0.1:0"
{extra_listen}

[listen.tls]
cert_file = "{}"
key_file = "{}"
"#,
        cert.display(),
        key.display()
    )
}

fn proxy_to(upstream: &str, ca_file: Option<&Path>) -> String {
    let ca = ca_file.map_or(String::new(), |p| {
        format!("ca_file = \"{}\"\n", p.display())
    });
    format!(
        r#"
[[upstreams]]
name = "app"
targets = ["{upstream}"]
{ca}
[[routes]]
name = "app"
upstream = "app"
"#
    )
}

/// A client that trusts only `ca` (no system roots) and reports the peer certificate.
fn client_trusting(ca: &TestCa) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap()])
        .tls_info(true)
        .timeout(Duration::from_secs(10))
}

fn https_url(bulwark: &Bulwark, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", bulwark.public.port())
}

fn peer_certificate(response: &reqwest::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("a TLS response carries the peer certificate")
        .to_vec()
}

/// The address of the redirect listener, from the addresses line.
fn redirect_addr(bulwark: &Bulwark) -> SocketAddr {
    let output = bulwark.output();
    let line = output
        .lines()
        .find(|l| l.starts_with("{\"listening\""))
        .expect("addresses line");
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    value["listening"]["redirect_http"]
        .as_str()
        .expect("redirect_http address")
        .parse()
        .unwrap()
}

const NOT_AFTER: &str = r#"tls_cert_not_after{listener="public"}"#;

#[tokio::test]
async fn https_serves_http1_and_h2_and_the_redirect_listener_answers_308() {
    let upstream = TestUpstream::start().await;
    let keys = tempfile::tempdir().unwrap();
    let ca = TestCa::new("bulwark test CA");
    let leaf = ca.leaf(1, 2031);
    let (cert, key) = leaf.write(keys.path());
    let bulwark = Bulwark::start(&format!(
        "{}{}",
        tls_listen(&cert, &key, "redirect_http = \"127.0.0.1:0\""),
        proxy_to(&upstream.url(), None)
    ));

    // HTTP/1.1 over TLS: the app learns the client used https.
    let http1 = client_trusting(&ca).http1_only().build().unwrap();
    let response = http1
        .get(https_url(&bulwark, "/echo/one"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(peer_certificate(&response), leaf.der);
    // HSTS goes out on TLS connections only (see request_policy.rs for plain HTTP).
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let echoed: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echoed["headers"]["x-forwarded-proto"], "https");

    // h2 chosen by ALPN (no prior knowledge).
    let h2 = client_trusting(&ca).build().unwrap();
    let response = h2
        .get(https_url(&bulwark, "/echo/two"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);

    // Plain HTTP on the TLS port is not served.
    let plain = reqwest::get(bulwark.url("/echo")).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    // The redirect listener: 308 to the same path and query on the https port.
    let redirect = redirect_addr(&bulwark);
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_follow
        .post(format!("http://{redirect}/a/b?x=1&y=two"))
        .body("kept by 308")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(
        response.headers()["location"],
        format!("https://127.0.0.1:{}/a/b?x=1&y=two", bulwark.public.port()).as_str()
    );
    // A client that follows it lands on the app over https.
    let following = client_trusting(&ca).build().unwrap();
    let response = following
        .get(format!("http://{redirect}/echo/followed?q=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.url().scheme(), "https");
    let echoed: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echoed["path"], "/echo/followed");
    assert_eq!(echoed["query"], "q=1");

    assert_eq!(bulwark.sample(NOT_AFTER).await, leaf.not_after as f64);
    // The key's content never reaches the logs.
    let key_body: String = leaf
        .key_pem
        .lines()
        .nth(1)
        .unwrap()
        .chars()
        .take(24)
        .collect();
    assert!(!bulwark.output().contains(&key_body));
}

#[tokio::test]
async fn sighup_serves_a_new_certificate_to_new_connections_and_keeps_open_ones() {
    let upstream = TestUpstream::start().await;
    let keys = tempfile::tempdir().unwrap();
    let ca = TestCa::new("bulwark test CA");
    let first = ca.leaf(1, 2031);
    let second = ca.leaf(2, 2032);
    let (cert, key) = first.write(keys.path());
    let body = format!(
        "{}{}",
        tls_listen(&cert, &key, ""),
        proxy_to(&upstream.url(), None)
    );
    let bulwark = Bulwark::start(&body);
    assert_eq!(bulwark.sample(NOT_AFTER).await, first.not_after as f64);

    // One client keeps its connection open across the reload.
    let kept = client_trusting(&ca)
        .http1_only()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let response = kept.get(https_url(&bulwark, "/echo")).send().await.unwrap();
    assert_eq!(peer_certificate(&response), first.der);
    response.bytes().await.unwrap();

    second.write(keys.path());
    bulwark.signal("HUP");
    let changed = eventually(Duration::from_secs(10), || async {
        bulwark.sample(NOT_AFTER).await == second.not_after as f64
    })
    .await;
    assert!(changed, "{}", bulwark.output());
    assert_eq!(
        bulwark.output().matches("TLS certificate loaded.").count(),
        2,
        "{}",
        bulwark.output()
    );

    // A new connection gets the new certificate.
    let fresh = client_trusting(&ca).build().unwrap();
    let response = fresh
        .get(https_url(&bulwark, "/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(peer_certificate(&response), second.der);

    // The connection opened before the reload still works, on the old certificate.
    let response = kept.get(https_url(&bulwark, "/echo")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(peer_certificate(&response), first.der);

    // A key that does not match is refused at reload; the running certificate stays.
    let third = ca.leaf(3, 2033);
    std::fs::write(&cert, &third.cert_pem).unwrap();
    bulwark.signal("HUP");
    let refused = eventually(Duration::from_secs(10), || async {
        bulwark
            .sample(r#"bulwark_config_reloads_total{result="failure"}"#)
            .await
            == 1.0
    })
    .await;
    assert!(refused, "{}", bulwark.output());
    assert!(bulwark.output().contains("does not belong"));
    let response = fresh
        .get(https_url(&bulwark, "/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(bulwark.sample(NOT_AFTER).await, second.not_after as f64);
}

#[tokio::test]
async fn a_client_that_never_finishes_the_handshake_is_closed_and_counted() {
    let upstream = TestUpstream::start().await;
    let keys = tempfile::tempdir().unwrap();
    let ca = TestCa::new("bulwark test CA");
    let (cert, key) = ca.leaf(1, 2031).write(keys.path());
    let bulwark = Bulwark::start(&format!(
        "{}{}\n[timeouts]\ntls_handshake = \"300ms\"\nrequest_head = \"30s\"\n",
        tls_listen(&cert, &key, ""),
        proxy_to(&upstream.url(), None)
    ));
    let started = Instant::now();
    let mut silent = tokio::net::TcpStream::connect(bulwark.public)
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf))
        .await
        .expect("bulwark closes the connection by itself");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let counted = eventually(Duration::from_secs(5), || async {
        bulwark
            .sample(r#"bulwark_http_rejected_total{reason="tls_handshake_timeout"}"#)
            .await
            == 1.0
    })
    .await;
    assert!(counted, "{}", bulwark.metrics().await);
    assert_eq!(upstream.served(), 0);
}

#[tokio::test]
async fn an_https_upstream_is_verified_against_its_ca_file() {
    let upstream = TestUpstream::start().await;
    let keys = tempfile::tempdir().unwrap();
    let ca = TestCa::new("upstream CA");
    let other = TestCa::new("someone else's CA");
    let ca_file = ca.write(keys.path(), "ca.pem");
    let wrong_ca_file = other.write(keys.path(), "other-ca.pem");
    // The https app: a second bulwark terminating TLS in front of the plain test upstream.
    let (cert, key) = ca.leaf(7, 2031).write(keys.path());
    let app = Bulwark::start(&format!(
        "{}{}",
        tls_listen(&cert, &key, ""),
        proxy_to(&upstream.url(), None)
    ));
    let app_url = format!("https://127.0.0.1:{}", app.public.port());

    // The health check of that upstream trusts the same CA.
    let check = "[[checks]]\nname = \"app\"\nkind = \"http\"\nupstream = \"app\"\npath = \"/echo/health\"\ninterval = \"100ms\"\n";
    let trusting = Bulwark::start(&format!("{}{check}", proxy_to(&app_url, Some(&ca_file))));
    let response = reqwest::get(trusting.url("/echo/through")).await.unwrap();
    assert_eq!(response.status(), 200);
    let echoed: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echoed["path"], "/echo/through");
    let probed = crate::support::eventually(Duration::from_secs(10), || async {
        trusting
            .sample(r#"bulwark_checks_total{check="app",result="pass"}"#)
            .await
            >= 1.0
    })
    .await;
    assert!(
        probed,
        "the https health check did not pass with the upstream's CA"
    );
    let served = upstream.served();

    let wrong = Bulwark::start(&proxy_to(&app_url, Some(&wrong_ca_file)));
    let response = reqwest::get(wrong.url("/echo/refused")).await.unwrap();
    assert_eq!(response.status(), 502);
    assert!(
        upstream.served() <= served + 2,
        "only health probes reached the app"
    );
    assert!(
        wrong.wait_for_output("Upstream request failed.", Duration::from_secs(5)),
        "{}",
        wrong.output()
    );
}
