//! The webhook inbox through the real binary: a signed webhook is stored, acknowledged
//! and delivered to the app with bulwark's own signature; forged and duplicate ones are
//! not delivered. Signatures are computed here with the HMAC primitives directly, not
//! with bulwark's code.

use std::time::Duration;

use base64::Engine;
use hmac::{KeyInit, Mac};

use crate::support::{Bulwark, Options, TestUpstream, eventually};

const GITHUB_SECRET: &str = "It's a Secret to Everybody, and long";
// whsec_ + base64 of 32 bytes, as `echo whsec_$(openssl rand -base64 32)` prints.
const SIGNING_KEY: &str = "whsec_q3n0bXh0ZWdqZ2N2b3l3eXpqcWx4a2p0dW9sYmZ2aGQ=";

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn github_signature(body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(GITHUB_SECRET.as_bytes(), body))
    )
}

fn start(upstream: &TestUpstream) -> Bulwark {
    start_under(&[], upstream)
}

/// The GitHub webhook delivering to `upstream`'s `/record`, run under `wrapper`.
fn start_under(wrapper: &[&str], upstream: &TestUpstream) -> Bulwark {
    start_configured(wrapper, upstream, "", "")
}

/// The same webhook with `before` ahead of it (top-level tables such as `[timeouts]`)
/// and `after` following its table (`[[webhooks.limits]]`, ...).
fn start_configured(
    wrapper: &[&str],
    upstream: &TestUpstream,
    before: &str,
    after: &str,
) -> Bulwark {
    Bulwark::start_under(
        wrapper,
        &format!(
            r#"
{before}
[signing]
key = "${{SIGNING_KEY}}"

[[webhooks]]
name = "github"
path = "/webhooks/github"
scheme = "github"
secrets = ["${{GITHUB_SECRET}}"]
destination = "{}/record"
forward_headers = ["x-github-event"]
retry_schedule = ["0ms", "50ms", "50ms"]
{after}
"#,
            upstream.url()
        ),
        Options {
            env: vec![
                ("SIGNING_KEY", SIGNING_KEY.to_string()),
                ("GITHUB_SECRET", GITHUB_SECRET.to_string()),
            ],
        },
    )
}

async fn post(
    bulwark: &Bulwark,
    body: &'static str,
    signature: &str,
    delivery: &str,
) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(bulwark.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_signed_webhook_is_stored_acknowledged_and_delivered_with_bulwarks_signature() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(&upstream);
    let body = r#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let (status, answer) = post(&bulwark, body, &github_signature(body.as_bytes()), "d-1").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "stored");

    assert!(
        eventually(Duration::from_secs(10), || async {
            upstream.recorded().len() == 1
        })
        .await
    );
    let delivered = &upstream.recorded()[0];
    assert_eq!(
        delivered.body,
        body.as_bytes(),
        "the body exactly as received"
    );
    let h = &delivered.headers;
    assert_eq!(h["x-github-event"], "push", "allow-listed provider header");
    assert!(
        h.get("x-hub-signature-256").is_none(),
        "provider signatures are never forwarded"
    );
    assert_eq!(h["webhook-id"], answer["id"].as_str().unwrap());

    // The hop signature: Standard Webhooks, keyed with the decoded part of whsec_.
    let key = base64::engine::general_purpose::STANDARD
        .decode(SIGNING_KEY.strip_prefix("whsec_").unwrap())
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        h["webhook-id"].to_str().unwrap(),
        h["webhook-timestamp"].to_str().unwrap(),
        body
    );
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256(&key, signed.as_bytes()))
    );
    assert_eq!(h["webhook-signature"], expected.as_str());

    let scrape = bulwark.metrics().await;
    assert!(
        scrape.contains(r#"bulwark_webhooks_received_total{webhook="github",outcome="stored"} 1"#),
        "{scrape}"
    );
}

#[tokio::test]
async fn forged_and_duplicate_webhooks_are_not_delivered() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(&upstream);
    let body = r#"{"action":"opened"}"#;

    let (status, problem) = post(
        &bulwark,
        body,
        &github_signature(b"{\"action\":\"closed\"}"),
        "d-x",
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        problem["type"],
        "https://bulwark.dev/problems/bad-signature"
    );

    let good = github_signature(body.as_bytes());
    let (first, a) = post(&bulwark, body, &good, "d-2").await;
    let (second, b) = post(&bulwark, body, &good, "d-2").await;
    assert_eq!((first, second), (200, 200), "a redelivery is acknowledged");
    assert_eq!(a["status"], "stored");
    assert_eq!(b["status"], "duplicate");
    assert_eq!(a["id"], b["id"]);

    assert!(
        eventually(Duration::from_secs(10), || async {
            upstream.recorded().len() == 1
        })
        .await
    );
    // A third, distinct event flows normally and proves the queue kept moving.
    let (third, _) = post(&bulwark, body, &good, "d-3").await;
    assert_eq!(third, 200);
    assert!(
        eventually(Duration::from_secs(10), || async {
            upstream.recorded().len() == 2
        })
        .await
    );
    assert_eq!(
        upstream.recorded().len(),
        2,
        "the forged one and the duplicate never arrive"
    );
    let scrape = bulwark.metrics().await;
    assert!(
        scrape.contains(
            r#"webhook_signature_validations_total{webhook="github",result="invalid"} 1"#
        ),
        "{scrape}"
    );
}

/// Guarantee 1: a 2xx for a webhook is written only after the database was synced. A
/// crash test cannot see a missing fsync, so the order of system calls is read from
/// strace: some fsync/fdatasync of the database or its WAL must come before the write
/// of each `HTTP/1.1 200` to the client.
#[tokio::test]
async fn the_acknowledgement_is_written_after_the_store_was_synced() {
    let upstream = TestUpstream::start().await;
    let bulwark = start_under(
        &[
            "strace",
            "-f",
            "-y",
            "-s",
            "32",
            "-e",
            "trace=fsync,fdatasync,write,writev,sendto,sendmsg",
            "-o",
            "{dir}/strace.log",
        ],
        &upstream,
    );
    let mut acknowledged = 0;
    for i in 0..3 {
        let body = r#"{"n":1}"#;
        let (status, _) = post(
            &bulwark,
            body,
            &github_signature(body.as_bytes()),
            &format!("sync-{i}"),
        )
        .await;
        assert_eq!(status, 200);
        acknowledged += 1;
    }
    let log_path = bulwark.dir.path().join("strace.log");
    let ordered = eventually(Duration::from_secs(10), || async {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.matches("HTTP/1.1 200").count() >= acknowledged
    })
    .await;
    assert!(ordered, "strace never saw the acknowledgements");
    let log = std::fs::read_to_string(&log_path).unwrap();
    // strace splits a call that another thread interrupts into `<unfinished ...>` and
    // `<... resumed>` lines; a sync counts once it has returned, a write from when it
    // started. Causality keeps that order honest: the writer thread must return from
    // its sync before it can tell the request task to answer.
    let mut synced_since_last_ack = false;
    let mut pending_sync: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut checked = 0;
    for line in log.lines() {
        let pid = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        // Syncs while the store opened (migrations) happen before bulwark says it is
        // up; only syncs after that count for the first acknowledgement.
        if line.contains("listening") && line.contains("write(1") {
            synced_since_last_ack = false;
        }
        let sync_call = (line.contains(" fsync(") || line.contains(" fdatasync("))
            && line.contains("bulwark.db");
        let resumed_sync =
            line.contains("<... fsync resumed>") || line.contains("<... fdatasync resumed>");
        if sync_call && line.contains("<unfinished") {
            pending_sync.insert(pid);
        } else if sync_call || (resumed_sync && pending_sync.remove(&pid)) {
            synced_since_last_ack = true;
        }
        if line.contains("HTTP/1.1 200") && !line.contains("resumed>") {
            assert!(
                synced_since_last_ack,
                "a 200 was written with no database sync before it:\n{line}\n\n{log}"
            );
            synced_since_last_ack = false;
            checked += 1;
        }
    }
    assert_eq!(checked, acknowledged, "each acknowledgement was checked");
}

/// Guarantee 3: `kill -9` at any moment loses nothing acknowledged. Webhooks are sent
/// concurrently, bulwark is killed while they are in flight, and after a restart every
/// webhook that got a 200 is delivered at least once; nothing unsent appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_to_kill_9() {
    for round in 0..2 {
        let upstream = TestUpstream::start().await;
        let bulwark = start(&upstream);
        let url = bulwark.url("/webhooks/github");
        let client = reqwest::Client::new();
        let sent = 150;
        let (acks_tx, mut acks_rx) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..sent {
            let (client, url, acks) = (client.clone(), url.clone(), acks_tx.clone());
            tokio::spawn(async move {
                let body = format!(r#"{{"round":{round},"n":{i}}}"#);
                let result = client
                    .post(url)
                    .header("x-github-delivery", format!("crash-{round}-{i}"))
                    .header("x-hub-signature-256", github_signature(body.as_bytes()))
                    .body(body.clone())
                    .send()
                    .await;
                let acknowledged = matches!(&result, Ok(r) if r.status() == 200);
                let _ = acks.send((body, acknowledged));
            });
        }
        drop(acks_tx);
        // Kill once a few acknowledgements are in, with the rest still in flight.
        let mut outcomes = Vec::new();
        while outcomes.iter().filter(|(_, ok)| *ok).count() < 5 {
            outcomes.push(acks_rx.recv().await.expect("senders report"));
        }
        let bulwark = bulwark.kill_and_restart();
        while let Some(outcome) = acks_rx.recv().await {
            outcomes.push(outcome);
        }
        let acknowledged: Vec<&String> = outcomes
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(b, _)| b)
            .collect();
        assert!(acknowledged.len() >= 5);
        eprintln!(
            "round {round}: {} of {sent} acknowledged before or around the kill",
            acknowledged.len()
        );

        let all_delivered = eventually(Duration::from_secs(20), || async {
            let delivered: Vec<String> = upstream
                .recorded()
                .iter()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .collect();
            acknowledged.iter().all(|b| delivered.contains(b))
        })
        .await;
        assert!(
            all_delivered,
            "round {round}: an acknowledged webhook was lost; acknowledged {}, delivered {}",
            acknowledged.len(),
            upstream.recorded().len()
        );
        let sent_bodies: Vec<String> = (0..sent)
            .map(|i| format!(r#"{{"round":{round},"n":{i}}}"#))
            .collect();
        for r in upstream.recorded() {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            assert!(
                sent_bodies.contains(&body),
                "round {round}: delivered something never sent: {body}"
            );
        }
        drop(bulwark);
    }
}

/// A provider that hangs up right after sending its request (a timeout on its side)
/// never sees the 2xx. Whatever bulwark had done is kept consistent: a webhook that was
/// stored is delivered once, and the provider's retry is answered as a duplicate, not
/// delivered again; one that was not stored is stored by the retry.
#[tokio::test]
async fn a_provider_hanging_up_before_the_answer_gets_its_retry_deduplicated() {
    use tokio::io::AsyncWriteExt;

    let upstream = TestUpstream::start().await;
    let bulwark = start(&upstream);
    let body = r#"{"action":"hung-up"}"#;
    let signature = github_signature(body.as_bytes());
    let request = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: bulwark\r\ncontent-type: application/json\r\n\
         x-github-event: push\r\nx-github-delivery: d-hangup\r\nx-hub-signature-256: {signature}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(bulwark.public)
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    // Gone before the answer: the socket is closed without reading anything.
    drop(stream);

    // The provider retries the same delivery id.
    let (status, answer) = post(&bulwark, body, &signature, "d-hangup").await;
    assert_eq!(status, 200, "{answer}");
    // A later, distinct event shows the queue has delivered everything before it.
    let (status, _) = post(&bulwark, body, &signature, "d-after").await;
    assert_eq!(status, 200);
    assert!(
        eventually(Duration::from_secs(10), || async {
            upstream.recorded().len() == 2
        })
        .await,
        "expected the hung-up event once and the later one: {}",
        upstream.recorded().len()
    );
    let mut ids: Vec<String> = upstream
        .recorded()
        .iter()
        .map(|r| {
            r.headers["x-bulwark-event-id"]
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // Both may be in delivery at once: their order is not part of the contract.
    ids.sort();
    assert_eq!(ids, ["d-after", "d-hangup"], "delivered once each");
    // Two rows were ever stored: the hung-up request and its retry made one.
    let stored = bulwark
        .sample(r#"bulwark_webhooks_received_total{webhook="github",outcome="stored"}"#)
        .await;
    assert_eq!(stored, 2.0);
}

/// Guarantee 1b: when the store cannot write (here every `pwrite64` of the process fails
/// with ENOSPC, injected by strace attached to the running bulwark, as a full disk
/// would), readiness fails and a webhook gets 503 with `Retry-After`, so the provider
/// retries; nothing half-written is left. Once the disk is back, both recover and the
/// retry is stored and delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_write_fails_readiness_and_answers_503_until_it_recovers() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(&upstream);
    let ready = || async {
        reqwest::get(bulwark.ops_url("/readyz"))
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready().await, 200);

    let mut strace = std::process::Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=pwrite64"])
        .args(["-e", "inject=pwrite64:error=ENOSPC", "-p"])
        .arg(bulwark.pid().to_string())
        .spawn()
        .expect("strace is installed by scripts/test.sh");
    assert!(
        eventually(Duration::from_secs(20), || async { ready().await == 503 }).await,
        "readiness never failed while the store could not write"
    );
    let verbose = reqwest::get(bulwark.ops_url("/readyz?verbose"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(verbose.contains("[-]store"), "{verbose}");

    let body = r#"{"action":"disk-full"}"#;
    let signature = github_signature(body.as_bytes());
    let resp = reqwest::Client::new()
        .post(bulwark.url("/webhooks/github"))
        .header("x-github-delivery", "d-full")
        .header("x-hub-signature-256", &signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "https://bulwark.dev/problems/store-unavailable"
    );

    // The disk is back.
    strace.kill().unwrap();
    strace.wait().unwrap();
    assert!(
        eventually(Duration::from_secs(20), || async { ready().await == 200 }).await,
        "readiness never recovered"
    );
    let (status, answer) = post(&bulwark, body, &signature, "d-full").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["status"], "stored",
        "the refused attempt left nothing behind"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            upstream.recorded().len() == 1
        })
        .await
    );
    assert_eq!(&upstream.recorded()[0].body[..], body.as_bytes());
}

/// A webhook path can be rate limited per client address like any route, before the
/// signature is checked: the 3rd post in the minute is refused with 429 and not stored.
#[tokio::test]
async fn a_webhook_path_is_rate_limited_per_address_before_its_signature() {
    let upstream = TestUpstream::start().await;
    let bulwark = start_configured(
        &[],
        &upstream,
        "",
        "[[webhooks.limits]]\nname = \"github\"\nkey = \"ip\"\nrate = \"2/min\"",
    );
    let body = r#"{"n":1}"#;
    let signature = github_signature(body.as_bytes());
    assert_eq!(post(&bulwark, body, &signature, "r-1").await.0, 200);
    assert_eq!(post(&bulwark, body, "sha256=00", "r-2").await.0, 401);
    let (status, problem) = post(&bulwark, body, &signature, "r-3").await;
    assert_eq!(status, 429, "{problem}");
    let stored = bulwark
        .sample(r#"bulwark_webhooks_received_total{webhook="github",outcome="stored"}"#)
        .await;
    assert_eq!(stored, 1.0, "the refused post was not stored");
}

/// A webhook body must arrive within `timeouts.request_head`: a client trickling a large
/// body (before any signature can be checked) gets 408 instead of holding memory.
#[tokio::test]
async fn a_trickled_webhook_body_times_out_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let upstream = TestUpstream::start().await;
    let bulwark = start_configured(&[], &upstream, "[timeouts]\nrequest_head = \"300ms\"", "");
    let mut stream = tokio::net::TcpStream::connect(bulwark.public)
        .await
        .unwrap();
    stream
        .write_all(b"POST /webhooks/github HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n{\"partial\":")
        .await
        .unwrap();
    // Nothing more is sent; the answer must come by itself.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer to a stalled body");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let counted = bulwark
        .sample(r#"bulwark_webhooks_received_total{webhook="github",outcome="body_timeout"}"#)
        .await;
    assert_eq!(counted, 1.0);
}
