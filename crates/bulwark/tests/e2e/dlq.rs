//! The dead-letter queue through the real binary and its CLI: a webhook the app refuses
//! is dead-lettered, listed, refused a replay without the scope, replayed with it, and
//! delivered once the app accepts. A destination paused by 410 Gone stays paused across
//! a restart until it is resumed from the CLI.

use std::process::Command;
use std::time::Duration;

use crate::support::{Bulwark, Options, TestUpstream, eventually};

const READ_TOKEN: &str = "rd_q3n0bXh0ZWdqZ2N2b3l3eXpqcWx4a2p0dW9sYmZ2aGQ";
const REPLAY_TOKEN: &str = "rp_7Hk2mW9qLx4vT1nB8cZ5pR3sY6uJ0dF2gA7eK4hN";
const TOKEN: &str = "a-token-the-sender-and-bulwark-share";

fn dlq(bulwark: &Bulwark, token: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .arg("dlq")
        .args(["--url", &bulwark.ops_url("")])
        .args(args)
        .env("BULWARK_ADMIN_TOKEN", token)
        .output()
        .expect("run bulwark dlq");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_listed_and_replayed_only_with_the_replay_scope() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start_with(
        &format!(
            r#"
[signing]
key = "${{SIGNING_KEY}}"

[[admin.tokens]]
name = "viewer"
token = "${{READ_TOKEN}}"
scopes = ["read"]

[[admin.tokens]]
name = "operator"
token = "${{REPLAY_TOKEN}}"
scopes = ["read", "replay"]

[[webhooks]]
name = "orders"
path = "/hooks/orders"
scheme = "token"
secrets = ["${{HOOK_TOKEN}}"]
destination = "{}/toggle"
dead_on_4xx = true
"#,
            upstream.url()
        ),
        Options {
            env: vec![
                (
                    "SIGNING_KEY",
                    "whsec_q3n0bXh0ZWdqZ2N2b3l3eXpqcWx4a2p0dW9sYmZ2aGQ=".to_string(),
                ),
                ("READ_TOKEN", READ_TOKEN.to_string()),
                ("REPLAY_TOKEN", REPLAY_TOKEN.to_string()),
                ("HOOK_TOKEN", TOKEN.to_string()),
            ],
        },
    );
    let resp = reqwest::Client::new()
        .post(bulwark.url("/hooks/orders"))
        .header("authorization", TOKEN)
        .body(r#"{"marker":"zq7x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The app answers 400 and the webhook says dead_on_4xx: it lands in the DLQ.
    let listed = || dlq(&bulwark, READ_TOKEN, &["list", "--destination", "orders"]);
    assert!(
        eventually(Duration::from_secs(10), || async {
            listed().1.contains(&id)
        })
        .await,
        "never dead-lettered: {}",
        listed().1
    );
    let (ok, text) = listed();
    assert!(ok, "{text}");
    assert!(!text.contains("zq7x"), "bodies stay in the store: {text}");

    let (ok, text) = dlq(&bulwark, READ_TOKEN, &["replay", &id]);
    assert!(!ok, "a read-only token cannot replay: {text}");
    assert!(text.contains("403"), "{text}");
    let (ok, text) = dlq(&bulwark, "not-a-token", &["list"]);
    assert!(!ok && text.contains("401"), "{text}");

    upstream.set_accepting();
    let (ok, text) = dlq(&bulwark, REPLAY_TOKEN, &["replay", &id]);
    assert!(ok, "{text}");
    assert!(
        eventually(Duration::from_secs(10), || async {
            upstream.recorded().len() == 1
        })
        .await
    );
    assert_eq!(&upstream.recorded()[0].body[..], br#"{"marker":"zq7x"}"#);
    assert_eq!(
        upstream.recorded()[0].headers["webhook-id"],
        id.as_str(),
        "same id after replay"
    );
    let (_, text) = listed();
    assert!(!text.contains(&id), "no longer dead: {text}");

    // The replay is in the audit log under the token's name, never the token.
    let audit = bulwark.audit_events();
    assert!(
        audit.iter().any(|e| e["event"] == "admin_action"
            && e["token"] == "operator"
            && e["action"] == "replay"
            && e["target"] == id.as_str()),
        "{audit:?}"
    );
    assert!(
        !serde_json::to_string(&audit)
            .unwrap()
            .contains(REPLAY_TOKEN)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_pause_survives_a_restart_until_resumed_from_the_cli() {
    let upstream = TestUpstream::start().await;
    let bulwark = Bulwark::start_with(
        &format!(
            r#"
[signing]
key = "${{SIGNING_KEY}}"

[[admin.tokens]]
name = "operator"
token = "${{REPLAY_TOKEN}}"
scopes = ["read", "replay"]

[[webhooks]]
name = "orders"
path = "/hooks/orders"
scheme = "token"
secrets = ["${{HOOK_TOKEN}}"]
destination = "{url}/toggle-gone"

[[webhooks]]
name = "other"
path = "/hooks/other"
scheme = "token"
secrets = ["${{HOOK_TOKEN}}"]
destination = "{url}/record"
"#,
            url = upstream.url()
        ),
        Options {
            env: vec![
                (
                    "SIGNING_KEY",
                    "whsec_q3n0bXh0ZWdqZ2N2b3l3eXpqcWx4a2p0dW9sYmZ2aGQ=".to_string(),
                ),
                ("REPLAY_TOKEN", REPLAY_TOKEN.to_string()),
                ("HOOK_TOKEN", TOKEN.to_string()),
            ],
        },
    );
    let send = |bulwark: &Bulwark, path: &str, body: &'static str| {
        reqwest::Client::new()
            .post(bulwark.url(path))
            .header("authorization", TOKEN)
            .body(body)
            .send()
    };
    let bodies = || -> Vec<Vec<u8>> {
        upstream
            .recorded()
            .iter()
            .map(|r| r.body.to_vec())
            .collect()
    };
    assert_eq!(
        send(&bulwark, "/hooks/orders", "order-1")
            .await
            .unwrap()
            .status(),
        200
    );
    let paused = |bulwark: &Bulwark| dlq(bulwark, REPLAY_TOKEN, &["paused"]);
    assert!(
        eventually(Duration::from_secs(10), || async {
            paused(&bulwark).1.contains("\"orders\"")
        })
        .await,
        "410 never paused the destination: {}",
        paused(&bulwark).1
    );

    // The app is fixed, and bulwark restarts: the pause must hold until an operator
    // lifts it. A delivery to the other webhook shows the dispatcher has run rounds in
    // which the paused message, due earlier, would have been claimed.
    upstream.set_accepting();
    let bulwark = bulwark.kill_and_restart();
    assert_eq!(
        send(&bulwark, "/hooks/other", "other-1")
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            bodies().contains(&b"other-1".to_vec())
        })
        .await
    );
    assert!(
        !bodies().contains(&b"order-1".to_vec()),
        "delivered while paused"
    );
    let (ok, text) = paused(&bulwark);
    assert!(ok && text.contains("410"), "{text}");

    let (ok, text) = dlq(&bulwark, REPLAY_TOKEN, &["resume", "orders"]);
    assert!(ok, "{text}");
    assert!(
        eventually(Duration::from_secs(10), || async {
            bodies().contains(&b"order-1".to_vec())
        })
        .await,
        "not delivered after resume"
    );
    let (ok, text) = dlq(&bulwark, REPLAY_TOKEN, &["resume", "orders"]);
    assert!(!ok && text.contains("404"), "{text}");
}
