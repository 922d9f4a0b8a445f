//! The values that go in and out of the store.

use std::fmt;

use bytes::Bytes;
use uuid::Uuid;

/// bulwark's id for a message: a UUIDv7 (time-ordered), sent to the app as `webhook-id`
/// and the same across retries, redeliveries and replays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub Uuid);

impl MessageId {
    /// A new UUIDv7 whose timestamp is `now_ms`; the remaining bits are random.
    pub fn new(now_ms: i64) -> Self {
        let ms = u64::try_from(now_ms).unwrap_or(0);
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            ms / 1000,
            u32::try_from(ms % 1000).unwrap_or(0) * 1_000_000,
        );
        MessageId(Uuid::new_v7(ts))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for MessageId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(MessageId)
    }
}

/// Where a message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageState {
    /// Waiting for `next_attempt_at`.
    Pending,
    /// Claimed by a dispatcher until `lease_until`.
    Leased,
    /// Taken by the destination (2xx).
    Delivered,
    /// Given up on; in the dead-letter queue until replayed or purged.
    Dead,
    /// Held because its destination is paused (410 Gone) until resumed.
    Paused,
}

impl MessageState {
    /// The state's name in metrics and the admin API.
    pub fn label(self) -> &'static str {
        match self {
            MessageState::Pending => "pending",
            MessageState::Leased => "leased",
            MessageState::Delivered => "delivered",
            MessageState::Dead => "dead",
            MessageState::Paused => "paused",
        }
    }

    /// The code stored in the `state` column; the SQL uses the same numbers.
    pub(crate) fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => MessageState::Pending,
            1 => MessageState::Leased,
            2 => MessageState::Delivered,
            3 => MessageState::Dead,
            4 => MessageState::Paused,
            _ => return None,
        })
    }
}

/// A message to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub destination: String,
    /// The body exactly as received.
    pub body: Bytes,
    /// The headers exactly as received: names as sent, values as raw bytes, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The provider's event id, for dedup.
    pub event_id: Option<String>,
    /// Messages of one destination with the same ordering key are delivered one at a
    /// time, in the order they were stored; `None` is unordered.
    pub ordering_key: Option<String>,
    /// When to attempt the first delivery (normally `now`).
    pub next_attempt_at_ms: i64,
}

/// A stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub destination: String,
    pub body: Bytes,
    pub headers: Vec<(String, Vec<u8>)>,
    pub event_id: Option<String>,
    pub ordering_key: Option<String>,
    /// Claims so far (each claim is one delivery attempt); reset by replay.
    pub attempts: u32,
    pub next_attempt_at_ms: i64,
    pub state: MessageState,
    pub created_at_ms: i64,
    /// When the state last changed (delivered at, dead since, ...).
    pub updated_at_ms: i64,
    pub last_error: Option<String>,
}

/// The answer to [`Persist::persist`](super::Persist::persist).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persisted {
    /// Stored under this new id.
    Stored(MessageId),
    /// Already stored within the dedup window under this id; nothing was stored.
    Duplicate(MessageId),
}

impl Persisted {
    pub fn id(self) -> MessageId {
        match self {
            Persisted::Stored(id) | Persisted::Duplicate(id) => id,
        }
    }
}

/// The secret that proves a claim is still the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LeaseToken(pub i64);

/// A claim on one message, needed to settle it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    pub id: MessageId,
    pub token: LeaseToken,
}

/// A message returned by a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedMessage {
    pub message: Message,
    pub lease: Lease,
    pub lease_until_ms: i64,
}

/// The answer to settling a lease.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseOutcome {
    Applied,
    /// The lease was no longer current; nothing changed.
    LeaseLost,
}

/// The answer to a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayOutcome {
    Replayed,
    NotFound,
    /// The message exists but is not dead (already pending, delivered, ...).
    NotDead,
}

/// Which dead messages to list or purge. Times are when the message died.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeadFilter {
    pub destination: Option<String>,
    /// Died at or after this time.
    pub since_ms: Option<i64>,
    /// Died before this time.
    pub until_ms: Option<i64>,
}

/// One line of [`Inspect::depths`](super::Inspect::depths).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Depth {
    pub destination: String,
    pub state: MessageState,
    pub count: u64,
    /// When the oldest of these messages was stored.
    pub oldest_created_at_ms: i64,
}

/// A paused destination, from [`Pauses::paused`](super::Pauses::paused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pause {
    pub destination: String,
    pub since_ms: i64,
    /// What the destination answered (status and body excerpt).
    pub reason: String,
}
