//! The scrape after a scenario that touches every feature: valid for Prometheus's own
//! linter, and exactly the families `docs/metrics.md` documents.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Bulwark, TestUpstream, eventually, raw_exchange, sample};

/// The families `docs/metrics.md` documents, and of those the ones that exist only with a
/// feature this scenario does not turn on (their row says "Only with").
fn documented_families() -> (BTreeSet<String>, BTreeSet<String>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/metrics.md");
    let text = std::fs::read_to_string(path).expect("docs/metrics.md");
    let mut all = BTreeSet::new();
    let mut optional = BTreeSet::new();
    for line in text.lines() {
        let Some((name, rest)) = line
            .strip_prefix("| `")
            .and_then(|rest| rest.split_once('`'))
        else {
            continue;
        };
        all.insert(name.to_string());
        if rest.contains("Only with") {
            optional.insert(name.to_string());
        }
    }
    (all, optional)
}

fn exported_families(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_scrape_passes_promtool_and_matches_the_docs() {
    let upstream = TestUpstream::start().await;
    let down = bulwark_testkit::free_port();
    let bulwark = Bulwark::start_with(
        &format!(
            r#"
[proxy]
max_request_head_bytes = 1024

[signing]
key = "${{SIGNING_KEY}}"

[[webhooks]]
name = "hook"
path = "/hook"
scheme = "token"
secrets = ["${{HOOK_TOKEN}}"]
destination = "http://127.0.0.1:{down}/"
retry_schedule = ["0ms", "5ms", "5ms", "5ms", "5ms", "5ms", "5ms"]
delivery_timeout = "500ms"

[[auth.api_keys]]
name = "partners"
keys = [{{ name = "acme", sha256 = "{key_hash}" }}]

[[upstreams]]
name = "app"
targets = ["{url}"]

[[routes]]
name = "partner"
path_prefix = "/partner"
upstream = "app"
auth = "partners"

[[routes]]
name = "login"
path_prefix = "/echo/login"
upstream = "app"
[[routes.limits]]
name = "login"
key = "ip"
rate = "1/min"

[[routes]]
name = "screened"
path_prefix = "/echo/screened"
upstream = "app"
screening = "log"
max_body_bytes = 10

[[routes]]
name = "app"
upstream = "app"

[[checks]]
name = "app-port"
kind = "tcp"
address = "{addr}"
interval = "100ms"
"#,
            url = upstream.url(),
            addr = upstream.addr,
            key_hash = "0".repeat(64)
        ),
        crate::support::Options {
            env: vec![
                (
                    "HOOK_TOKEN",
                    "a-token-the-sender-and-bulwark-share".to_string(),
                ),
                (
                    "SIGNING_KEY",
                    "whsec_q3n0bXh0ZWdqZ2N2b3l3eXpqcWx4a2p0dW9sYmZ2aGQ=".to_string(),
                ),
            ],
        },
    );
    let client = reqwest::Client::new();
    for path in ["/echo", "/status/500", "/status/404"] {
        client.get(bulwark.url(path)).send().await.unwrap();
    }
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 2000));
    big.extend_from_slice(b"\r\n\r\n");
    raw_exchange(bulwark.public, &big).await;
    // A webhook whose app is down: stored, attempted, and the breaker opens.
    let stored = reqwest::Client::new()
        .post(bulwark.url("/hook"))
        .header("authorization", "a-token-the-sender-and-bulwark-share")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    let opened = eventually(Duration::from_secs(10), || async {
        bulwark
            .metrics()
            .await
            .contains("circuit_breaker_transitions_total{")
    })
    .await;
    assert!(opened, "the breaker never opened");
    // The upkeep counts it: one message waiting (pending or in delivery), none dead.
    let counted = eventually(Duration::from_secs(15), || async {
        let scrape = bulwark.metrics().await;
        let value = |state: &str| {
            sample(
                &scrape,
                &format!("bulwark_queue_depth{{destination=\"hook\",state=\"{state}\"}}"),
            )
        };
        value("pending") + value("leased") == 1.0 && value("dead") == 0.0
    })
    .await;
    assert!(counted, "the queue depth never showed the stored webhook");
    // A partner call without its key (401) and a second login within the minute (429).
    assert_eq!(
        client
            .get(bulwark.url("/partner/x"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        client
            .get(bulwark.url("/echo/login"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(bulwark.url("/echo/login"))
            .send()
            .await
            .unwrap()
            .status(),
        429
    );
    // A screening match (logged, let through) and a body over the route's limit.
    let screened = client
        .get(bulwark.url("/echo/screened?q=%3Cscript%3E"))
        .send()
        .await
        .unwrap();
    assert_eq!(screened.status(), 200);
    let too_big = client
        .post(bulwark.url("/echo/screened"))
        .body(vec![b'x'; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    // An admin call without a token: refused, and counted.
    let refused = reqwest::get(bulwark.ops_url("/admin/v1/dead-letters"))
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let checked = eventually(Duration::from_secs(10), || async {
        bulwark
            .metrics()
            .await
            .contains("bulwark_checks_total{check=\"app-port\",result=\"pass\"}")
    })
    .await;
    assert!(checked, "the tcp check never ran");

    let scrape = bulwark.metrics().await;
    let exported = exported_families(&scrape);
    let (documented, optional) = documented_families();
    assert!(!exported.is_empty());
    let undocumented: Vec<_> = exported.difference(&documented).collect();
    let missing: Vec<_> = documented
        .difference(&exported)
        .filter(|name| !optional.contains(*name))
        .collect();
    assert!(
        undocumented.is_empty() && missing.is_empty(),
        "exported but not in docs/metrics.md: {undocumented:?}\ndocumented but not exported: {missing:?}"
    );

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed by scripts/test.sh");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
