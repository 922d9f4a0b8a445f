//! Bounded readiness waits: poll a condition at short intervals until an overall deadline.
//! This is waiting for a condition, not a sleep standing in for synchronisation.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to start or stop before the test fails.
pub(crate) const SERVER_TIMEOUT: Duration = Duration::from_secs(20);

const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// What one look at a condition found.
pub(crate) enum Check {
    Ready,
    NotYet,
    /// The condition can no longer come true (the server exited, say).
    Failed(String),
}

/// Polls `check` until it is ready, it fails, or `timeout` passes.
pub(crate) fn poll_until(
    timeout: Duration,
    mut check: impl FnMut() -> Check,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Check::Ready => return Ok(()),
            Check::Failed(why) => return Err(why),
            Check::NotYet if Instant::now() >= deadline => {
                return Err(format!("not ready after {} s", timeout.as_secs()));
            }
            Check::NotYet => thread::sleep(POLL_INTERVAL),
        }
    }
}

/// Whether nothing accepts TCP connections on 127.0.0.1:`port`.
pub(crate) fn port_refuses(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err()
}

/// Waits until nothing accepts connections on `port`; panics naming `what` otherwise.
pub(crate) fn until_port_refuses(what: &str, port: u16) {
    let result = poll_until(SERVER_TIMEOUT, || {
        if port_refuses(port) {
            Check::Ready
        } else {
            Check::NotYet
        }
    });
    if let Err(why) = result {
        panic!(
            "{what} on 127.0.0.1:{port} was stopped but its port still accepts connections: {why}"
        );
    }
}

/// Waits for `child` to exit, at most `timeout`; returns whether it did.
pub(crate) fn child_exited(child: &mut Child, timeout: Duration) -> bool {
    poll_until(timeout, || match child.try_wait() {
        Ok(Some(_)) | Err(_) => Check::Ready,
        Ok(None) => Check::NotYet,
    })
    .is_ok()
}

/// Why `child` is no longer running, or `None` while it runs.
pub(crate) fn exit_reason(child: &mut Child) -> Option<String> {
    match child.try_wait() {
        Ok(None) => None,
        Ok(Some(status)) => Some(format!("the server exited ({status})")),
        Err(error) => Some(format!("cannot check the server process: {error}")),
    }
}

/// The last lines of a log file, to put in a panic message.
pub(crate) fn log_tail(path: &Path) -> String {
    const LINES: usize = 30;
    match fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(LINES);
            format!(
                "--- last lines of {} ---\n{}",
                path.display(),
                lines[start..].join("\n")
            )
        }
        Err(error) => format!("(cannot read {}: {error})", path.display()),
    }
}

/// Sends a signal by name (`INT`, `QUIT`, ...) to a process, through the shell's `kill`
/// builtin, which every system has (std only sends SIGKILL).
pub(crate) fn signal(pid: u32, name: &str) {
    // Best effort: the process may have exited already, which the caller's wait sees.
    let _ = std::process::Command::new("sh")
        .args([
            "-c",
            "kill -s \"$1\" \"$2\" 2>/dev/null",
            "sh",
            name,
            &pid.to_string(),
        ])
        .status();
}
