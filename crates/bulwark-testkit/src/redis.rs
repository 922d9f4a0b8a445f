//! A redis-server of the test's own, on a free loopback port.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::binaries;
use crate::wait::{self, Check, SERVER_TIMEOUT};

/// Own redis-server on a free loopback port, killed on Drop.
///
/// Nothing is persisted (`--save ''`, no append-only file): a restart starts empty.
pub struct RedisServer {
    port: u16,
    program: PathBuf,
    /// Working folder and log; removed on drop.
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts redis-server on a free port and waits until it answers PING.
    ///
    /// Panics with the server's log if it does not within 20 s.
    pub fn start() -> RedisServer {
        let program = binaries::require("redis-server", "redis-server");
        let dir = tempfile::Builder::new()
            .prefix("bulwark-redis-")
            .tempdir()
            .expect("a temporary folder can be created for redis-server");
        let mut server = RedisServer {
            port: crate::free_port(),
            program,
            dir,
            child: None,
        };
        server.spawn_and_wait();
        server
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (SIGKILL, as a crash would) and waits until its port refuses
    /// connections. Does nothing if it is stopped already.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it has exited already, which `wait` collects.
            let _ = child.kill();
            let _ = child.wait();
            wait::until_port_refuses("redis-server", self.port);
        }
    }

    /// Starts the server again on the same port (stopping it first if it runs) and waits
    /// until it answers PING. Its data is gone.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn_and_wait();
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn spawn_and_wait(&mut self) {
        let log = open_log(&self.log_path());
        let stderr = log.try_clone().expect("a log file handle can be cloned");
        let child = Command::new(&self.program)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", self.program.display()));
        let child = self.child.insert(child);

        let port = self.port;
        let ready = wait::poll_until(SERVER_TIMEOUT, || {
            if let Some(why) = wait::exit_reason(child) {
                return Check::Failed(why);
            }
            if answers_ping(port) {
                Check::Ready
            } else {
                Check::NotYet
            }
        });
        if let Err(why) = ready {
            panic!(
                "redis-server on 127.0.0.1:{port} did not answer PING: {why}\n{}",
                wait::log_tail(&self.log_path())
            );
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn open_log(path: &std::path::Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|error| panic!("cannot open {}: {error}", path.display()))
}

/// Whether a Redis server on 127.0.0.1:`port` answers `PING` with `+PONG`.
fn answers_ping(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(1));
    if stream.set_read_timeout(timeout).is_err()
        || stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_err()
    {
        return false;
    }
    let mut reply = [0u8; 16];
    let mut len = 0;
    while len < 7 {
        match stream.read(&mut reply[len..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => len += n,
        }
    }
    reply.starts_with(b"+PONG\r\n")
}
