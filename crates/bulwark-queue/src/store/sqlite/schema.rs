//! The SQLite schema: numbered migrations recorded in `schema_version`, and how rows map
//! to [`Message`]s.

use rusqlite::{Connection, Row};

use crate::store::StoreError;
use crate::store::types::{Message, MessageId, MessageState};

/// Migrations in order; migration `n` (1-based) is `MIGRATIONS[n - 1]`. Never edit one
/// that has shipped: add the next.
const MIGRATIONS: &[&str] = &[
    // 1: messages. `seq` keeps the table a rowid table (bodies can be large, which suits
    // rowid tables better than WITHOUT ROWID) and gives arrival order.
    "CREATE TABLE messages (
        seq INTEGER PRIMARY KEY,
        id BLOB NOT NULL UNIQUE,
        destination TEXT NOT NULL,
        body BLOB NOT NULL,
        headers BLOB NOT NULL,
        event_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        state INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        lease_until INTEGER,
        lease_token INTEGER,
        last_error TEXT
    );
    -- claims of due pending messages, and the earliest due time
    CREATE INDEX messages_due ON messages (state, next_attempt_at);
    -- dedup by the provider's event id within a window
    CREATE INDEX messages_dedup ON messages (destination, event_id, created_at)
        WHERE event_id IS NOT NULL;
    -- dead-letter listings and pruning of delivered messages, by time of the last change;
    -- also finds leased messages (few: only deliveries in flight) for expired-lease claims
    CREATE INDEX messages_state_updated ON messages (state, updated_at);",
    // 2: FIFO per ordering key, the readiness probe, persisted pauses. `messages_ordering`
    // answers "is another message of this key ahead of this one?" for each claim
    // candidate.
    "ALTER TABLE messages ADD COLUMN ordering_key TEXT;
    -- claims are per destination: a destination's due messages are one range, however
    -- large another destination's backlog; `ordering_key` lets unordered candidates be
    -- taken without reading their rows
    DROP INDEX messages_due;
    CREATE INDEX messages_due ON messages (state, destination, next_attempt_at, ordering_key);
    CREATE INDEX messages_ordering ON messages (destination, ordering_key, seq)
        WHERE ordering_key IS NOT NULL AND state IN (0, 1);
    -- expired leases, and the next lease to expire: only deliveries in flight are in it,
    -- so a claim looks at no row unless a lease has really expired
    CREATE INDEX messages_leases ON messages (lease_until) WHERE state = 1;
    -- the readiness probe's one row: a write through the writer, as a persist makes
    CREATE TABLE store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);
    -- destinations paused by a 410 Gone until an operator resumes them
    CREATE TABLE paused_destinations (
        destination TEXT PRIMARY KEY,
        since INTEGER NOT NULL,
        reason TEXT NOT NULL
    );",
];

/// The schema version this build writes.
pub(super) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`LATEST`], one transaction per migration.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let ctx = |e| StoreError::unavailable("migrate the schema", e);
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .map_err(ctx)?;
    let current: i64 = conn
        .query_row(
            "SELECT coalesce(max(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )
        .map_err(ctx)?;
    if current > LATEST {
        return Err(StoreError::NewerSchema {
            found: current,
            supported: LATEST,
        });
    }
    for (version, sql) in (1..).zip(MIGRATIONS).skip(current as usize) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(ctx)?;
        tx.execute_batch(sql).map_err(ctx)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [version],
        )
        .map_err(ctx)?;
        tx.commit().map_err(ctx)?;
    }
    Ok(())
}

/// The columns [`message_from_row`] reads, in its order.
pub(super) const COLUMNS: &str = "id, destination, body, headers, event_id, attempts, \
     next_attempt_at, state, created_at, updated_at, last_error, ordering_key";

/// The number of columns in [`COLUMNS`]; extra columns follow from this index.
pub(super) const N_COLUMNS: usize = 12;

pub(super) fn message_from_row(row: &Row<'_>) -> Result<Message, StoreError> {
    let ctx = |e| StoreError::unavailable("read a message", e);
    let id: Vec<u8> = row.get(0).map_err(ctx)?;
    let id = uuid::Uuid::from_slice(&id)
        .map(MessageId)
        .map_err(|_| corrupt(format!("message id of {} bytes", id.len())))?;
    let headers: Vec<u8> = row.get(3).map_err(ctx)?;
    let attempts: i64 = row.get(5).map_err(ctx)?;
    let state: i64 = row.get(7).map_err(ctx)?;
    Ok(Message {
        id,
        destination: row.get(1).map_err(ctx)?,
        body: row.get::<_, Vec<u8>>(2).map_err(ctx)?.into(),
        headers: decode_headers(&headers)
            .ok_or_else(|| corrupt(format!("headers of message {id}")))?,
        event_id: row.get(4).map_err(ctx)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| corrupt(format!("attempts {attempts} of message {id}")))?,
        next_attempt_at_ms: row.get(6).map_err(ctx)?,
        state: MessageState::from_code(state)
            .ok_or_else(|| corrupt(format!("state {state} of message {id}")))?,
        created_at_ms: row.get(8).map_err(ctx)?,
        updated_at_ms: row.get(9).map_err(ctx)?,
        last_error: row.get(10).map_err(ctx)?,
        ordering_key: row.get(11).map_err(ctx)?,
    })
}

fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt { detail }
}

/// Headers as one blob: for each header, a big-endian u32 length and the name, then a u32
/// length and the value. Exact bytes in, exact bytes out, order kept.
pub(super) fn encode_headers(headers: &[(String, Vec<u8>)]) -> Vec<u8> {
    let size = headers.iter().map(|(n, v)| 8 + n.len() + v.len()).sum();
    let mut out = Vec::with_capacity(size);
    for (name, value) in headers {
        for part in [name.as_bytes(), value.as_slice()] {
            let len = u32::try_from(part.len()).expect("a header fits in 4 GiB");
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

pub(super) fn decode_headers(mut blob: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    fn part<'a>(blob: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (len, rest) = blob.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (part, rest) = rest.split_at(len);
        *blob = rest;
        Some(part)
    }
    let mut headers = Vec::new();
    while !blob.is_empty() {
        let name = String::from_utf8(part(&mut blob)?.to_vec()).ok()?;
        let value = part(&mut blob)?.to_vec();
        headers.push((name, value));
    }
    Some(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_headers_are_an_empty_blob() {
        assert!(encode_headers(&[]).is_empty());
        assert_eq!(decode_headers(&[]), Some(vec![]));
    }

    #[test]
    fn truncated_headers_are_refused() {
        let blob = encode_headers(&[("a".into(), b"bc".to_vec())]);
        for cut in 1..blob.len() {
            assert_eq!(decode_headers(&blob[..cut]), None, "cut at {cut}");
        }
    }

    proptest! {
        #[test]
        fn headers_round_trip(headers in proptest::collection::vec(
            (".{0,12}", proptest::collection::vec(any::<u8>(), 0..24)), 0..6)) {
            prop_assert_eq!(decode_headers(&encode_headers(&headers)), Some(headers));
        }
    }
}
