//! The exclusive lock on the data folder: `bulwark.lock`, held with `flock` for as long as
//! the store is open, so a second bulwark on the same folder stops at start-up with a
//! clear message instead of corrupting the queue. The holder writes its pid into the file
//! so the message can name it. The kernel drops the lock when the process dies, so a
//! `kill -9` leaves no stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{FlockOperation, flock};
use rustix::io::Errno;

use crate::store::StoreError;

pub(super) const LOCK_FILE: &str = "bulwark.lock";

/// Holds the lock until dropped.
#[derive(Debug)]
pub(super) struct DirLock {
    _file: File,
}

pub(super) fn lock_dir(dir: &Path) -> Result<DirLock, StoreError> {
    let path = dir.join(LOCK_FILE);
    let open_error = |e: std::io::Error| StoreError::Open {
        path: path.clone(),
        source: Arc::new(e),
    };
    // Not truncated on open: the pid in it belongs to the holder until we hold the lock.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(open_error)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == Errno::WOULDBLOCK => {
            let mut text = String::new();
            let holder = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(StoreError::InUse {
                lock_path: path,
                holder,
            });
        }
        Err(e) => return Err(open_error(e.into())),
    }
    file.set_len(0).map_err(open_error)?;
    file.rewind().map_err(open_error)?;
    writeln!(file, "{}", std::process::id()).map_err(open_error)?;
    Ok(DirLock { _file: file })
}
