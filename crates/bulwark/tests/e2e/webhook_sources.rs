//! Webhook sources beyond the built-in providers, through the real binary: Twilio (signed
//! URL and form parameters), the generic HMAC scheme, dedup by a configured event id or
//! by a hash of the body. Expected signatures come from Twilio's published example (the
//! committed vector) or are computed here with the HMAC primitives, not bulwark's code.

use std::time::Duration;

use base64::Engine;
use hmac::{KeyInit, Mac};
use sha2::Digest;

use crate::support::{Bulwark, Options, TestUpstream, eventually};

// whsec_ + base64 of 32 bytes, as `echo whsec_$(openssl rand -base64 32)` prints.
const SIGNING_KEY: &str = "whsec_q3n0bXh0ZWdqZ2N2b3l3eXpqcWx4a2p0dW9sYmZ2aGQ=";
const HOOK_SECRET: &str = "a-provider-secret-shared-with-bulwark";

// Twilio's published example (crates/bulwark-signatures/tests/vectors/twilio.json, "docs
// example"): auth token, URL, parameters and the signature Twilio computes for them.
const TWILIO_AUTH_TOKEN: &str = "12345";
const TWILIO_PUBLIC_URL: &str = "https://mycompany.com/myapp.php";
const TWILIO_QUERY: &str = "foo=1&bar=2";
const TWILIO_SIGNATURE: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
// The example's parameters as Twilio posts them: form-encoded, so `+` is `%2B`.
const TWILIO_BODY: &str = "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";

/// bulwark with one webhook (`webhook` is the body of its `[[webhooks]]` table, with
/// `{upstream}` standing for the test upstream), its secret in `$HOOK_SECRET`.
fn start(upstream: &TestUpstream, webhook: &str, secret: &str) -> Bulwark {
    Bulwark::start_with(
        &format!(
            "[signing]\nkey = \"${{SIGNING_KEY}}\"\n\n[[webhooks]]\nsecrets = [\"${{HOOK_SECRET}}\"]\nretry_schedule = [\"0ms\", \"50ms\", \"50ms\"]\n{}",
            webhook.replace("{upstream}", &upstream.url())
        ),
        Options {
            env: vec![
                ("SIGNING_KEY", SIGNING_KEY.to_string()),
                ("HOOK_SECRET", secret.to_string()),
            ],
        },
    )
}

async fn post(
    bulwark: &Bulwark,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .post(bulwark.url(path_and_query))
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

async fn wait_for_deliveries(upstream: &TestUpstream, count: usize) {
    assert!(
        eventually(Duration::from_secs(10), || async {
            upstream.recorded().len() >= count
        })
        .await,
        "expected {count} deliveries, got {}",
        upstream.recorded().len()
    );
}

fn delivered_bodies(upstream: &TestUpstream) -> Vec<String> {
    upstream
        .recorded()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

fn start_twilio(upstream: &TestUpstream) -> Bulwark {
    start(
        upstream,
        &format!(
            r#"name = "sms"
path = "/myapp.php"
scheme = "twilio"
public_url = "{TWILIO_PUBLIC_URL}"
destination = "{{upstream}}/record"
"#
        ),
        TWILIO_AUTH_TOKEN,
    )
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

#[tokio::test]
async fn a_twilio_signed_form_post_is_accepted_and_delivered_as_received() {
    let upstream = TestUpstream::start().await;
    let bulwark = start_twilio(&upstream);
    let (status, answer) = post(
        &bulwark,
        &format!("/myapp.php?{TWILIO_QUERY}"),
        &[
            FORM,
            ("x-twilio-signature", TWILIO_SIGNATURE),
            ("i-twilio-idempotency-token", "idem-1"),
        ],
        TWILIO_BODY,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "stored");

    wait_for_deliveries(&upstream, 1).await;
    let delivered = &upstream.recorded()[0];
    assert_eq!(delivered.body, TWILIO_BODY.as_bytes(), "the exact body");
    assert_eq!(
        delivered.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        delivered.headers["x-bulwark-event-id"], "idem-1",
        "Twilio's idempotency token is the event id"
    );
    assert!(delivered.headers.get("x-twilio-signature").is_none());
}

#[tokio::test]
async fn a_forged_twilio_request_is_refused() {
    let upstream = TestUpstream::start().await;
    let bulwark = start_twilio(&upstream);
    let url = format!("/myapp.php?{TWILIO_QUERY}");
    let signed = [FORM, ("x-twilio-signature", TWILIO_SIGNATURE)];

    let tampered = TWILIO_BODY.replace("Digits=1234", "Digits=9999");
    let (status, problem) = post(&bulwark, &url, &signed, &tampered).await;
    assert_eq!(status, 401, "a changed parameter");
    assert_eq!(
        problem["type"],
        "https://bulwark.dev/problems/bad-signature"
    );
    let (status, _) = post(&bulwark, "/myapp.php?foo=1&bar=3", &signed, TWILIO_BODY).await;
    assert_eq!(status, 401, "a changed query string: the URL is signed");
    let (status, _) = post(&bulwark, &url, &[FORM], TWILIO_BODY).await;
    assert_eq!(status, 401, "no signature");

    // The genuine request still passes, and is the only one delivered.
    let (status, _) = post(&bulwark, &url, &signed, TWILIO_BODY).await;
    assert_eq!(status, 200);
    wait_for_deliveries(&upstream, 1).await;
    assert_eq!(delivered_bodies(&upstream), [TWILIO_BODY]);
}

#[tokio::test]
async fn an_hmac_sha512_base64_webhook_with_a_signed_timestamp_is_accepted() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(
        &upstream,
        r#"name = "generic"
path = "/hooks/generic"
scheme = "hmac"
header = "X-Signature"
algorithm = "sha512"
encoding = "base64"
prefix = "v1="
timestamp_header = "X-Timestamp"
destination = "{upstream}/record"
"#,
        HOOK_SECRET,
    );
    let body = r#"{"event":"order.paid","id":"ord_1"}"#;
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    // Default template with a timestamp header: `{timestamp}.{body}`.
    let sign = |timestamp: &str, body: &str| {
        let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.{body}").as_bytes());
        format!(
            "v1={}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        )
    };

    let stale = "1000000000";
    let (status, _) = post(
        &bulwark,
        "/hooks/generic",
        &[("x-timestamp", stale), ("x-signature", &sign(stale, body))],
        body,
    )
    .await;
    assert_eq!(status, 401, "a timestamp outside the tolerance");

    let (status, answer) = post(
        &bulwark,
        "/hooks/generic",
        &[
            ("x-timestamp", &timestamp),
            ("x-signature", &sign(&timestamp, body)),
        ],
        body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "stored");
    wait_for_deliveries(&upstream, 1).await;
    assert_eq!(delivered_bodies(&upstream), [body]);
}

#[tokio::test]
async fn a_configured_header_event_id_deduplicates_different_bodies() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(
        &upstream,
        r#"name = "orders"
path = "/hooks/orders"
scheme = "token"
event_id = { header = "x-request-id" }
destination = "{upstream}/record"
"#,
        HOOK_SECRET,
    );
    let send = |request_id: &'static str, body: &'static str| {
        let bulwark = &bulwark;
        async move {
            post(
                bulwark,
                "/hooks/orders",
                &[("authorization", HOOK_SECRET), ("x-request-id", request_id)],
                body,
            )
            .await
        }
    };

    let (first, a) = send("req-1", r#"{"n":1}"#).await;
    assert_eq!((first, a["status"].as_str()), (200, Some("stored")), "{a}");
    wait_for_deliveries(&upstream, 1).await;
    let (second, b) = send("req-1", r#"{"n":1,"retry":true}"#).await;
    assert_eq!(
        (second, b["status"].as_str()),
        (200, Some("duplicate")),
        "the same request id is a redelivery, whatever the body: {b}"
    );
    assert_eq!(a["id"], b["id"]);
    // A third, distinct event: once it has arrived, the duplicate would have too.
    let (third, _) = send("req-2", r#"{"n":2}"#).await;
    assert_eq!(third, 200);
    wait_for_deliveries(&upstream, 2).await;
    assert_eq!(delivered_bodies(&upstream), [r#"{"n":1}"#, r#"{"n":2}"#]);
    assert_eq!(
        upstream.recorded()[0].headers["x-bulwark-event-id"],
        "req-1"
    );
}

#[tokio::test]
async fn without_an_event_id_the_body_hash_deduplicates() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(
        &upstream,
        r#"name = "plain"
path = "/hooks/plain"
scheme = "token"
destination = "{upstream}/record"
"#,
        HOOK_SECRET,
    );
    let auth = [("authorization", HOOK_SECRET)];
    let body = r#"{"ping":1}"#;

    let (first, a) = post(&bulwark, "/hooks/plain", &auth, body).await;
    assert_eq!((first, a["status"].as_str()), (200, Some("stored")), "{a}");
    wait_for_deliveries(&upstream, 1).await;
    let (second, b) = post(&bulwark, "/hooks/plain", &auth, body).await;
    assert_eq!(
        (second, b["status"].as_str()),
        (200, Some("duplicate")),
        "{b}"
    );
    let (third, _) = post(&bulwark, "/hooks/plain", &auth, r#"{"ping":2}"#).await;
    assert_eq!(third, 200);
    wait_for_deliveries(&upstream, 2).await;
    assert_eq!(delivered_bodies(&upstream), [body, r#"{"ping":2}"#]);
    let expected = format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)));
    assert_eq!(
        upstream.recorded()[0].headers["x-bulwark-event-id"],
        expected.as_str()
    );
}
