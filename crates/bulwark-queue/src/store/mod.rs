//! The message store: small async role traits, one call per operation (in the manner of
//! lldap's domain handlers), and the embedded SQLite backend.
//!
//! - [`Persist`]: store a new message, deduplicated by the provider's event id.
//! - [`Leases`]: claim due messages under a lease, then ack / retry / dead-letter them.
//! - [`DeadLetters`]: list, show, replay and purge dead messages.
//! - [`Prune`]: forget delivered messages after their retention period.
//! - [`Pauses`]: destinations paused by a 410 Gone, until an operator resumes them.
//! - [`Inspect`]: queue depths for metrics, and a write probe for readiness.
//!
//! [`Store`] is all six together. Batching, threads and transactions stay private to each
//! backend; a caller only sees that a call returns after its effect is durable.
//!
//! Time: every call that depends on the time takes `now_ms` (milliseconds since the Unix
//! epoch) from the caller. DESIGN.md asks that lease expiry use the database's clock; for
//! the embedded store the database and the process share one clock, so the caller's `now`
//! is that clock, and the model-based tests can drive time exactly. The Postgres backend
//! will use `now()` on the server instead.

mod sqlite;
mod types;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

pub use sqlite::SqliteStore;
pub use types::{
    ClaimedMessage, DeadFilter, Depth, Lease, LeaseOutcome, LeaseToken, Message, MessageId,
    MessageState, NewMessage, Pause, Persisted, ReplayOutcome,
};

/// What went wrong in the store. Every variant means "the store could not do it now":
/// the edge answers 503 with `Retry-After`; nothing half-done is left behind.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed (disk full, I/O error, busy, ...).
    #[error("store unavailable while trying to {context}")]
    Unavailable {
        context: &'static str,
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The store's writer has stopped (the store is closing or has crashed).
    #[error("store is closed")]
    Closed,
    /// Another process (or another store in this process) holds the data folder.
    #[error(
        "data folder is in use: {lock_path} is locked{}; stop the other bulwark or use another data folder",
        holder.map(|pid| format!(" by process {pid}")).unwrap_or_default()
    )]
    InUse {
        lock_path: PathBuf,
        holder: Option<u32>,
    },
    /// The data folder or database could not be opened or prepared.
    #[error("cannot open the store at {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The database was written by a newer bulwark.
    #[error(
        "the database schema is version {found}, newer than this bulwark knows ({supported}); upgrade bulwark"
    )]
    NewerSchema { found: i64, supported: i64 },
    /// A stored row could not be decoded.
    #[error("corrupt row in the store: {detail}")]
    Corrupt { detail: String },
}

impl StoreError {
    pub(crate) fn unavailable(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Unavailable {
            context,
            source: Arc::new(source),
        }
    }

    /// A copy for fanning one failure out to every caller of a batch.
    pub(crate) fn shared(&self) -> Self {
        match self {
            StoreError::Unavailable { context, source } => StoreError::Unavailable {
                context,
                source: Arc::clone(source),
            },
            StoreError::Closed => StoreError::Closed,
            StoreError::InUse { lock_path, holder } => StoreError::InUse {
                lock_path: lock_path.clone(),
                holder: *holder,
            },
            StoreError::Open { path, source } => StoreError::Open {
                path: path.clone(),
                source: Arc::clone(source),
            },
            StoreError::NewerSchema { found, supported } => StoreError::NewerSchema {
                found: *found,
                supported: *supported,
            },
            StoreError::Corrupt { detail } => StoreError::Corrupt {
                detail: detail.clone(),
            },
        }
    }
}

/// Storing new messages.
pub trait Persist: Send + Sync {
    /// Stores `message` durably, unless a message with the same destination and event id
    /// was stored less than `dedup_window_ms` before `now_ms` (then that message's id is
    /// returned as [`Persisted::Duplicate`] and nothing is stored). Messages without an
    /// event id are never duplicates. Returns only after the commit.
    ///
    /// Dedup looks at stored rows, so the window should not exceed the retention of
    /// delivered messages (see [`Prune`]).
    fn persist(
        &self,
        message: NewMessage,
        dedup_window_ms: i64,
        now_ms: i64,
    ) -> impl Future<Output = Result<Persisted, StoreError>> + Send;
}

/// Claiming due messages under a lease, and settling them.
///
/// A claim sets `lease_until = now + lease_ms` and a fresh lease token; `ack`, `retry` and
/// `dead_letter` apply only while the token still matches, otherwise they return
/// [`LeaseOutcome::LeaseLost`] (the message was claimed again after its lease expired, or
/// released at start-up): that is counted by the caller, not an error.
pub trait Leases: Send + Sync {
    /// Claims up to `limit` messages of `destinations`: pending ones due at `now_ms` and
    /// leased ones whose lease has expired, earliest first. Each claim counts as an
    /// attempt. The dispatcher asks for one destination at a time (the others may have
    /// an open breaker, be paused or have no free slot); backends keep that case fast
    /// whatever the backlog of other destinations.
    fn claim(
        &self,
        destinations: &[String],
        limit: u32,
        lease_ms: i64,
        now_ms: i64,
    ) -> impl Future<Output = Result<Vec<ClaimedMessage>, StoreError>> + Send;

    /// Marks the message delivered.
    fn ack(
        &self,
        lease: Lease,
        now_ms: i64,
    ) -> impl Future<Output = Result<LeaseOutcome, StoreError>> + Send;

    /// Puts the message back to pending, due at `at_ms`, remembering `error`.
    fn retry(
        &self,
        lease: Lease,
        at_ms: i64,
        error: String,
        now_ms: i64,
    ) -> impl Future<Output = Result<LeaseOutcome, StoreError>> + Send;

    /// Moves the message to the dead-letter queue, remembering `error`.
    fn dead_letter(
        &self,
        lease: Lease,
        error: String,
        now_ms: i64,
    ) -> impl Future<Output = Result<LeaseOutcome, StoreError>> + Send;

    /// Frees every lease (leased messages become pending, keeping their due time).
    /// Called at start-up, when no delivery can be in flight; returns how many were freed.
    fn release_all(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The earliest time at which a claim of `destinations` could return something: the
    /// first due pending message or the first expiring lease. `None` when they have
    /// nothing to deliver. The dispatcher sleeps until then.
    fn next_due_at(
        &self,
        destinations: &[String],
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Every destination with pending or leased messages, by name. The dispatcher looks
    /// for messages whose destination is no longer configured with it.
    fn undelivered_destinations(
        &self,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}

/// The dead-letter queue, and looking up one message.
pub trait DeadLetters: Send + Sync {
    /// One message in any state, by id.
    fn get(
        &self,
        id: MessageId,
    ) -> impl Future<Output = Result<Option<Message>, StoreError>> + Send;

    /// Dead messages matching `filter`, oldest death first, at most `limit`.
    fn list_dead(
        &self,
        filter: DeadFilter,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Message>, StoreError>> + Send;

    /// Puts a dead message back to pending, due now, with its attempts reset. Never
    /// blocked by dedup: the message keeps its id and is not persisted again.
    fn replay(
        &self,
        id: MessageId,
        now_ms: i64,
    ) -> impl Future<Output = Result<ReplayOutcome, StoreError>> + Send;

    /// Deletes one dead message; `false` if there was no dead message with that id.
    fn purge(&self, id: MessageId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes every dead message matching `filter`; returns how many.
    fn purge_matching(
        &self,
        filter: DeadFilter,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Forgetting delivered messages.
pub trait Prune: Send + Sync {
    /// Deletes delivered messages acknowledged before `older_than_ms`; returns how many.
    fn prune_delivered(
        &self,
        older_than_ms: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Destinations paused because they answered 410 Gone. Kept in the store so that a
/// restart does not resume them behind the operator's back.
pub trait Pauses: Send + Sync {
    /// Pauses `destination`; a second pause keeps the first one's time and reason.
    fn pause(
        &self,
        destination: &str,
        reason: String,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Resumes `destination`; `false` if it was not paused.
    fn resume(&self, destination: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every paused destination, by name.
    fn paused(&self) -> impl Future<Output = Result<Vec<Pause>, StoreError>> + Send;
}

/// Looking at the store as a whole, for metrics and readiness.
pub trait Inspect: Send + Sync {
    /// How many messages each destination has in each state other than delivered (those
    /// are counted by the dispatcher as they happen), and the oldest one's creation time.
    /// Reads without holding up writes.
    fn depths(&self) -> impl Future<Output = Result<Vec<Depth>, StoreError>> + Send;

    /// Writes and commits one tiny row the way a persist would, so that readiness fails
    /// when the store cannot take writes (disk full, I/O errors, writer gone).
    fn probe_write(&self, now_ms: i64) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The whole store: every role together.
pub trait Store: Persist + Leases + DeadLetters + Prune + Pauses + Inspect {}

impl<T: Persist + Leases + DeadLetters + Prune + Pauses + Inspect> Store for T {}
