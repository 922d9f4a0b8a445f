//! Delivery behaviour through the real binary: FIFO per ordering key while the app is
//! stuck on one key, and the circuit breaker holding messages back (without burning their
//! attempts) while the app is down, then delivering everything once it is back.

use std::time::Duration;

use crate::support::{Bulwark, Options, TestUpstream, eventually};

// whsec_ + base64 of 32 bytes, as `echo whsec_$(openssl rand -base64 32)` prints.
const SIGNING_KEY: &str = "whsec_q3n0bXh0ZWdqZ2N2b3l3eXpqcWx4a2p0dW9sYmZ2aGQ=";
const TOKEN: &str = "a-gateway-token-shared-with-bulwark-0123";

/// One token-scheme webhook at `/hook` delivering to `destination`, with `extra` keys.
fn start(destination: &str, extra: &str) -> Bulwark {
    Bulwark::start_with(
        &format!(
            r#"
[signing]
key = "${{SIGNING_KEY}}"

[[webhooks]]
name = "app"
path = "/hook"
scheme = "token"
secrets = ["${{TOKEN}}"]
destination = "{destination}"
{extra}
"#
        ),
        Options {
            env: vec![
                ("SIGNING_KEY", SIGNING_KEY.to_string()),
                ("TOKEN", TOKEN.to_string()),
            ],
        },
    )
}

async fn send(bulwark: &Bulwark, key: Option<&str>, body: &str) {
    let mut request = reqwest::Client::new()
        .post(bulwark.url("/hook"))
        .header("authorization", TOKEN)
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("x-order-key", key);
    }
    let status = request.send().await.unwrap().status();
    assert_eq!(status, 200, "webhook {body} not acknowledged");
}

fn bodies(upstream: &TestUpstream, key: &str) -> Vec<String> {
    upstream
        .recorded()
        .into_iter()
        .filter(|r| r.headers.get("x-order-key").is_some_and(|k| k == key))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

#[tokio::test]
async fn one_ordering_key_waits_for_its_head_while_other_keys_are_delivered() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(
        &format!("{}/record-hold", upstream.url()),
        r#"concurrency = 4
forward_headers = ["x-order-key"]
ordering_key = { header = "x-order-key" }"#,
    );
    // The app is stuck on A's first message (it holds every A request until released).
    for body in ["a1", "a2", "a3"] {
        send(&bulwark, Some("A"), body).await;
    }
    assert!(
        eventually(Duration::from_secs(10), || async {
            bodies(&upstream, "A").len() == 1
        })
        .await,
        "A's head never reached the app"
    );
    for body in ["b1", "b2"] {
        send(&bulwark, Some("B"), body).await;
    }
    assert!(
        eventually(Duration::from_secs(10), || async {
            bodies(&upstream, "B").len() == 2
        })
        .await,
        "key B was held back by key A"
    );
    assert_eq!(bodies(&upstream, "B"), ["b1", "b2"]);
    // B went through while A's head was still out: nothing else of A was sent.
    assert_eq!(bodies(&upstream, "A"), ["a1"]);

    upstream.release_held();
    assert!(
        eventually(Duration::from_secs(10), || async {
            bodies(&upstream, "A").len() == 3
        })
        .await,
        "A's messages never arrived after the release"
    );
    assert_eq!(bodies(&upstream, "A"), ["a1", "a2", "a3"], "arrival order");
}

#[tokio::test]
async fn an_open_breaker_holds_messages_without_burning_attempts_until_the_app_is_back() {
    let port = bulwark_testkit::free_port();
    let bulwark = start(
        &format!("http://127.0.0.1:{port}/record"),
        r#"concurrency = 1
retry_schedule = ["0ms", "10ms", "10ms", "10ms", "10ms", "10ms", "10ms", "10ms"]
[webhooks.breaker]
consecutive_failures = 2
open_for = "300ms""#,
    );
    let series = |outcome: &str| {
        format!("bulwark_deliveries_total{{destination=\"app\",outcome=\"{outcome}\"}}")
    };
    const REOPENED: &str =
        "circuit_breaker_transitions_total{destination=\"app\",from=\"half_open\",to=\"open\"}";
    for i in 0..5 {
        send(&bulwark, None, &format!("m{i}")).await;
    }
    // The app is down. Without the breaker, 8 attempts 10 ms apart would dead-letter
    // every message within a second; with it, only probes go out while it is open.
    assert!(
        eventually(Duration::from_secs(15), || async {
            bulwark.sample(REOPENED).await >= 3.0
        })
        .await,
        "the breaker never went through open / probe / open cycles"
    );
    let scrape = bulwark.metrics().await;
    let failed = crate::support::sample(&scrape, &series("retry"));
    let reopened = crate::support::sample(&scrape, REOPENED);
    // Every failed attempt is one of the two that opened it, or a probe that reopened it
    // (a probe may still be in flight, so its reopening can be counted before its
    // attempt is settled).
    assert!(
        failed <= 2.0 + reopened,
        "{failed} failed attempts with {reopened} probes"
    );
    assert_eq!(crate::support::sample(&scrape, &series("dead")), 0.0);

    let upstream = TestUpstream::start_on(format!("127.0.0.1:{port}").parse().unwrap()).await;
    assert!(
        eventually(Duration::from_secs(15), || async {
            upstream.recorded().len() == 5
        })
        .await,
        "not everything was delivered once the app was back"
    );
    let mut got: Vec<String> = upstream
        .recorded()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    got.sort();
    assert_eq!(got, ["m0", "m1", "m2", "m3", "m4"]);
    assert!(
        eventually(Duration::from_secs(10), || async {
            bulwark.sample(&series("delivered")).await == 5.0
        })
        .await
    );
    assert_eq!(bulwark.sample(&series("dead")).await, 0.0);
}
