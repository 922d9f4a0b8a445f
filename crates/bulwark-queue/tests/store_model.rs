//! Model-based property test of the store (in the manner of vector's disk buffer model
//! tests): random sequences of persist / claim / ack / retry / dead-letter / replay /
//! crash (drop and reopen) / time passing, run against a real store and a plain
//! in-memory model side by side. Generic over the conformance suite's `Backend`, so every
//! backend runs it through the `Store` traits only (SQLite below). After every step:
//!
//! - nothing persisted is lost: every message the model holds is in the store, in the
//!   state the model expects, with its exact body and headers;
//! - nothing acked (or dead) is claimed again, and a claimed message is not claimable
//!   again until its lease expires, it is retried, or a restart frees it: every claimed
//!   message must be claimable in the model;
//! - a restart frees every lease: leased messages are pending again, due at once (and,
//!   where the backend can tell, it freed exactly that many);
//! - claims are fair and full: `min(limit, claimable)` messages, earliest due first;
//! - a lease settles only while it is current;
//! - dedup by event id within the window; replay is never blocked by it;
//! - FIFO per ordering key: a pending message waits while an earlier message of its
//!   destination and key is pending or leased.

// Only `Backend` and the SQLite backend are used here; the suite's tests run in
// `store_conformance.rs`.
#[allow(dead_code, unused_macros)]
mod conformance;

use std::collections::BTreeMap;

use bulwark_queue::store::{
    DeadLetters, Lease, LeaseOutcome, LeaseToken, Leases, MessageId, MessageState, NewMessage,
    Persist, Persisted, ReplayOutcome,
};
use conformance::Backend;
use conformance::sqlite::SqliteBackend;
use proptest::prelude::*;
use proptest::sample::Index;

const LEASE_MS: i64 = 1_000;
const WINDOW_MS: i64 = 3_000;
const DESTINATIONS: [&str; 3] = ["a", "b", "c"];
/// Every destination, as a mask.
const ALL: u8 = 0b111;

/// The destinations of `mask` (bit i = `DESTINATIONS[i]`).
fn destinations(mask: u8) -> Vec<String> {
    (0..DESTINATIONS.len())
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| DESTINATIONS[i].to_string())
        .collect()
}

#[derive(Clone, Debug)]
enum Op {
    Persist {
        dest: usize,
        event: Option<u8>,
        key: Option<u8>,
        delay: i64,
    },
    Claim {
        limit: u32,
        /// Which destinations to claim for (bits of [`DESTINATIONS`]): mostly one, as
        /// the dispatcher asks, sometimes several.
        mask: u8,
    },
    Ack(Index),
    Retry(Index, i64),
    DeadLetter(Index),
    Replay(Index),
    Crash,
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            0..DESTINATIONS.len(),
            proptest::option::of(0u8..4),
            proptest::option::of(0u8..2),
            prop_oneof![Just(0i64), 0i64..2_000],
        )
            .prop_map(|(dest, event, key, delay)| Op::Persist { dest, event, key, delay }),
        4 => (1u32..4, prop_oneof![3 => (0..DESTINATIONS.len()).prop_map(|d| 1u8 << d), 1 => 1u8..=ALL])
            .prop_map(|(limit, mask)| Op::Claim { limit, mask }),
        3 => any::<Index>().prop_map(Op::Ack),
        2 => (any::<Index>(), 0i64..3_000).prop_map(|(i, d)| Op::Retry(i, d)),
        1 => any::<Index>().prop_map(Op::DeadLetter),
        1 => any::<Index>().prop_map(Op::Replay),
        1 => Just(Op::Crash),
        2 => prop_oneof![1i64..500, Just(LEASE_MS - 1), Just(LEASE_MS)].prop_map(Op::Advance),
    ]
}

#[derive(Clone, Debug)]
struct Expected {
    dest: usize,
    event: Option<u8>,
    key: Option<u8>,
    /// Arrival order.
    seq: u64,
    body: Vec<u8>,
    state: MessageState,
    next_at: i64,
    lease_until: i64,
    token: Option<LeaseToken>,
    attempts: u32,
    created_at: i64,
}

impl Expected {
    fn holds_back(&self, later: &Expected) -> bool {
        later.key.is_some()
            && self.dest == later.dest
            && self.key == later.key
            && self.seq != later.seq
            && (self.seq < later.seq || self.state == MessageState::Leased)
            && matches!(self.state, MessageState::Pending | MessageState::Leased)
    }

    fn holds(&self, lease: &Lease) -> bool {
        self.state == MessageState::Leased && self.token == Some(lease.token)
    }
}

struct Harness<B: Backend> {
    backend: B,
    store: Option<B::Store>,
    now: i64,
    model: BTreeMap<MessageId, Expected>,
    /// Every lease ever handed out, current or stale.
    leases: Vec<Lease>,
    persisted: u64,
}

fn new_message(dest: usize, event: Option<u8>, key: Option<u8>, at: i64, n: u64) -> NewMessage {
    NewMessage {
        destination: DESTINATIONS[dest].to_string(),
        body: format!("{{\"n\":{n}}}\u{0}\r\n").into_bytes().into(),
        headers: vec![
            ("Content-Type".into(), b"application/json".to_vec()),
            ("X-N".into(), n.to_be_bytes().to_vec()),
        ],
        event_id: event.map(|e| format!("evt_{e}")),
        ordering_key: key.map(|k| format!("key_{k}")),
        next_attempt_at_ms: at,
    }
}

impl<B: Backend> Harness<B> {
    async fn new(backend: B) -> Self {
        let store = backend.open().await;
        Harness {
            backend,
            store: Some(store),
            now: 1_700_000_000_000,
            model: BTreeMap::new(),
            leases: Vec::new(),
            persisted: 0,
        }
    }

    fn store(&self) -> &B::Store {
        self.store.as_ref().expect("store is open")
    }

    /// When a claim at `now` may take message `m`, if it may at all: due, asked for,
    /// and (when pending) not held back by an earlier message of its ordering key.
    fn due(&self, m: &Expected, now: i64, mask: u8) -> Option<i64> {
        if mask & (1 << m.dest) == 0 {
            return None;
        }
        match m.state {
            MessageState::Pending if self.is_head(m) => Some(m.next_at),
            MessageState::Leased => Some(m.lease_until),
            _ => None,
        }
        .filter(|due| *due <= now)
    }

    fn is_head(&self, m: &Expected) -> bool {
        !self.model.values().any(|e| e.holds_back(m))
    }

    fn claimable(&self, now: i64, mask: u8) -> BTreeMap<MessageId, i64> {
        self.model
            .iter()
            .filter_map(|(id, m)| self.due(m, now, mask).map(|due| (*id, due)))
            .collect()
    }

    async fn settle(&mut self, pick: &Index, op: &Op) -> Result<(), TestCaseError> {
        if self.leases.is_empty() {
            return Ok(());
        }
        let lease = *pick.get(&self.leases);
        let current = self.model.get(&lease.id).is_some_and(|m| m.holds(&lease));
        let now = self.now;
        let outcome = match op {
            Op::Ack(_) => self.store().ack(lease, now).await,
            Op::Retry(_, delay) => {
                let at = now + delay;
                self.store().retry(lease, at, "retry".into(), now).await
            }
            Op::DeadLetter(_) => self.store().dead_letter(lease, "dead".into(), now).await,
            _ => unreachable!("not a settling op"),
        }
        .expect("settle");
        let expected = if current {
            LeaseOutcome::Applied
        } else {
            LeaseOutcome::LeaseLost
        };
        prop_assert_eq!(outcome, expected, "settling {:?}", lease);
        if current {
            let m = self.model.get_mut(&lease.id).expect("in model");
            m.token = None;
            match op {
                Op::Ack(_) => m.state = MessageState::Delivered,
                Op::Retry(_, delay) => {
                    m.state = MessageState::Pending;
                    m.next_at = now + delay;
                }
                _ => m.state = MessageState::Dead,
            }
        }
        Ok(())
    }

    async fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let now = self.now;
        match op {
            Op::Persist {
                dest,
                event,
                key,
                delay,
            } => {
                self.persisted += 1;
                let new = new_message(*dest, *event, *key, now + delay, self.persisted);
                let duplicate_of = event.and_then(|_| {
                    self.model
                        .iter()
                        .filter(|(_, m)| m.dest == *dest && m.event == *event)
                        .filter(|(_, m)| m.created_at > now - WINDOW_MS)
                        .max_by_key(|(_, m)| m.created_at)
                        .map(|(id, _)| *id)
                });
                let body = new.body.to_vec();
                let got = self
                    .store()
                    .persist(new, WINDOW_MS, now)
                    .await
                    .expect("persist");
                match (duplicate_of, got) {
                    (Some(want), Persisted::Duplicate(id)) => prop_assert_eq!(id, want),
                    (None, Persisted::Stored(id)) => {
                        prop_assert!(!self.model.contains_key(&id), "fresh id");
                        self.model.insert(
                            id,
                            Expected {
                                dest: *dest,
                                event: *event,
                                key: *key,
                                seq: self.persisted,
                                body,
                                state: MessageState::Pending,
                                next_at: now + delay,
                                lease_until: 0,
                                token: None,
                                attempts: 0,
                                created_at: now,
                            },
                        );
                    }
                    (want, got) => {
                        return Err(TestCaseError::fail(format!(
                            "persist: expected duplicate of {want:?}, got {got:?}"
                        )));
                    }
                }
            }
            Op::Claim { limit, mask } => {
                let asked = destinations(*mask);
                let claimed = self
                    .store()
                    .claim(&asked, *limit, LEASE_MS, now)
                    .await
                    .expect("claim");
                let claimable = self.claimable(now, *mask);
                prop_assert_eq!(claimed.len(), claimable.len().min(*limit as usize));
                let mut latest_claimed = i64::MIN;
                for c in &claimed {
                    let id = c.message.id;
                    let Some(due) = claimable.get(&id) else {
                        return Err(TestCaseError::fail(format!(
                            "claimed {id} which is not claimable: {:?}",
                            self.model.get(&id)
                        )));
                    };
                    latest_claimed = latest_claimed.max(*due);
                    let m = self.model.get_mut(&id).expect("claimable is in the model");
                    prop_assert_eq!(&c.message.body[..], &m.body[..]);
                    prop_assert_eq!(c.message.attempts, m.attempts + 1);
                    prop_assert_eq!(c.lease_until_ms, now + LEASE_MS);
                    prop_assert_eq!(c.lease.id, id);
                    m.state = MessageState::Leased;
                    m.lease_until = now + LEASE_MS;
                    m.token = Some(c.lease.token);
                    m.attempts += 1;
                    self.leases.push(c.lease);
                }
                // Earliest first: nothing left behind was due before what was taken.
                for (id, due) in &claimable {
                    if !claimed.iter().any(|c| c.message.id == *id) {
                        prop_assert!(*due >= latest_claimed, "{id} due {due} left behind");
                    }
                }
            }
            Op::Ack(pick) | Op::Retry(pick, _) | Op::DeadLetter(pick) => {
                self.settle(pick, op).await?;
            }
            Op::Replay(pick) => {
                if self.model.is_empty() {
                    return Ok(());
                }
                let ids: Vec<MessageId> = self.model.keys().copied().collect();
                let id = *pick.get(&ids);
                let got = self.store().replay(id, now).await.expect("replay");
                let m = self.model.get_mut(&id).expect("in model");
                if m.state == MessageState::Dead {
                    prop_assert_eq!(got, ReplayOutcome::Replayed);
                    m.state = MessageState::Pending;
                    m.attempts = 0;
                    m.next_at = now;
                } else {
                    prop_assert_eq!(got, ReplayOutcome::NotDead);
                }
            }
            Op::Crash => {
                drop(self.store.take());
                let store = self.backend.open().await;
                let mut leased = 0;
                for m in self.model.values_mut() {
                    if m.state == MessageState::Leased {
                        // Due at once: it was claimed at or after its due time.
                        prop_assert!(m.next_at <= now, "a leased message was due");
                        m.state = MessageState::Pending;
                        m.token = None;
                        leased += 1;
                    }
                }
                if let Some(released) = self.backend.leases_released_at_open(&store) {
                    prop_assert_eq!(released, leased, "leases freed at open");
                }
                self.store = Some(store);
            }
            Op::Advance(ms) => self.now += ms,
        }
        Ok(())
    }

    /// Nothing lost: the store holds exactly what the model expects.
    async fn check(&self) -> Result<(), TestCaseError> {
        for (id, m) in &self.model {
            let got = self.store().get(*id).await.expect("get");
            let Some(got) = got else {
                return Err(TestCaseError::fail(format!("message {id} was lost")));
            };
            prop_assert_eq!(got.state, m.state, "state of {}", id);
            prop_assert_eq!(got.attempts, m.attempts, "attempts of {}", id);
            prop_assert_eq!(&got.body[..], &m.body[..]);
            prop_assert_eq!(&got.destination, DESTINATIONS[m.dest]);
            prop_assert_eq!(got.created_at_ms, m.created_at);
            if m.state == MessageState::Pending {
                prop_assert_eq!(got.next_attempt_at_ms, m.next_at, "next attempt of {}", id);
            }
        }
        let next_due = self
            .model
            .values()
            .filter_map(|m| match m.state {
                MessageState::Pending if self.is_head(m) => Some(m.next_at),
                MessageState::Leased => Some(m.lease_until),
                _ => None,
            })
            .min();
        prop_assert_eq!(
            self.store()
                .next_due_at(&destinations(ALL))
                .await
                .expect("next due"),
            next_due
        );
        Ok(())
    }
}

/// Runs `ops` against a fresh database of `backend` and the model.
fn run<B: Backend>(backend: B, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut h = Harness::new(backend).await;
        for op in &ops {
            h.apply(op).await?;
            h.check().await?;
        }
        // Finally everything still pending or leased, and at the head of its key, is
        // claimed exactly once more.
        h.now += LEASE_MS;
        let open = h.claimable(h.now, ALL).len();
        let claimed = h
            .store()
            .claim(&destinations(ALL), u32::MAX, LEASE_MS, h.now)
            .await
            .expect("final claim");
        prop_assert_eq!(claimed.len(), open);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    // Another backend: one more test like this one, with its `Backend`.
    #[test]
    fn the_sqlite_store_behaves_like_its_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(SqliteBackend::in_temp_dir(), ops)?;
    }
}
