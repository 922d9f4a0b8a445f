//! Finding the servers' programs and the user to run PostgreSQL as.

use std::env;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Debian keeps PostgreSQL's server programs here, one folder per major version, off PATH.
const POSTGRES_LIB: &str = "/usr/lib/postgresql";

/// `name` on PATH, if it is there.
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// A program that must exist; panics telling which Debian package brings it.
pub(crate) fn require(name: &str, package: &str) -> PathBuf {
    on_path(name).unwrap_or_else(|| {
        panic!(
            "`{name}` is not on PATH: install the Debian package `{package}` \
             (`bash scripts/test.sh` installs everything the tests need)"
        )
    })
}

/// The folder holding PostgreSQL's `initdb` and `postgres`: where `initdb` on PATH
/// really lives, else the newest `/usr/lib/postgresql/*/bin`. Both programs come from the
/// same folder so their versions match.
pub(crate) fn postgres_bin_dir() -> PathBuf {
    let from_path = on_path("initdb")
        .and_then(|initdb| fs::canonicalize(initdb).ok())
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
        .filter(|dir| is_executable(&dir.join("postgres")));
    from_path.or_else(newest_debian_bin_dir).unwrap_or_else(|| {
        panic!(
            "PostgreSQL's `initdb` and `postgres` are neither on PATH nor in \
             {POSTGRES_LIB}/*/bin: install the Debian package `postgresql` \
             (`bash scripts/test.sh` installs everything the tests need)"
        )
    })
}

fn newest_debian_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(POSTGRES_LIB)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            let complete =
                is_executable(&bin.join("initdb")) && is_executable(&bin.join("postgres"));
            complete.then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Whether this process runs as root (effective uid 0).
pub(crate) fn running_as_root() -> bool {
    // The second field of `Uid:` is the effective uid.
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// Uid and gid of a local user, from /etc/passwd.
pub(crate) fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let uid = fields.nth(1)?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some((uid, gid))
    })
}
