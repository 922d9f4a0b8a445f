//! Harness for end-to-end tests: the real bulwark binary on port 0, and a test upstream
//! whose behaviour each test drives.
#![allow(dead_code)] // each test module uses a different part of the harness

pub mod alerting;
pub mod upstream;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

pub use upstream::TestUpstream;

/// A running bulwark process. Killed on drop.
pub struct Bulwark {
    child: Child,
    pub public: SocketAddr,
    pub ops: SocketAddr,
    pub dir: tempfile::TempDir,
    output: Arc<Mutex<String>>,
    env: Vec<(String, String)>,
}

pub struct Options<'a> {
    pub env: Vec<(&'a str, String)>,
}

impl Bulwark {
    /// Starts bulwark with `body` as config. Unless the body has its own `[listen]`,
    /// both listeners bind port 0; `data_dir` is a fresh temp dir.
    pub fn start(body: &str) -> Bulwark {
        Self::start_with(body, Options { env: vec![] })
    }

    pub fn start_with(body: &str, options: Options<'_>) -> Bulwark {
        Self::start_under(&[], body, options)
    }

    /// Runs the binary under `wrapper` (e.g. `strace -f -o FILE`); `{dir}` in the wrapper
    /// arguments is replaced by this instance's temp dir.
    pub fn start_under(wrapper: &[&str], body: &str, options: Options<'_>) -> Bulwark {
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("bulwark.toml");
        std::fs::write(&config_path, full_config(dir.path(), body)).expect("write config");
        let env = options
            .env
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Self::launch(wrapper, dir, env)
    }

    /// `kill -9`, then a new process on the same data folder and config (new ports).
    pub fn kill_and_restart(mut self) -> Bulwark {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let env = std::mem::take(&mut self.env);
        drop(self);
        Self::launch(&[], dir, env)
    }

    fn launch(wrapper: &[&str], dir: tempfile::TempDir, env: Vec<(String, String)>) -> Bulwark {
        let config_path = dir.path().join("bulwark.toml");
        let dir_text = dir.path().display().to_string();
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args.iter().map(|a| a.replace("{dir}", &dir_text)));
                command.arg(env!("CARGO_BIN_EXE_bulwark"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_bulwark")),
        };
        // Its own process group, so that Drop also ends a bulwark run under a wrapper
        // (strace): killing the wrapper alone would leave bulwark running, detached.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command
            .args(["run", "--config"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn bulwark");
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        collect(stdout, output.clone(), Some(tx));
        collect(stderr, output.clone(), None);
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "bulwark did not print its addresses; output:\n{}",
                    output.lock().unwrap()
                );
            }
        };
        let value: serde_json::Value = serde_json::from_str(&line).expect("addresses line is JSON");
        let addr = |key: &str| -> SocketAddr {
            value["listening"][key]
                .as_str()
                .expect("address")
                .parse()
                .expect("socket address")
        };
        Bulwark {
            public: addr("public"),
            ops: addr("ops"),
            child,
            dir,
            output,
            env,
        }
    }

    /// The bulwark process id (to attach strace to it, for instance).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.public)
    }

    pub fn ops_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.ops)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("bulwark.toml")
    }

    /// Replaces the config body (same listen addresses) for a reload.
    pub fn rewrite_config(&self, body: &str) {
        let listen = format!(
            "[listen]\npublic = \"{}\"\nops = \"{}\"\n",
            self.public, self.ops
        );
        let text = full_config(self.dir.path(), &format!("{listen}{body}"));
        std::fs::write(self.config_path(), text).expect("rewrite config");
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Everything bulwark wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output contains `needle` (bounded).
    pub fn wait_for_output(&self, needle: &str, within: Duration) -> bool {
        wait_until(within, || self.output.lock().unwrap().contains(needle))
    }

    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The audit log (every bus event) as JSON values.
    pub fn audit_events(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("audit.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The value of one series (name and labels exactly as exported), 0 when absent.
    pub async fn sample(&self, series: &str) -> f64 {
        sample(&self.metrics().await, series)
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(self.ops_url("/metrics"))
            .await
            .expect("scrape")
            .text()
            .await
            .expect("scrape body")
    }
}

impl Drop for Bulwark {
    fn drop(&mut self) {
        // Only while the child is unreaped: after that its id may belong to someone else.
        if let (Ok(None), Ok(group)) = (self.child.try_wait(), i32::try_from(self.child.id())) {
            // SAFETY: kill(2) with a negative pid signals that process group; the group
            // is the one this harness created for the child, nothing else.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn full_config(dir: &Path, body: &str) -> String {
    let mut text = format!("data_dir = {:?}\n", dir.display().to_string());
    if !body.contains("[listen]") {
        text.push_str("[listen]\npublic = \"127.0.0.1:0\"\nops = \"127.0.0.1:0\"\n");
    }
    text.push_str(body);
    text
}

fn collect(
    stream: impl std::io::Read + Send + 'static,
    output: Arc<Mutex<String>>,
    addresses: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        let mut sent = addresses.is_none();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if !sent && line.starts_with("{\"listening\"") {
                if let Some(tx) = &addresses {
                    let _ = tx.send(line.clone());
                }
                sent = true;
            }
            let mut out = output.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
}

/// Polls `condition` every 20 ms until it holds or `within` passes. For waiting on a
/// state change in another process, where there is nothing to await.
/// The value of the sample whose name and labels are exactly `series`, 0 if absent.
pub fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

pub fn wait_until(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Async form of [`wait_until`] for conditions that need a request.
pub async fn eventually<F, Fut>(within: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A minimal HTTP client connection for what reqwest will not send (partial heads,
/// hop-by-hop headers) or to watch the socket itself.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A raw HTTP/1.1 response split into its head and its JSON body.
pub fn split_json_response(raw: &str) -> (String, serde_json::Value) {
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let json = serde_json::from_str(body).expect("a JSON body");
    (head.to_string(), json)
}
