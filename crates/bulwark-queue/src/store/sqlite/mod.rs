//! The embedded store: one SQLite database in the data folder (WAL, `synchronous=FULL`),
//! one writer thread with group commit (see [`writer`]), an exclusive lock file, and all
//! leases freed at start-up.

mod lock;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};
use tokio::sync::oneshot;

use self::schema::{COLUMNS, N_COLUMNS, encode_headers, message_from_row};
use self::writer::{Command, Op, Reply, Writer};
use super::types::{
    ClaimedMessage, DeadFilter, Depth, Lease, LeaseOutcome, LeaseToken, Message, MessageId,
    MessageState, NewMessage, Pause, Persisted, ReplayOutcome,
};
use super::{DeadLetters, Inspect, Leases, Pauses, Persist, Prune, StoreError};

/// The database file inside the data folder (with `-wal` and `-shm` beside it).
pub const DB_FILE: &str = "bulwark.db";

/// Delivered messages deleted per writer transaction while pruning, so that pruning a
/// large backlog never holds up ingest for long.
const PRUNE_CHUNK: i64 = 5_000;

/// The embedded SQLite store. Cheap to clone; the writer thread stops, the database closes
/// and the data folder is unlocked when the last clone is dropped (dropping waits for the
/// writer to finish what is queued).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: Option<Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    commits: Arc<AtomicU64>,
    released_at_open: u64,
    dir: PathBuf,
    /// A read-only connection for [`Inspect::depths`], opened on first use: counting a
    /// large backlog must not hold up the writer (WAL lets readers run beside it).
    reader: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closed before the writer, which frees the folder's lock last.
        self.reader.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`: takes the folder's lock, sets WAL and
    /// `synchronous=FULL`, migrates the schema, frees every lease left by a previous run,
    /// and starts the writer thread. Blocking; call it at start-up.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        let open_error = |e: Arc<dyn std::error::Error + Send + Sync>| StoreError::Open {
            path: dir.clone(),
            source: e,
        };
        std::fs::create_dir_all(&dir).map_err(|e| open_error(Arc::new(e)))?;
        let lock = lock::lock_dir(&dir)?;
        let mut conn = Connection::open(dir.join(DB_FILE)).map_err(|e| open_error(Arc::new(e)))?;
        configure(&conn).map_err(|e| open_error(Arc::new(e)))?;
        schema::migrate(&mut conn)?;
        let released_at_open = conn
            .execute(RELEASE_ALL, [])
            .map_err(|e| StoreError::unavailable("free leases at start-up", e))?
            as u64;

        let commits = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            conn,
            commits: Arc::clone(&commits),
            _lock: lock,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("bulwark-store".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| open_error(Arc::new(e)))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                tx: Some(tx),
                thread: Some(thread),
                commits,
                released_at_open,
                dir,
                reader: Mutex::new(None),
            }),
        })
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Transactions committed by the writer since open: with group commit, fewer than the
    /// calls it served. For metrics and tests.
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// Leases freed when this store was opened (messages whose delivery was cut short by a
    /// stop or a crash; they are delivered again).
    pub fn leases_released_at_open(&self) -> u64 {
        self.inner.released_at_open
    }

    fn send(&self, command: Command) -> Result<(), StoreError> {
        self.inner
            .tx
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(command)
            .map_err(|_| StoreError::Closed)
    }

    /// Runs `f` on the writer thread inside the current batch's transaction and answers
    /// after that transaction has committed.
    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let op: Op = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => f(conn),
                Err(e) => Err(e.shared()),
            };
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let answer = match commit {
                    Ok(()) => result,
                    // A failed op's own error says more than the batch's.
                    Err(e) => Err(result.err().unwrap_or_else(|| e.shared())),
                };
                let _ = tx.send(answer);
            });
            (ok, reply)
        });
        self.send(Command::Op(op))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Tests: stops the writer until the returned sender is dropped.
    #[cfg(test)]
    fn hold(&self) -> Sender<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.send(Command::Hold(rx)).expect("writer is running");
        tx
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode is {mode}, expected wal"
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    // 64 MiB of page cache (the default is 2 MiB): claims and acks touch the rows just
    // stored, and a miss is a pread from the WAL or the database file. It fills only as
    // pages are used.
    conn.execute_batch("PRAGMA cache_size = -65536;")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Claims with different numbers of skipped destinations are different statements.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

const RELEASE_ALL: &str =
    "UPDATE messages SET state = 0, lease_until = NULL, lease_token = NULL WHERE state = 1";

fn sql_error(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::unavailable(context, e)
}

/// `?first, ?first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> String {
    let list: Vec<String> = (first..first + count).map(|i| format!("?{i}")).collect();
    list.join(", ")
}

fn id_param(id: MessageId) -> Vec<u8> {
    id.as_bytes().to_vec()
}

/// The same shape as DESIGN's `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING …`, run in
/// the writer's `BEGIN IMMEDIATE` transaction. Due pending messages and expired leases
/// are picked by separate index range scans, then the earliest `limit` of both. For one
/// destination (what the dispatcher asks) the pending scan is a range of `messages_due`
/// in due order, whatever the backlog of other destinations; several destinations need a
/// sort of their due messages.
/// Parameters: 1 lease_until, 2 now, 3 limit, 4.. destinations (at least one).
fn claim_sql(destinations: usize) -> String {
    let list = placeholders(4, destinations);
    format!(
        "UPDATE messages
         SET state = 1, lease_until = ?1, lease_token = random(), attempts = attempts + 1,
             updated_at = ?2
         WHERE seq IN (
             SELECT seq FROM (
                 SELECT seq, due FROM (
                     SELECT seq, next_attempt_at AS due FROM messages AS m
                     WHERE state = 0 AND destination IN ({list}) AND next_attempt_at <= ?2
                         {HEAD_OF_KEY}
                     ORDER BY next_attempt_at LIMIT ?3)
                 UNION ALL
                 SELECT seq, due FROM (
                     SELECT seq, lease_until AS due FROM messages INDEXED BY messages_leases
                     WHERE state = 1 AND lease_until <= ?2 AND destination IN ({list})
                     ORDER BY lease_until LIMIT ?3)
                 ORDER BY due LIMIT ?3))
         RETURNING {COLUMNS}, lease_token, lease_until"
    )
}

/// A pending message `m` with an ordering key waits while an earlier message of its key
/// is pending or leased (in delivery). Only the head of a key is ever claimed, so one
/// claim never takes two messages of a key, and an expired lease is always a head.
/// A dead message no longer holds its key back: one poison message must not stop the
/// key forever (it is in the dead-letter queue for an operator).
/// A leased message of the key holds back every other one, even an earlier one: a dead
/// head replayed while its successor is in delivery waits for that delivery, so a key
/// never has two messages in flight.
const HEAD_OF_KEY: &str = "
                       AND (m.ordering_key IS NULL OR NOT EXISTS (
                           SELECT 1 FROM messages AS e
                           WHERE e.destination = m.destination
                             AND e.ordering_key = m.ordering_key
                             AND e.state IN (0, 1) AND e.seq <> m.seq
                             AND (e.seq < m.seq OR e.state = 1)))";

/// Parameters: 1.. destinations (at least one). One branch per destination, each the
/// first entry of its `messages_due` range (`ORDER BY … LIMIT 1`, not `min()`, so the scan
/// stops at the first message not held back by its ordering key).
fn next_due_sql(destinations: usize) -> String {
    let pending: Vec<String> = (1..=destinations)
        .map(|i| {
            format!(
                "SELECT * FROM (
                     SELECT next_attempt_at AS due FROM messages AS m
                     WHERE state = 0 AND destination = ?{i} {HEAD_OF_KEY}
                     ORDER BY next_attempt_at LIMIT 1)"
            )
        })
        .collect();
    let list = placeholders(1, destinations);
    format!(
        "SELECT min(due) FROM (
             {}
             UNION ALL
             SELECT min(lease_until) FROM messages INDEXED BY messages_leases
             WHERE state = 1 AND destination IN ({list}))",
        pending.join("\n             UNION ALL\n             ")
    )
}

/// Destinations with pending or leased messages: a loose index scan of `messages_due`
/// (one seek per destination, whatever the backlog), plus the leases in flight.
const UNDELIVERED_DESTINATIONS: &str = "
    WITH RECURSIVE pending(name) AS (
        SELECT min(destination) FROM messages WHERE state = 0
        UNION ALL
        SELECT (SELECT min(destination) FROM messages
                WHERE state = 0 AND destination > pending.name)
        FROM pending WHERE pending.name IS NOT NULL)
    SELECT name FROM pending WHERE name IS NOT NULL
    UNION
    SELECT destination FROM messages INDEXED BY messages_leases WHERE state = 1
    ORDER BY 1";

/// The filter on dead messages; parameters 1 destination, 2 since, 3 until.
const DEAD_FILTER: &str = "state = 3 AND (?1 IS NULL OR destination = ?1)
     AND updated_at >= coalesce(?2, -9223372036854775808)
     AND updated_at < coalesce(?3, 9223372036854775807)";

fn filter_params(filter: DeadFilter) -> [Value; 3] {
    [
        filter.destination.map_or(Value::Null, Value::Text),
        filter.since_ms.map_or(Value::Null, Value::Integer),
        filter.until_ms.map_or(Value::Null, Value::Integer),
    ]
}

/// Settles a lease: the update applies only to the leased message holding that token.
fn settle(
    conn: &Connection,
    context: &'static str,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<LeaseOutcome, StoreError> {
    let changed = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.execute(params))
        .map_err(sql_error(context))?;
    Ok(if changed == 0 {
        LeaseOutcome::LeaseLost
    } else {
        LeaseOutcome::Applied
    })
}

impl Persist for SqliteStore {
    async fn persist(
        &self,
        message: NewMessage,
        dedup_window_ms: i64,
        now_ms: i64,
    ) -> Result<Persisted, StoreError> {
        let id = MessageId::new(now_ms);
        let headers = encode_headers(&message.headers);
        self.call(move |conn| {
            let ctx = sql_error("store a message");
            if let Some(event_id) = &message.event_id {
                let earliest = now_ms.saturating_sub(dedup_window_ms);
                let existing: Option<Vec<u8>> = conn
                    .prepare_cached(
                        "SELECT id FROM messages
                         WHERE destination = ?1 AND event_id = ?2 AND created_at > ?3
                         ORDER BY created_at DESC LIMIT 1",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![message.destination, event_id, earliest], |r| {
                            r.get(0)
                        })
                        .optional()
                    })
                    .map_err(&ctx)?;
                if let Some(existing) = existing {
                    let existing =
                        uuid::Uuid::from_slice(&existing).map_err(|_| StoreError::Corrupt {
                            detail: format!("message id of {} bytes", existing.len()),
                        })?;
                    return Ok(Persisted::Duplicate(MessageId(existing)));
                }
            }
            conn.prepare_cached(
                "INSERT INTO messages (id, destination, body, headers, event_id, attempts,
                     next_attempt_at, state, created_at, updated_at, ordering_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 0, ?7, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id_param(id),
                    message.destination,
                    &message.body[..],
                    headers,
                    message.event_id,
                    message.next_attempt_at_ms,
                    now_ms,
                    message.ordering_key,
                ])
            })
            .map_err(&ctx)?;
            Ok(Persisted::Stored(id))
        })
        .await
    }
}

impl Leases for SqliteStore {
    async fn claim(
        &self,
        destinations: &[String],
        limit: u32,
        lease_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        if limit == 0 || destinations.is_empty() {
            return Ok(Vec::new());
        }
        let destinations = destinations.to_vec();
        self.call(move |conn| {
            let ctx = sql_error("claim messages");
            let sql = claim_sql(destinations.len());
            let mut values = vec![
                Value::Integer(now_ms.saturating_add(lease_ms)),
                Value::Integer(now_ms),
                Value::Integer(i64::from(limit)),
            ];
            values.extend(destinations.into_iter().map(Value::Text));
            let mut stmt = conn.prepare_cached(&sql).map_err(&ctx)?;
            let mut rows = stmt.query(params_from_iter(values)).map_err(&ctx)?;
            let mut claimed = Vec::new();
            while let Some(row) = rows.next().map_err(&ctx)? {
                let message = message_from_row(row)?;
                let token = row.get(N_COLUMNS).map_err(&ctx)?;
                let lease_until_ms = row.get(N_COLUMNS + 1).map_err(&ctx)?;
                claimed.push(ClaimedMessage {
                    lease: Lease {
                        id: message.id,
                        token: LeaseToken(token),
                    },
                    lease_until_ms,
                    message,
                });
            }
            claimed.sort_by_key(|c| (c.message.next_attempt_at_ms, c.message.id));
            Ok(claimed)
        })
        .await
    }

    async fn ack(&self, lease: Lease, now_ms: i64) -> Result<LeaseOutcome, StoreError> {
        self.call(move |conn| {
            settle(
                conn,
                "acknowledge a delivery",
                "UPDATE messages SET state = 2, lease_until = NULL, lease_token = NULL,
                     updated_at = ?3
                 WHERE id = ?1 AND lease_token = ?2 AND state = 1",
                params![id_param(lease.id), lease.token.0, now_ms],
            )
        })
        .await
    }

    async fn retry(
        &self,
        lease: Lease,
        at_ms: i64,
        error: String,
        now_ms: i64,
    ) -> Result<LeaseOutcome, StoreError> {
        self.call(move |conn| {
            settle(
                conn,
                "schedule a retry",
                "UPDATE messages SET state = 0, next_attempt_at = ?3, last_error = ?4,
                     lease_until = NULL, lease_token = NULL, updated_at = ?5
                 WHERE id = ?1 AND lease_token = ?2 AND state = 1",
                params![id_param(lease.id), lease.token.0, at_ms, error, now_ms],
            )
        })
        .await
    }

    async fn dead_letter(
        &self,
        lease: Lease,
        error: String,
        now_ms: i64,
    ) -> Result<LeaseOutcome, StoreError> {
        self.call(move |conn| {
            settle(
                conn,
                "dead-letter a message",
                "UPDATE messages SET state = 3, last_error = ?3,
                     lease_until = NULL, lease_token = NULL, updated_at = ?4
                 WHERE id = ?1 AND lease_token = ?2 AND state = 1",
                params![id_param(lease.id), lease.token.0, error, now_ms],
            )
        })
        .await
    }

    async fn release_all(&self) -> Result<u64, StoreError> {
        self.call(|conn| {
            conn.prepare_cached(RELEASE_ALL)
                .and_then(|mut s| s.execute([]))
                .map(|n| n as u64)
                .map_err(sql_error("free leases"))
        })
        .await
    }

    async fn next_due_at(&self, destinations: &[String]) -> Result<Option<i64>, StoreError> {
        if destinations.is_empty() {
            return Ok(None);
        }
        let destinations = destinations.to_vec();
        self.call(move |conn| {
            conn.prepare_cached(&next_due_sql(destinations.len()))
                .and_then(|mut s| s.query_row(params_from_iter(destinations), |r| r.get(0)))
                .map_err(sql_error("find the next due time"))
        })
        .await
    }

    async fn undelivered_destinations(&self) -> Result<Vec<String>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn
                .prepare_cached(UNDELIVERED_DESTINATIONS)
                .map_err(sql_error("list destinations with messages"))?;
            stmt.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
                .map_err(sql_error("list destinations with messages"))
        })
        .await
    }
}

impl DeadLetters for SqliteStore {
    async fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.call(move |conn| {
            let ctx = sql_error("read a message");
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {COLUMNS} FROM messages WHERE id = ?1"))
                .map_err(&ctx)?;
            let mut rows = stmt.query([id_param(id)]).map_err(&ctx)?;
            match rows.next().map_err(&ctx)? {
                Some(row) => message_from_row(row).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_dead(&self, filter: DeadFilter, limit: u32) -> Result<Vec<Message>, StoreError> {
        self.call(move |conn| {
            let ctx = sql_error("list dead messages");
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM messages WHERE {DEAD_FILTER}
                     ORDER BY updated_at, seq LIMIT ?4"
                ))
                .map_err(&ctx)?;
            let [destination, since, until] = filter_params(filter);
            let mut rows = stmt
                .query(params![destination, since, until, i64::from(limit)])
                .map_err(&ctx)?;
            let mut messages = Vec::new();
            while let Some(row) = rows.next().map_err(&ctx)? {
                messages.push(message_from_row(row)?);
            }
            Ok(messages)
        })
        .await
    }

    async fn replay(&self, id: MessageId, now_ms: i64) -> Result<ReplayOutcome, StoreError> {
        self.call(move |conn| {
            let ctx = sql_error("replay a message");
            let changed = conn
                .prepare_cached(
                    "UPDATE messages SET state = 0, attempts = 0, next_attempt_at = ?2,
                         updated_at = ?2
                     WHERE id = ?1 AND state = 3",
                )
                .and_then(|mut s| s.execute(params![id_param(id), now_ms]))
                .map_err(&ctx)?;
            if changed > 0 {
                return Ok(ReplayOutcome::Replayed);
            }
            let exists = conn
                .prepare_cached("SELECT 1 FROM messages WHERE id = ?1")
                .and_then(|mut s| s.exists([id_param(id)]))
                .map_err(&ctx)?;
            Ok(if exists {
                ReplayOutcome::NotDead
            } else {
                ReplayOutcome::NotFound
            })
        })
        .await
    }

    async fn purge(&self, id: MessageId) -> Result<bool, StoreError> {
        self.call(move |conn| {
            conn.prepare_cached("DELETE FROM messages WHERE id = ?1 AND state = 3")
                .and_then(|mut s| s.execute([id_param(id)]))
                .map(|n| n > 0)
                .map_err(sql_error("purge a dead message"))
        })
        .await
    }

    async fn purge_matching(&self, filter: DeadFilter) -> Result<u64, StoreError> {
        self.call(move |conn| {
            conn.prepare_cached(&format!("DELETE FROM messages WHERE {DEAD_FILTER}"))
                .and_then(|mut s| s.execute(params_from_iter(filter_params(filter))))
                .map(|n| n as u64)
                .map_err(sql_error("purge dead messages"))
        })
        .await
    }
}

impl Prune for SqliteStore {
    async fn prune_delivered(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let deleted = self
                .call(move |conn| {
                    conn.prepare_cached(
                        "DELETE FROM messages WHERE seq IN (
                             SELECT seq FROM messages WHERE state = 2 AND updated_at < ?1
                             LIMIT ?2)",
                    )
                    .and_then(|mut s| s.execute(params![older_than_ms, PRUNE_CHUNK]))
                    .map(|n| n as u64)
                    .map_err(sql_error("prune delivered messages"))
                })
                .await?;
            total += deleted;
            if deleted < PRUNE_CHUNK as u64 {
                return Ok(total);
            }
        }
    }
}

impl Pauses for SqliteStore {
    async fn pause(
        &self,
        destination: &str,
        reason: String,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let destination = destination.to_string();
        self.call(move |conn| {
            conn.prepare_cached(
                "INSERT INTO paused_destinations (destination, since, reason) VALUES (?1, ?2, ?3)
                 ON CONFLICT (destination) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![destination, now_ms, reason]))
            .map(|_| ())
            .map_err(sql_error("pause a destination"))
        })
        .await
    }

    async fn resume(&self, destination: &str) -> Result<bool, StoreError> {
        let destination = destination.to_string();
        self.call(move |conn| {
            conn.prepare_cached("DELETE FROM paused_destinations WHERE destination = ?1")
                .and_then(|mut s| s.execute([destination]))
                .map(|n| n > 0)
                .map_err(sql_error("resume a destination"))
        })
        .await
    }

    async fn paused(&self) -> Result<Vec<Pause>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT destination, since, reason FROM paused_destinations
                     ORDER BY destination",
                )
                .map_err(sql_error("list paused destinations"))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(Pause {
                        destination: r.get(0)?,
                        since_ms: r.get(1)?,
                        reason: r.get(2)?,
                    })
                })
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(sql_error("list paused destinations"))?;
            Ok(rows)
        })
        .await
    }
}

impl Inner {
    /// Runs `f` on the reader connection, opening it if needed; a failed read closes it
    /// so that the next call starts afresh. Blocking.
    fn read<T>(
        &self,
        context: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        if reader.is_none() {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(self.dir.join(DB_FILE), flags)
                .and_then(|c| c.busy_timeout(Duration::from_secs(5)).map(|()| c))
                .map_err(sql_error(context))?;
            *reader = Some(conn);
        }
        let conn = reader.as_ref().expect("opened above");
        let result = f(conn).map_err(sql_error(context));
        if result.is_err() {
            *reader = None;
        }
        result
    }
}

/// Parameters: none. Delivered messages are left out: they are many, and counted as
/// they happen.
const DEPTHS: &str = "SELECT destination, state, count(*), min(created_at) FROM messages
     WHERE state IN (0, 1, 3, 4) GROUP BY destination, state";

impl Inspect for SqliteStore {
    async fn depths(&self) -> Result<Vec<Depth>, StoreError> {
        if self.inner.tx.is_none() {
            return Err(StoreError::Closed);
        }
        let inner = Arc::clone(&self.inner);
        let rows = tokio::task::spawn_blocking(move || {
            inner.read("count queued messages", |conn| {
                let mut stmt = conn.prepare_cached(DEPTHS)?;
                let rows = stmt.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
        })
        .await
        .map_err(|_| StoreError::Closed)??;
        rows.into_iter()
            .map(|(destination, state, count, oldest)| {
                Ok(Depth {
                    state: MessageState::from_code(state).ok_or_else(|| StoreError::Corrupt {
                        detail: format!("state {state} of messages for {destination}"),
                    })?,
                    destination,
                    count: u64::try_from(count).unwrap_or(0),
                    oldest_created_at_ms: oldest,
                })
            })
            .collect()
    }

    async fn probe_write(&self, now_ms: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.prepare_cached(
                "INSERT INTO store_probe (id, at) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET at = excluded.at",
            )
            .and_then(|mut s| s.execute([now_ms]))
            .map(|_| ())
            .map_err(sql_error("write the readiness probe"))
        })
        .await
    }
}

#[cfg(test)]
mod tests;
