//! The runner's budget: 10,000 HTTP monitors at 30 s (333 checks/s) in at most 100 MB of
//! resident memory and 20 % of a core. Ignored by default (it runs for a minute); run it
//! with `cargo test -p bulwark-monitor --test scale -- --ignored --nocapture`. The
//! process also runs the local server being checked, and a debug build costs more CPU
//! than a release one, so passing here is a conservative bound.

mod common;

use std::time::{Duration, Instant};

use bulwark_events::Bus;
use bulwark_monitor::{HistoryStore, MonitorSpec, Monitors, ProbeSpec};
use common::{Reply, TestServer};
use tokio_util::sync::CancellationToken;

const MONITORS: usize = 10_000;
const INTERVAL: Duration = Duration::from_secs(30);

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// User plus system CPU time in clock ticks (100 per second on Linux) from a stat file.
fn ticks_of(stat: &str) -> u64 {
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// CPU ticks of this process minus those of the test server's own threads.
fn monitor_cpu_ticks() -> u64 {
    let total = ticks_of(&std::fs::read_to_string("/proc/self/stat").unwrap());
    let mut server = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        if stat.contains("(test-server)") {
            server += ticks_of(&stat);
        }
    }
    total - server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs for a minute; a budget check, not a unit test"]
async fn ten_thousand_http_monitors_fit_the_budget() {
    // The server runs on threads of its own so that its CPU can be left out.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-server")
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let server = TestServer::auto(|_| Reply::body(200, b"ok")).await;
            sender.send(server).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let server = receiver.recv().unwrap();
    let specs: Vec<MonitorSpec> = (0..MONITORS)
        .map(|i| {
            let mut spec = MonitorSpec::new(
                format!("monitor-{i}"),
                ProbeSpec::http_get(server.url(&format!("/{i}"))),
            );
            spec.interval = INTERVAL;
            spec
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let history = HistoryStore::open(dir.path()).unwrap();
    let cancel = CancellationToken::new();
    let monitors = Monitors::start(specs, history, Bus::new(1024), cancel.clone()).unwrap();

    // One interval to get every monitor running, then measure over the next one.
    tokio::time::sleep(INTERVAL).await;
    let (ticks, started) = (monitor_cpu_ticks(), Instant::now());
    tokio::time::sleep(INTERVAL).await;
    let cpu_share = (monitor_cpu_ticks() - ticks) as f64 / 100.0 / started.elapsed().as_secs_f64();
    let rss = rss_bytes();
    let checked = monitors
        .snapshot()
        .iter()
        .filter(|s| s.last_check_ms.is_some())
        .count();
    let requests = server.requests.lock().unwrap().len();
    println!(
        "{MONITORS} monitors: RSS {} MiB, CPU {:.1} % of a core, {checked} checked, {requests} requests",
        rss / (1024 * 1024),
        cpu_share * 100.0
    );
    cancel.cancel();
    monitors.join().await;
    assert_eq!(checked, MONITORS);
    assert!(rss <= 100 * 1024 * 1024, "RSS {rss}");
    // Debug builds run this code several times slower; the budget is for release builds.
    let budget = if cfg!(debug_assertions) { 1.0 } else { 0.20 };
    assert!(cpu_share <= budget, "CPU {cpu_share}");
}
