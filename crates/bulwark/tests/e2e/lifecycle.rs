//! The process's life: SIGHUP reloads (a good config takes over, a bad one is refused and
//! the running one stays), and SIGTERM's graceful drain, bounded by `timeouts.shutdown`.

use std::time::{Duration, Instant};

use crate::support::{Bulwark, TestUpstream, eventually, wait_until};

/// Bound for anything that should happen "soon" after a signal on a loaded machine.
const SOON: Duration = Duration::from_secs(10);

fn routed_to(a: &TestUpstream, b: &TestUpstream, upstream: &str, extra: &str) -> String {
    format!(
        r#"
{extra}
[[upstreams]]
name = "a"
targets = ["{}"]

[[upstreams]]
name = "b"
targets = ["{}"]

[[routes]]
name = "app"
upstream = "{upstream}"
"#,
        a.url(),
        b.url()
    )
}

async fn get_echo(client: &reqwest::Client, bulwark: &Bulwark) -> u16 {
    client
        .get(bulwark.url("/echo"))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn scrape_has(bulwark: &Bulwark, line: &str) -> bool {
    bulwark.metrics().await.lines().any(|l| l == line)
}

fn audit_has(bulwark: &Bulwark, event: &str) -> bool {
    bulwark.audit_events().iter().any(|e| e["event"] == event)
}

#[tokio::test]
async fn sighup_with_a_good_config_switches_routes_and_is_counted() {
    let a = TestUpstream::start().await;
    let b = TestUpstream::start().await;
    let bulwark = Bulwark::start(&routed_to(&a, &b, "a", ""));
    let client = reqwest::Client::new();
    assert_eq!(get_echo(&client, &bulwark).await, 200);
    assert_eq!((a.served(), b.served()), (1, 0));

    bulwark.rewrite_config(&routed_to(&a, &b, "b", ""));
    bulwark.signal("HUP");
    let switched = eventually(SOON, || async {
        assert_eq!(get_echo(&client, &bulwark).await, 200);
        b.served() > 0
    })
    .await;
    assert!(
        switched,
        "requests never reached b; output:\n{}",
        bulwark.output()
    );
    // From then on every request goes to b.
    let a_before = a.served();
    let b_before = b.served();
    for _ in 0..3 {
        assert_eq!(get_echo(&client, &bulwark).await, 200);
    }
    assert_eq!((a.served(), b.served()), (a_before, b_before + 3));

    assert!(
        eventually(SOON, || scrape_has(
            &bulwark,
            r#"bulwark_config_reloads_total{result="success"} 1"#
        ))
        .await,
        "{}",
        bulwark.metrics().await
    );
    assert!(
        scrape_has(
            &bulwark,
            r#"bulwark_config_reloads_total{result="failure"} 0"#
        )
        .await,
        "{}",
        bulwark.metrics().await
    );
    assert!(
        wait_until(SOON, || audit_has(&bulwark, "config_reloaded")),
        "{:?}",
        bulwark.audit_events()
    );
    assert!(!audit_has(&bulwark, "config_reload_failed"));
    assert!(bulwark.wait_for_output("Config reloaded.", SOON));
}

#[tokio::test]
async fn sighup_with_a_bad_config_is_refused_and_the_running_config_stays() {
    let a = TestUpstream::start().await;
    let b = TestUpstream::start().await;
    let bulwark = Bulwark::start(&routed_to(&a, &b, "a", ""));
    let client = reqwest::Client::new();
    assert_eq!(get_echo(&client, &bulwark).await, 200);
    assert_eq!((a.served(), b.served()), (1, 0));

    bulwark.rewrite_config(&routed_to(&a, &b, "missing", ""));
    let text = std::fs::read_to_string(bulwark.config_path()).unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l == r#"upstream = "missing""#)
        .expect("the bad line is in the file");
    bulwark.signal("HUP");
    let expected = format!(
        "{}:line {line}: routes[0].upstream: ",
        bulwark.config_path().display()
    );
    assert!(
        bulwark.wait_for_output(&expected, SOON),
        "no refusal naming {expected:?}; output:\n{}",
        bulwark.output()
    );
    assert!(
        bulwark.output().contains("Config reload refused"),
        "{}",
        bulwark.output()
    );
    assert!(
        eventually(SOON, || scrape_has(
            &bulwark,
            r#"bulwark_config_reloads_total{result="failure"} 1"#
        ))
        .await,
        "{}",
        bulwark.metrics().await
    );
    assert!(
        scrape_has(
            &bulwark,
            r#"bulwark_config_reloads_total{result="success"} 0"#
        )
        .await,
        "{}",
        bulwark.metrics().await
    );
    assert!(
        wait_until(SOON, || bulwark.audit_events().iter().any(|e| {
            e["event"] == "config_reload_failed" && e["problems"] == 1
        })),
        "{:?}",
        bulwark.audit_events()
    );
    assert!(!audit_has(&bulwark, "config_reloaded"));

    // The old config still serves: every request goes to a, and bulwark is ready.
    for _ in 0..3 {
        assert_eq!(get_echo(&client, &bulwark).await, 200);
    }
    assert_eq!((a.served(), b.served()), (4, 0));
    let ready = reqwest::get(bulwark.ops_url("/health/ready"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

/// Sends `GET path` in a task of its own; resolves to (status, body).
fn spawn_request(
    bulwark: &Bulwark,
    path: &str,
) -> tokio::task::JoinHandle<reqwest::Result<(u16, String)>> {
    let url = bulwark.url(path);
    tokio::spawn(async move {
        let resp = reqwest::get(url).await?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await?))
    })
}

#[tokio::test]
async fn sigterm_lets_the_in_flight_request_finish_then_exits_zero() {
    let upstream = TestUpstream::start().await;
    let mut bulwark = Bulwark::start(&routed_to(&upstream, &upstream, "a", ""));
    // The upstream holds the body until the gate opens, so the request is certainly
    // still in flight when TERM arrives.
    let request = spawn_request(&bulwark, "/gated/131072");
    assert!(
        eventually(SOON, || async { upstream.served() == 1 }).await,
        "the request never reached the upstream"
    );

    bulwark.signal("TERM");
    assert!(bulwark.wait_for_output("Shutting down", SOON));
    assert!(
        bulwark.wait_exit(Duration::from_millis(1)).is_none(),
        "bulwark must wait for the in-flight request"
    );
    upstream.open_gate();
    let answered = tokio::time::timeout(SOON, request)
        .await
        .expect("the in-flight request finishes within the drain")
        .expect("request task")
        .expect("the in-flight request is answered, not cut off");
    assert_eq!(answered.0, 200);
    assert_eq!(answered.1.len(), 131072, "the whole body arrived");
    let status = bulwark
        .wait_exit(SOON)
        .unwrap_or_else(|| panic!("bulwark did not exit; output:\n{}", bulwark.output()));
    assert!(status.success(), "{status}; output:\n{}", bulwark.output());
    assert!(
        !bulwark.output().contains("Drain timed out"),
        "{}",
        bulwark.output()
    );
    assert!(
        wait_until(SOON, || audit_has(&bulwark, "shutdown_started")),
        "{:?}",
        bulwark.audit_events()
    );
}

#[tokio::test]
async fn while_draining_bulwark_is_unready_and_refuses_new_connections() {
    let upstream = TestUpstream::start().await;
    let mut bulwark = Bulwark::start(&routed_to(&upstream, &upstream, "a", ""));
    let ready = reqwest::get(bulwark.ops_url("/health/ready"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    // The upstream holds the rest of this body until the gate opens, so the drain cannot
    // finish before the test has looked.
    let total = 256 * 1024;
    let resp = reqwest::get(bulwark.url(&format!("/gated/{total}")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    bulwark.signal("TERM");
    assert!(
        eventually(SOON, || async {
            reqwest::get(bulwark.ops_url("/health/ready"))
                .await
                .is_ok_and(|r| r.status() == 503)
        })
        .await,
        "ready never turned 503 while draining; output:\n{}",
        bulwark.output()
    );
    let verbose = reqwest::get(bulwark.ops_url("/health/ready?verbose"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        verbose.contains("[-]listeners failed: shutting down\n"),
        "{verbose}"
    );
    let public = bulwark.public;
    assert!(
        eventually(SOON, || async {
            tokio::net::TcpStream::connect(public).await.is_err()
        })
        .await,
        "the public listener still accepts while draining"
    );
    let live = reqwest::get(bulwark.ops_url("/health/live")).await.unwrap();
    assert_eq!(live.status(), 200, "liveness holds while draining");
    assert!(
        bulwark.wait_exit(Duration::from_millis(100)).is_none(),
        "exited with a response still in flight"
    );

    upstream.open_gate();
    let body = tokio::time::timeout(SOON, resp.bytes())
        .await
        .expect("the in-flight body finishes")
        .expect("the whole body arrives");
    assert_eq!(body.len(), total);
    let status = bulwark
        .wait_exit(SOON)
        .unwrap_or_else(|| panic!("bulwark did not exit; output:\n{}", bulwark.output()));
    assert!(status.success(), "{status}; output:\n{}", bulwark.output());
}

#[tokio::test]
async fn the_drain_is_bounded_by_the_shutdown_timeout() {
    let upstream = TestUpstream::start().await;
    let mut bulwark = Bulwark::start(&routed_to(
        &upstream,
        &upstream,
        "a",
        "[timeouts]\nshutdown = \"200ms\"\n",
    ));
    let request = spawn_request(&bulwark, "/slow/5000");
    assert!(
        eventually(SOON, || async { upstream.served() == 1 }).await,
        "the slow request never reached the upstream"
    );

    let signalled = Instant::now();
    bulwark.signal("TERM");
    let status = bulwark
        .wait_exit(Duration::from_secs(3))
        .unwrap_or_else(|| {
            panic!(
                "still running 3 s after TERM with a 200 ms drain; output:\n{}",
                bulwark.output()
            )
        });
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(200),
        "exited after {took:?}, before the drain timeout"
    );
    assert!(status.success(), "{status}; output:\n{}", bulwark.output());
    assert!(
        bulwark.wait_for_output("Drain timed out", SOON),
        "{}",
        bulwark.output()
    );

    let outcome = tokio::time::timeout(SOON, request)
        .await
        .expect("the cut-off request ends")
        .expect("request task");
    assert!(
        outcome.is_err(),
        "the request outlived the drain timeout: {outcome:?}"
    );
}

/// Sends HUP and then TERM the moment the addresses line is read, twenty times, from a
/// shell (the harness's `kill` subprocess is too slow to hit the window).
const SIGNAL_AT_START: &str = r#"
bin=$1; config=$2; bad=0
for i in $(seq 1 20); do
  coproc B { exec "$bin" run --config "$config" 2>/dev/null; }
  pid=$B_PID
  IFS= read -r line <&"${B[0]}"
  kill -HUP "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null
  cat <&"${B[0]}" >/dev/null
  wait "$pid"; rc=$?
  [ "$rc" -eq 0 ] || { bad=$((bad+1)); echo "run $i: exit $rc"; }
done
echo "bad=$bad"
"#;

/// The addresses line tells a supervisor (and this harness) that bulwark is up, so a
/// signal sent right after it must get the handling it documents (reload, graceful
/// drain, exit 0), not the default action (for SIGHUP: terminate, exit 129).
#[test]
fn a_signal_right_after_the_addresses_line_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bulwark.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[listen]\npublic = \"127.0.0.1:0\"\nops = \"127.0.0.1:0\"\n",
            dir.path().display().to_string()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new("bash")
        .args(["-c", SIGNAL_AT_START, "bash", env!("CARGO_BIN_EXE_bulwark")])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("bash");
    let finished = wait_until(Duration::from_secs(60), || {
        child.try_wait().expect("try_wait").is_some()
    });
    if !finished {
        let _ = child.kill();
    }
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(finished, "the script did not finish; {stdout}");
    assert!(stdout.trim_end().ends_with("bad=0"), "{stdout}");
}

#[tokio::test]
async fn a_second_signal_ends_the_drain_at_once() {
    let upstream = TestUpstream::start().await;
    let mut bulwark = Bulwark::start(&routed_to(
        &upstream,
        &upstream,
        "a",
        "[timeouts]\nshutdown = \"1m\"\n",
    ));
    // Held by the upstream until the gate opens, which it never does here.
    let request = spawn_request(&bulwark, "/gated/131072");
    assert!(eventually(SOON, || async { upstream.served() == 1 }).await);
    bulwark.signal("TERM");
    assert!(bulwark.wait_for_output("Shutting down", SOON));
    bulwark.signal("INT");
    let status = bulwark
        .wait_exit(SOON)
        .expect("a second signal must not wait for the one-minute drain");
    assert!(status.success(), "{status}");
    assert!(bulwark.output().contains("Second signal"));
    request.abort();
}
