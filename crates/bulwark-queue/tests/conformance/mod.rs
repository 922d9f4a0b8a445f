//! The `Store` conformance suite: the contracts written on the role traits of
//! `bulwark_queue::store` (`Persist`, `Leases`, `DeadLetters`, `Prune`, `Pauses`,
//! `Inspect`), checked through those traits only, so that every backend runs the same
//! suite. Time is always passed in (`now_ms`), so every check is exact.
//!
//! A backend plugs in with one [`Backend`] impl and one [`store_conformance_tests!`] call
//! in its runner (see `tests/store_conformance.rs`); the model-based property test
//! (`tests/store_model.rs`) is generic over the same [`Backend`].
//!
//! One `pub async fn` per behaviour, grouped by role; each becomes its own named test.

pub mod dead_letters;
pub mod fifo;
pub mod inspect;
pub mod leases;
pub mod pauses;
pub mod persist;
pub mod prune;
pub mod restart;
pub mod sqlite;

use std::future::Future;

use bulwark_queue::store::{
    ClaimedMessage, DeadLetters, Lease, LeaseOutcome, Leases, Message, MessageId, NewMessage,
    Persist, Persisted, Store,
};

/// One database of one backend, for one test.
///
/// A value is a fresh, empty database when created; [`Backend::open`] opens it, and opening
/// it again after the previous handle (and all its clones) was dropped is a restart of
/// bulwark on the same data.
pub trait Backend {
    type Store: Store + Clone + 'static;

    /// Opens (or reopens) this backend's database the way bulwark does at start-up,
    /// including freeing the leases of a previous run: the SQLite store does that when it
    /// opens; a server backend would call [`Leases::release_all`] here. Panics if the
    /// database cannot be opened: this is test support.
    fn open(&self) -> impl Future<Output = Self::Store>;

    /// How many leases the last [`Backend::open`] freed, when the backend can tell (the
    /// model test then checks the count); `None` if it cannot.
    fn leases_released_at_open(&self, _store: &Self::Store) -> Option<u64> {
        None
    }
}

/// One `#[tokio::test]` per behaviour of the suite, for one backend: `$backend` is an
/// expression (it may `.await`) giving a fresh [`Backend`] for each test.
///
/// ```ignore
/// mod sqlite {
///     store_conformance_tests!(crate::conformance::sqlite::SqliteBackend::in_temp_dir());
/// }
/// ```
///
/// A suite function missing from this list is reported as dead code by the compiler.
macro_rules! store_conformance_tests {
    ($backend:expr) => {
        store_conformance_tests!(@each $backend;
            persist::persist_keeps_the_exact_body_and_headers,
            persist::persist_keeps_an_empty_body_and_no_headers,
            persist::persist_gives_each_message_a_new_time_ordered_id,
            persist::dedup_by_destination_and_event_id_within_the_window_only,
            persist::dedup_never_crosses_destinations,
            persist::messages_without_an_event_id_are_never_duplicates,
            persist::dedup_sees_delivered_and_dead_messages_until_they_are_pruned,
            leases::claim_takes_only_due_messages_earliest_first_under_a_lease,
            leases::claim_respects_the_limit,
            leases::claim_skips_destinations_without_burning_attempts,
            leases::claim_takes_due_pending_and_expired_leases_earliest_first,
            leases::an_expired_lease_is_claimed_again_with_a_new_token,
            leases::ack_delivers_once_and_nothing_acked_is_claimed_again,
            leases::settling_needs_the_current_token_of_that_message,
            leases::retry_reschedules_and_keeps_the_error,
            leases::dead_letter_moves_the_message_out_of_the_queue,
            leases::release_all_frees_every_lease,
            leases::next_due_at_sees_pending_messages_and_leases,
            leases::next_due_at_ignores_skipped_destinations,
            leases::undelivered_destinations_are_those_with_pending_or_leased_messages,
            fifo::only_the_head_of_an_ordering_key_is_claimed,
            fifo::a_retried_head_still_blocks_its_key,
            fifo::a_dead_head_releases_its_key,
            fifo::a_replayed_head_waits_for_the_message_in_delivery,
            fifo::an_expired_head_is_claimed_again_before_the_rest_of_its_key,
            fifo::keys_and_destinations_are_independent,
            fifo::next_due_at_ignores_messages_held_back_by_their_key,
            dead_letters::list_dead_is_ordered_by_time_of_death,
            dead_letters::list_dead_filters_by_destination_and_time_of_death,
            dead_letters::replay_resets_attempts_and_keeps_the_id,
            dead_letters::replay_answers_not_found_and_not_dead,
            dead_letters::purge_deletes_one_dead_message_only,
            dead_letters::purge_matching_deletes_what_the_filter_matches,
            prune::prune_delivered_forgets_only_delivered_messages_older_than_the_cutoff,
            pauses::pause_is_idempotent_and_keeps_the_first_reason_and_time,
            pauses::resume_says_whether_the_destination_was_paused,
            pauses::paused_lists_every_destination_by_name,
            pauses::pauses_survive_a_restart,
            inspect::depths_count_each_destination_and_state_except_delivered,
            inspect::probe_write_succeeds_and_stores_no_message,
            restart::a_restart_keeps_pending_messages_and_frees_leases,
            restart::a_restart_keeps_settled_messages_settled,
        );
    };
    (@each $backend:expr; $($role:ident :: $test:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                let backend = $backend;
                crate::conformance::$role::$test(&backend).await;
            }
        )*
    };
}

// ---- shared helpers ----------------------------------------------------------------

/// Some moment; the suite's clocks start here.
pub const T0: i64 = 1_700_000_000_000;
/// The dedup window used by the suite.
pub const WINDOW: i64 = 60_000;
/// The lease used by the suite.
pub const LEASE: i64 = 30_000;

/// A message with an awkward body and headers, due at `at`.
pub fn msg(destination: &str, event_id: Option<&str>, at: i64) -> NewMessage {
    NewMessage {
        destination: destination.into(),
        body: bytes::Bytes::from_static(b"{\"b\": 1,\"a\":2}\r\n\x00\xff"),
        headers: vec![
            ("Content-Type".into(), b"application/json".to_vec()),
            ("X-Odd".into(), vec![0xff, 0x00, b' ']),
            ("x-odd".into(), b"second".to_vec()),
        ],
        event_id: event_id.map(Into::into),
        ordering_key: None,
        next_attempt_at_ms: at,
    }
}

/// A message of `destination` with ordering key `key`, due at `at`.
pub fn keyed(destination: &str, key: &str, at: i64) -> NewMessage {
    NewMessage {
        ordering_key: Some(key.into()),
        ..msg(destination, None, at)
    }
}

/// Every destination the suite stores messages for.
pub const DESTINATIONS: [&str; 5] = ["app", "a", "b", "c", "other"];

/// Every destination of the suite: what a claim or `next_due_at` is asked about.
pub fn all() -> Vec<String> {
    all_but(&[])
}

/// Every destination of the suite except `skipped` (an open breaker, a pause, ...).
pub fn all_but(skipped: &[&str]) -> Vec<String> {
    DESTINATIONS
        .iter()
        .filter(|d| !skipped.contains(d))
        .map(|d| d.to_string())
        .collect()
}

/// Persists `m` at `now`, expecting it to be stored (not a duplicate).
pub async fn stored<S: Persist>(store: &S, m: NewMessage, now: i64) -> MessageId {
    match store.persist(m, WINDOW, now).await.expect("persist") {
        Persisted::Stored(id) => id,
        other => panic!("expected Stored, got {other:?}"),
    }
}

/// The message `id`, which must exist.
pub async fn get<S: DeadLetters>(store: &S, id: MessageId) -> Message {
    store
        .get(id)
        .await
        .expect("get")
        .unwrap_or_else(|| panic!("message {id} is missing"))
}

/// Claims messages of `destinations` with the suite's lease.
pub async fn claim<S: Leases>(
    store: &S,
    limit: u32,
    now: i64,
    destinations: &[String],
) -> Vec<ClaimedMessage> {
    store
        .claim(destinations, limit, LEASE, now)
        .await
        .expect("claim")
}

/// Claims everything due at `now` and expects exactly `id`; returns its lease.
pub async fn claim_only<S: Leases>(store: &S, id: MessageId, now: i64) -> Lease {
    let claimed = claim(store, u32::MAX, now, &all()).await;
    assert_eq!(ids(&claimed), [id], "claim at {now}");
    claimed[0].lease
}

/// The ids of `claimed`, in the order returned.
pub fn ids(claimed: &[ClaimedMessage]) -> Vec<MessageId> {
    claimed.iter().map(|c| c.message.id).collect()
}

/// The ids of `claimed`, sorted (for claims whose order is not specified).
pub fn sorted_ids(claimed: &[ClaimedMessage]) -> Vec<MessageId> {
    let mut ids = ids(claimed);
    ids.sort();
    ids
}

/// `ids`, sorted.
pub fn sorted(mut ids: Vec<MessageId>) -> Vec<MessageId> {
    ids.sort();
    ids
}

/// The lease of message `id` among `claimed`.
pub fn lease_of(claimed: &[ClaimedMessage], id: MessageId) -> Lease {
    claimed
        .iter()
        .find(|c| c.message.id == id)
        .unwrap_or_else(|| panic!("{id} was not claimed"))
        .lease
}

/// Asserts that settling a lease applied.
pub fn applied(outcome: Result<LeaseOutcome, bulwark_queue::store::StoreError>) {
    assert_eq!(outcome.expect("settle"), LeaseOutcome::Applied);
}

/// Asserts that settling a lease found it lost.
pub fn lost(outcome: Result<LeaseOutcome, bulwark_queue::store::StoreError>) {
    assert_eq!(outcome.expect("settle"), LeaseOutcome::LeaseLost);
}

/// Persists a message of `destination` at `now`, claims it and dead-letters it at `died`.
pub async fn dead<S: Store>(store: &S, destination: &str, now: i64, died: i64) -> MessageId {
    let id = stored(store, msg(destination, None, now), now).await;
    let lease = claim_only(store, id, now).await;
    applied(
        store
            .dead_letter(lease, format!("died at {died}"), died)
            .await,
    );
    id
}

/// Persists a message of `destination` at `now`, claims it and acknowledges it at `acked`.
pub async fn delivered<S: Store>(store: &S, destination: &str, now: i64, acked: i64) -> MessageId {
    let id = stored(store, msg(destination, None, now), now).await;
    let lease = claim_only(store, id, now).await;
    applied(store.ack(lease, acked).await);
    id
}
