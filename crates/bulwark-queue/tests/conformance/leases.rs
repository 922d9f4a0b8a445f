//! `Leases`: claims (due only, earliest first, limit, skip list, expiry), settling with the
//! current token only, `release_all`, and `next_due_at`.

use std::collections::HashSet;

use bulwark_queue::store::{Lease, LeaseToken, Leases, MessageId, MessageState};

use super::{
    Backend, LEASE, T0, all, all_but, applied, claim, claim_only, get, ids, lease_of, lost, msg,
    sorted, sorted_ids, stored,
};

pub async fn claim_takes_only_due_messages_earliest_first_under_a_lease<B: Backend>(b: &B) {
    let store = b.open().await;
    let later = stored(&store, msg("app", None, T0 + 10), T0).await;
    let early = stored(&store, msg("app", None, T0 - 10), T0).await;
    let middle = stored(&store, msg("other", None, T0), T0).await;
    let future = stored(&store, msg("app", None, T0 + 1_000), T0).await;

    let now = T0 + 10;
    let claimed = claim(&store, 10, now, &all()).await;
    assert_eq!(
        ids(&claimed),
        [early, middle, later],
        "due only, earliest first"
    );
    for c in &claimed {
        assert_eq!(c.message.state, MessageState::Leased);
        assert_eq!(c.message.attempts, 1, "a claim is an attempt");
        assert_eq!(c.lease_until_ms, now + LEASE);
        assert_eq!(c.lease.id, c.message.id);
        assert_eq!(get(&store, c.message.id).await.state, MessageState::Leased);
    }
    let tokens: HashSet<LeaseToken> = claimed.iter().map(|c| c.lease.token).collect();
    assert_eq!(tokens.len(), 3, "a fresh token per claim");
    // Nothing more is due now; the future one is due at its time, not before.
    assert!(claim(&store, 10, now, &all()).await.is_empty());
    assert!(claim(&store, 10, T0 + 999, &all()).await.is_empty());
    claim_only(&store, future, T0 + 1_000).await;
}

pub async fn claim_respects_the_limit<B: Backend>(b: &B) {
    let store = b.open().await;
    let mut stored_ids = Vec::new();
    for i in 0..5 {
        stored_ids.push(stored(&store, msg("app", None, T0 + i), T0).await);
    }
    assert!(claim(&store, 0, T0 + 10, &all()).await.is_empty());
    assert_eq!(
        ids(&claim(&store, 2, T0 + 10, &all()).await),
        stored_ids[..2],
        "earliest two"
    );
    assert_eq!(
        ids(&claim(&store, 1, T0 + 10, &all()).await),
        stored_ids[2..3]
    );
    assert_eq!(
        ids(&claim(&store, 10, T0 + 10, &all()).await),
        stored_ids[3..]
    );
    assert!(claim(&store, 10, T0 + 10, &all()).await.is_empty());
}

pub async fn claim_skips_destinations_without_burning_attempts<B: Backend>(b: &B) {
    let store = b.open().await;
    let a = stored(&store, msg("a", None, T0), T0).await;
    let b_id = stored(&store, msg("b", None, T0), T0).await;
    let c = stored(&store, msg("c", None, T0), T0).await;
    let claimed = claim(&store, 10, T0, &all_but(&["a", "c", "not-a-destination"])).await;
    assert_eq!(ids(&claimed), [b_id]);
    for skipped in [a, c] {
        let got = get(&store, skipped).await;
        assert_eq!((got.state, got.attempts), (MessageState::Pending, 0));
    }
    // Expired leases of a skipped destination are skipped too.
    let leased_a = claim(&store, 10, T0, &all_but(&["c"])).await;
    assert_eq!(ids(&leased_a), [a]);
    let after_expiry = T0 + LEASE;
    let claimed = claim(&store, 10, after_expiry, &all_but(&["a", "b"])).await;
    assert_eq!(ids(&claimed), [c]);
    assert_eq!(get(&store, a).await.attempts, 1);
    let claimed = claim(&store, 10, after_expiry, &all()).await;
    assert_eq!(sorted_ids(&claimed), sorted(vec![a, b_id]));
}

/// Due pending messages and expired leases compete on one time line: a pending message is
/// due at its next attempt, a leased one when its lease expires.
pub async fn claim_takes_due_pending_and_expired_leases_earliest_first<B: Backend>(b: &B) {
    let store = b.open().await;
    let leased = stored(&store, msg("app", None, T0), T0).await;
    claim_only(&store, leased, T0).await; // expires at T0 + LEASE
    let before = stored(&store, msg("app", None, T0 + LEASE - 1), T0).await;
    let after = stored(&store, msg("app", None, T0 + LEASE + 1), T0).await;
    let now = T0 + LEASE + 1;
    assert_eq!(ids(&claim(&store, 1, now, &all()).await), [before]);
    assert_eq!(ids(&claim(&store, 1, now, &all()).await), [leased]);
    assert_eq!(ids(&claim(&store, 1, now, &all()).await), [after]);
}

pub async fn an_expired_lease_is_claimed_again_with_a_new_token<B: Backend>(b: &B) {
    let store = b.open().await;
    let id = stored(&store, msg("app", None, T0), T0).await;
    let first = claim(&store, 1, T0, &all()).await.remove(0);
    assert!(
        claim(&store, 1, T0 + LEASE - 1, &all()).await.is_empty(),
        "lease holds"
    );
    let second = claim(&store, 1, T0 + LEASE, &all()).await.remove(0);
    assert_eq!(second.message.id, id);
    assert_eq!(second.message.attempts, 2, "each claim counts an attempt");
    assert_eq!(second.lease_until_ms, T0 + 2 * LEASE);
    assert_ne!(first.lease.token, second.lease.token);
    // The old lease is lost for every way of settling; the new one settles.
    let now = T0 + LEASE + 1;
    lost(store.ack(first.lease, now).await);
    lost(store.retry(first.lease, now, "late".into(), now).await);
    lost(store.dead_letter(first.lease, "late".into(), now).await);
    let got = get(&store, id).await;
    assert_eq!((got.state, got.last_error), (MessageState::Leased, None));
    applied(store.ack(second.lease, now).await);
}

pub async fn ack_delivers_once_and_nothing_acked_is_claimed_again<B: Backend>(b: &B) {
    let store = b.open().await;
    let id = stored(&store, msg("app", None, T0), T0).await;
    let lease = claim_only(&store, id, T0).await;
    applied(store.ack(lease, T0 + 5).await);
    let got = get(&store, id).await;
    assert_eq!(got.state, MessageState::Delivered);
    assert_eq!(got.updated_at_ms, T0 + 5, "delivered at");
    assert_eq!(got.attempts, 1);
    // Settled: the lease is spent.
    lost(store.ack(lease, T0 + 6).await);
    lost(store.retry(lease, T0 + 6, "x".into(), T0 + 6).await);
    lost(store.dead_letter(lease, "x".into(), T0 + 6).await);
    assert_eq!(get(&store, id).await.state, MessageState::Delivered);
    assert!(claim(&store, 10, T0 + 10 * LEASE, &all()).await.is_empty());
    assert_eq!(store.next_due_at(&all()).await.unwrap(), None);
}

pub async fn settling_needs_the_current_token_of_that_message<B: Backend>(b: &B) {
    let store = b.open().await;
    stored(&store, msg("app", None, T0), T0).await;
    stored(&store, msg("app", None, T0), T0).await;
    let pending = stored(&store, msg("app", None, T0 + 1_000), T0).await;
    let claimed = claim(&store, 2, T0, &all()).await;
    assert_eq!(claimed.len(), 2);
    // Another message's token.
    let forged = Lease {
        id: claimed[0].lease.id,
        token: claimed[1].lease.token,
    };
    lost(store.ack(forged, T0).await);
    lost(store.retry(forged, T0, "x".into(), T0).await);
    lost(store.dead_letter(forged, "x".into(), T0).await);
    // A message that is not leased, and one that does not exist.
    for id in [pending, MessageId::new(T0)] {
        let lease = Lease {
            id,
            token: claimed[0].lease.token,
        };
        lost(store.ack(lease, T0).await);
        lost(store.retry(lease, T0, "x".into(), T0).await);
        lost(store.dead_letter(lease, "x".into(), T0).await);
    }
    let got = get(&store, pending).await;
    assert_eq!((got.state, got.last_error), (MessageState::Pending, None));
    for c in &claimed {
        let got = get(&store, c.message.id).await;
        assert_eq!((got.state, got.last_error), (MessageState::Leased, None));
        applied(store.ack(c.lease, T0).await);
    }
}

pub async fn retry_reschedules_and_keeps_the_error<B: Backend>(b: &B) {
    let store = b.open().await;
    let id = stored(&store, msg("app", None, T0), T0).await;
    let lease = claim_only(&store, id, T0).await;
    applied(
        store
            .retry(lease, T0 + 5_000, "HTTP 503".into(), T0 + 1)
            .await,
    );
    let got = get(&store, id).await;
    assert_eq!(got.state, MessageState::Pending);
    assert_eq!(got.next_attempt_at_ms, T0 + 5_000);
    assert_eq!(got.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(got.attempts, 1);
    // Not claimable before its time, even after its old lease would have expired.
    assert!(claim(&store, 1, T0 + 4_999, &all()).await.is_empty());
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(T0 + 5_000));
    let again = claim(&store, 1, T0 + 5_000, &all()).await;
    assert_eq!(ids(&again), [id]);
    assert_eq!(again[0].message.attempts, 2);
    // The first lease cannot settle the second claim.
    lost(store.retry(lease, T0, "late".into(), T0 + 5_001).await);
    // A second failure replaces the error.
    applied(
        store
            .retry(again[0].lease, T0 + 9_000, "timeout".into(), T0 + 5_001)
            .await,
    );
    assert_eq!(get(&store, id).await.last_error.as_deref(), Some("timeout"));
}

pub async fn dead_letter_moves_the_message_out_of_the_queue<B: Backend>(b: &B) {
    let store = b.open().await;
    let id = stored(&store, msg("app", None, T0), T0).await;
    let lease = claim_only(&store, id, T0).await;
    applied(store.dead_letter(lease, "HTTP 400".into(), T0 + 7).await);
    let got = get(&store, id).await;
    assert_eq!(got.state, MessageState::Dead);
    assert_eq!(got.last_error.as_deref(), Some("HTTP 400"));
    assert_eq!(got.updated_at_ms, T0 + 7, "dead since");
    assert_eq!(got.attempts, 1);
    assert!(claim(&store, 10, T0 + 10 * LEASE, &all()).await.is_empty());
    assert_eq!(store.next_due_at(&all()).await.unwrap(), None);
    lost(store.ack(lease, T0 + 8).await);
}

pub async fn release_all_frees_every_lease<B: Backend>(b: &B) {
    let store = b.open().await;
    assert_eq!(store.release_all().await.unwrap(), 0, "nothing leased");
    let first = stored(&store, msg("app", None, T0 - 5), T0).await;
    let second = stored(&store, msg("other", None, T0), T0).await;
    let waiting = stored(&store, msg("app", None, T0 + 1_000), T0).await;
    let claimed = claim(&store, 10, T0, &all()).await;
    assert_eq!(ids(&claimed), [first, second]);
    assert_eq!(store.release_all().await.unwrap(), 2);
    for (id, due) in [(first, T0 - 5), (second, T0)] {
        let got = get(&store, id).await;
        assert_eq!(got.state, MessageState::Pending);
        assert_eq!(got.next_attempt_at_ms, due, "keeps its due time");
        assert_eq!(got.attempts, 1);
        lost(store.ack(lease_of(&claimed, id), T0).await);
    }
    assert_eq!(get(&store, waiting).await.state, MessageState::Pending);
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(T0 - 5));
    // Claimable at once, long before the old leases would have expired.
    let again = claim(&store, 10, T0 + 1, &all()).await;
    assert_eq!(ids(&again), [first, second]);
    assert!(again.iter().all(|c| c.message.attempts == 2));
    assert_eq!(store.release_all().await.unwrap(), 2);
}

pub async fn next_due_at_sees_pending_messages_and_leases<B: Backend>(b: &B) {
    let store = b.open().await;
    assert_eq!(store.next_due_at(&all()).await.unwrap(), None, "empty");
    let a = stored(&store, msg("a", None, T0 + 100), T0).await;
    let b_id = stored(&store, msg("b", None, T0 + 50), T0).await;
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(T0 + 50));
    // b is leased until T0 + 70: its lease expires before a is due.
    let claimed = store.claim(&all(), 10, 10, T0 + 60).await.unwrap();
    assert_eq!(ids(&claimed), [b_id]);
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(T0 + 70));
    // Delivered and dead messages are not due.
    applied(store.ack(claimed[0].lease, T0 + 61).await);
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(T0 + 100));
    let lease = claim_only(&store, a, T0 + 100).await;
    assert_eq!(
        store.next_due_at(&all()).await.unwrap(),
        Some(T0 + 100 + LEASE)
    );
    applied(store.dead_letter(lease, "x".into(), T0 + 101).await);
    assert_eq!(store.next_due_at(&all()).await.unwrap(), None);
}

pub async fn next_due_at_ignores_skipped_destinations<B: Backend>(b: &B) {
    let store = b.open().await;
    stored(&store, msg("a", None, T0 + 100), T0).await;
    stored(&store, msg("b", None, T0 + 50), T0).await;
    assert_eq!(
        store.next_due_at(&all_but(&["b"])).await.unwrap(),
        Some(T0 + 100)
    );
    assert_eq!(
        store.next_due_at(&all_but(&["a", "b"])).await.unwrap(),
        None
    );
    // A lease of a skipped destination is ignored too.
    store.claim(&all(), 1, 10, T0 + 50).await.unwrap(); // b, leased until T0 + 60
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(T0 + 60));
    assert_eq!(
        store.next_due_at(&all_but(&["b"])).await.unwrap(),
        Some(T0 + 100)
    );
    assert_eq!(
        store.next_due_at(&all_but(&["a"])).await.unwrap(),
        Some(T0 + 60)
    );
}

pub async fn undelivered_destinations_are_those_with_pending_or_leased_messages<B: Backend>(b: &B) {
    let store = b.open().await;
    assert!(store.undelivered_destinations().await.unwrap().is_empty());
    stored(&store, msg("app", None, T0 + 1_000), T0).await; // pending, not yet due
    let leased = stored(&store, msg("b", None, T0), T0).await;
    let delivered = stored(&store, msg("c", None, T0), T0).await;
    let dead = stored(&store, msg("other", None, T0), T0).await;
    claim_only_of(&store, "b", leased).await;
    let lease = claim_only_of(&store, "c", delivered).await;
    applied(store.ack(lease, T0).await);
    let lease = claim_only_of(&store, "other", dead).await;
    applied(store.dead_letter(lease, "x".into(), T0).await);
    assert_eq!(
        store.undelivered_destinations().await.unwrap(),
        ["app", "b"],
        "delivered and dead messages do not count"
    );
}

async fn claim_only_of<S: Leases>(
    store: &S,
    destination: &str,
    id: bulwark_queue::store::MessageId,
) -> bulwark_queue::store::Lease {
    let claimed = claim(store, 10, T0, &[destination.to_string()]).await;
    assert_eq!(ids(&claimed), [id]);
    claimed[0].lease
}
