//! `/metrics` end to end, with the global recorder installed the way the binary does it.
//! Its own test binary: a process gets one global recorder.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use bulwark_config::checks::CheckKind;
use common::{check, start};

/// `promtool check metrics` must find nothing to complain about (it comes with the
/// Debian package `prometheus`, which `scripts/test.sh` installs).
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is on PATH: install the Debian package `prometheus`");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && complaints.trim().is_empty(),
        "promtool check metrics: {complaints}\n--- scraped ---\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_checks_and_the_process_and_pass_promtool() {
    let handle = bulwark_ops::metrics::install().unwrap();
    assert!(
        bulwark_ops::metrics::install().is_err(),
        "a second recorder is refused, not silently ignored"
    );
    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down = bulwark_testkit::free_port();
    let tcp = |address: String| CheckKind::Tcp { address };
    let ops = start(
        &[
            check("up", tcp(up.local_addr().unwrap().to_string()), false),
            check("down", tcp(format!("127.0.0.1:{down}")), false),
        ],
        &[],
        handle,
    )
    .await;
    let a = ops
        .until("/metrics", |a| {
            a.body
                .contains("bulwark_checks_total{check=\"up\",result=\"pass\"}")
                && a.body
                    .contains("bulwark_checks_total{check=\"down\",result=\"fail\"}")
        })
        .await;
    assert_eq!(a.status, 200);
    assert!(a.content_type.starts_with("text/plain; version=0.0.4"));
    let text = a.body;
    for line in [
        "# TYPE bulwark_check_up gauge",
        "bulwark_check_up{check=\"up\"} 1",
        "bulwark_check_up{check=\"down\"} 0",
        "bulwark_check_up{check=\"listeners\"} 1",
        "bulwark_check_up{check=\"config\"} 1",
        "# TYPE bulwark_check_duration_seconds histogram",
        "bulwark_check_duration_seconds_bucket{check=\"up\",le=\"0.0005\"}",
        "bulwark_check_duration_seconds_bucket{check=\"up\",le=\"30\"}",
        "bulwark_check_duration_seconds_bucket{check=\"up\",le=\"+Inf\"}",
        "# TYPE bulwark_checks_total counter",
        "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_cpu_seconds_total counter",
        "# TYPE process_open_fds gauge",
        "# TYPE process_start_time_seconds gauge",
    ] {
        assert!(text.contains(line), "missing {line:?}\n{text}");
    }
    for family in [
        "bulwark_check_up",
        "bulwark_check_duration_seconds",
        "bulwark_checks_total",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "no HELP for {family}"
        );
    }
    promtool_check(&text);
}
