//! A PostgreSQL cluster of the test's own, on a free loopback port.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root (CI does) `initdb`
//! and `postgres` run as the `postgres` user, set directly on the child process (no
//! `runuser` in between, so the child *is* the postmaster and can be signalled and
//! waited for).

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::binaries;
use crate::wait::{self, Check, SERVER_TIMEOUT};

/// The user PostgreSQL runs as when the tests run as root (Debian's package creates it).
const SERVER_USER: &str = "postgres";

/// Own PostgreSQL cluster on a free loopback port: `initdb` in a temporary folder (owned
/// by the `postgres` user when running as root), killed on Drop and its data removed.
///
/// Trust authentication; superuser `postgres`; `fsync=off`, which loses nothing when the
/// server process crashes or is killed, only when the machine does.
pub struct PostgresServer {
    port: u16,
    bin_dir: PathBuf,
    /// uid and gid to run as, when running as root.
    run_as: Option<(u32, u32)>,
    /// Holds `data/` (the cluster), the unix socket and the logs; removed on drop.
    dir: TempDir,
    child: Option<Child>,
}

impl PostgresServer {
    /// Creates a cluster, starts it on a free port and waits until it accepts
    /// connections (`pg_isready`).
    ///
    /// Panics with the server's log if it does not within 20 s.
    pub fn start() -> PostgresServer {
        let bin_dir = binaries::postgres_bin_dir();
        let run_as = binaries::running_as_root().then(|| {
            binaries::user_ids(SERVER_USER).unwrap_or_else(|| {
                panic!(
                    "running as root, PostgreSQL must run as the `{SERVER_USER}` user, which \
                     does not exist: install the Debian package `postgresql`"
                )
            })
        });
        // Under /tmp rather than $TMPDIR, which may sit where `postgres` cannot go
        // (inside /root, say).
        let dir = tempfile::Builder::new()
            .prefix("bulwark-pg-")
            .tempdir_in("/tmp")
            .expect("a temporary folder can be created under /tmp");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .expect("a fresh temporary folder's mode can be set");
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("running as root, a folder can be given to the postgres user");
        }
        let mut server = PostgresServer {
            port: crate::free_port(),
            bin_dir,
            run_as,
            dir,
            child: None,
        };
        server.initdb();
        server.spawn_and_wait();
        server
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Fast shutdown (SIGINT to the postmaster: sessions are ended, open transactions
    /// rolled back), then waits for it to exit and its port to refuse connections. Does
    /// nothing if it is stopped already.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        wait::signal(child.id(), "INT");
        if !wait::child_exited(&mut child, SERVER_TIMEOUT) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "postgres on 127.0.0.1:{} did not shut down within {} s of SIGINT; killed it\n{}",
                self.port,
                SERVER_TIMEOUT.as_secs(),
                wait::log_tail(&self.log_path())
            );
        }
        wait::until_port_refuses("postgres", self.port);
    }

    /// Starts the server again on the same port and data (stopping it first if it runs)
    /// and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn_and_wait();
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// A command for one of PostgreSQL's programs, as the right user, its output going to
    /// `log`.
    fn command(&self, program: &str, log: &Path) -> Command {
        let log = open_log(log);
        let stderr = log.try_clone().expect("a log file handle can be cloned");
        let mut command = Command::new(self.bin_dir.join(program));
        command
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr);
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn initdb(&self) {
        let log = self.dir.path().join("initdb.log");
        let status = self
            .command("initdb", &log)
            .arg("-D")
            .arg(self.data_dir())
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .status()
            .unwrap_or_else(|error| {
                panic!("cannot run {}/initdb: {error}", self.bin_dir.display())
            });
        assert!(
            status.success(),
            "initdb failed ({status})\n{}",
            wait::log_tail(&log)
        );
    }

    fn spawn_and_wait(&mut self) {
        let child = self
            .command("postgres", &self.log_path())
            .arg("-D")
            .arg(self.data_dir())
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off"])
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot run {}/postgres: {error}", self.bin_dir.display())
            });
        let child = self.child.insert(child);

        let pg_isready =
            binaries::on_path("pg_isready").unwrap_or_else(|| self.bin_dir.join("pg_isready"));
        let port = self.port.to_string();
        let ready = wait::poll_until(SERVER_TIMEOUT, || {
            if let Some(why) = wait::exit_reason(child) {
                return Check::Failed(why);
            }
            let accepting = Command::new(&pg_isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port, "-t", "1"])
                .stdin(Stdio::null())
                .status();
            match accepting {
                Ok(status) if status.success() => Check::Ready,
                Ok(_) => Check::NotYet,
                Err(error) => {
                    Check::Failed(format!("cannot run {}: {error}", pg_isready.display()))
                }
            }
        });
        if let Err(why) = ready {
            panic!(
                "postgres on 127.0.0.1:{port} did not accept connections: {why}\n{}",
                wait::log_tail(&self.log_path())
            );
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Immediate shutdown: the data is thrown away next, so there is nothing to save.
            wait::signal(child.id(), "QUIT");
            if !wait::child_exited(&mut child, Duration::from_secs(10)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // `dir` (the cluster, socket and logs) is removed when the TempDir drops.
    }
}

fn open_log(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|error| panic!("cannot open {}: {error}", path.display()))
}
