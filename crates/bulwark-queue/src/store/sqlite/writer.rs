//! The one writer thread. It owns the connection; every call reaches it over a channel as
//! an [`Op`]. It takes whatever is queued (up to [`MAX_BATCH`]), runs it all in one
//! `BEGIN IMMEDIATE` transaction — each op inside its own savepoint, so one failing op
//! does not undo the others — commits once, and only then answers every caller. With
//! `synchronous=FULL` that is one fsync for a whole batch of concurrent requests (group
//! commit), and no caller hears "done" before its write is on disk.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};

use rusqlite::Connection;

use super::lock::DirLock;
use crate::store::StoreError;

/// Most ops in one transaction; more wait for the next one.
pub(super) const MAX_BATCH: usize = 1024;

/// Called once the batch's fate is known: `Ok` after the commit, `Err` if it failed.
pub(super) type Reply = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// One operation: runs on the connection inside the batch's transaction (or gets the error
/// that kept the transaction from starting), and says whether it succeeded — a failed op
/// is rolled back to its savepoint — and how to answer its caller.
pub(super) type Op = Box<dyn FnOnce(Result<&Connection, &StoreError>) -> (bool, Reply) + Send>;

pub(super) enum Command {
    Op(Op),
    /// Tests: block the writer until the sender is dropped, so that ops pile up.
    #[cfg(test)]
    Hold(std::sync::mpsc::Receiver<()>),
}

pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) commits: Arc<AtomicU64>,
    /// Released after the connection is closed (fields drop in order).
    pub(super) _lock: DirLock,
}

impl Writer {
    pub(super) fn run(self, rx: Receiver<Command>) {
        let mut batch = Vec::new();
        while let Ok(first) = rx.recv() {
            self.push(&mut batch, first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(command) => self.push(&mut batch, command),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            if !batch.is_empty() {
                self.run_batch(&mut batch);
            }
        }
        // The channel is closed: every handle is gone. Dropping `self` closes the
        // connection (checkpointing the WAL), then frees the lock.
    }

    fn push(&self, batch: &mut Vec<Op>, command: Command) {
        match command {
            Command::Op(op) => batch.push(op),
            #[cfg(test)]
            Command::Hold(until) => {
                let _ = until.recv();
            }
        }
    }

    fn run_batch(&self, batch: &mut Vec<Op>) {
        let conn = &self.conn;
        if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
            let error = StoreError::unavailable("begin a transaction", e);
            for op in batch.drain(..) {
                let (_, reply) = op(Err(&error));
                reply(Err(&error));
            }
            return;
        }
        let mut replies = Vec::with_capacity(batch.len());
        for op in batch.drain(..) {
            // Some errors (disk full, I/O) make SQLite roll back the whole transaction;
            // running more ops then would autocommit them one by one behind our back.
            if conn.is_autocommit() {
                let error = StoreError::unavailable(
                    "run an operation",
                    std::io::Error::other("an earlier failure rolled the transaction back"),
                );
                let (_, reply) = op(Err(&error));
                replies.push(reply);
                continue;
            }
            if let Err(e) = exec(conn, "SAVEPOINT op") {
                let error = StoreError::unavailable("open a savepoint", e);
                let (_, reply) = op(Err(&error));
                replies.push(reply);
                continue;
            }
            let (ok, reply) = op(Ok(conn));
            if !ok {
                let _ = exec(conn, "ROLLBACK TO op");
            }
            let _ = exec(conn, "RELEASE op");
            replies.push(reply);
        }
        let outcome = if conn.is_autocommit() {
            Err(StoreError::unavailable(
                "commit",
                std::io::Error::other("an earlier failure rolled the transaction back"),
            ))
        } else {
            match exec(conn, "COMMIT") {
                Ok(()) => {
                    self.commits.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Err(e) => {
                    let _ = exec(conn, "ROLLBACK");
                    Err(StoreError::unavailable("commit", e))
                }
            }
        };
        for reply in replies {
            reply(outcome.as_ref().map(|_| ()));
        }
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}
