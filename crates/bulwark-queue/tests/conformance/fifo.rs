//! FIFO per ordering key: messages of one destination with the same key are delivered one
//! at a time, in the order they were stored; only the head of a key is claimed, and a dead
//! head releases its key.

use bulwark_queue::store::{DeadLetters, Leases, MessageId, MessageState, NewMessage};

use super::{
    Backend, LEASE, T0, all, applied, claim, claim_only, get, ids, keyed, lease_of, msg, sorted,
    sorted_ids, stored,
};

pub async fn only_the_head_of_an_ordering_key_is_claimed<B: Backend>(b: &B) {
    let store = b.open().await;
    let a1 = stored(&store, keyed("app", "A", T0), T0).await;
    // Due earlier than a1, but stored later: it still waits for a1.
    let a2 = stored(&store, keyed("app", "A", T0 - 10), T0 + 1).await;
    let a3 = stored(&store, keyed("app", "A", T0 - 20), T0 + 2).await;

    let first = claim(&store, 10, T0, &all()).await;
    assert_eq!(
        ids(&first),
        [a1],
        "one message of a key per claim, the first stored"
    );
    assert!(
        claim(&store, 10, T0, &all()).await.is_empty(),
        "a1 is in delivery"
    );
    assert_eq!(get(&store, a2).await.attempts, 0);

    // Delivered: the next in arrival order.
    applied(store.ack(first[0].lease, T0 + 1).await);
    let second = claim(&store, 10, T0 + 1, &all()).await;
    assert_eq!(ids(&second), [a2]);
    applied(store.ack(second[0].lease, T0 + 2).await);
    claim_only(&store, a3, T0 + 2).await;
    assert_eq!(get(&store, a3).await.ordering_key.as_deref(), Some("A"));
}

pub async fn a_retried_head_still_blocks_its_key<B: Backend>(b: &B) {
    let store = b.open().await;
    let a1 = stored(&store, keyed("app", "A", T0), T0).await;
    let a2 = stored(&store, keyed("app", "A", T0), T0).await;
    let lease = claim_only(&store, a1, T0).await;
    applied(store.retry(lease, T0 + 5_000, "503".into(), T0).await);
    // a2 is due, but must not overtake a1.
    assert!(claim(&store, 10, T0 + 1_000, &all()).await.is_empty());
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(T0 + 5_000));
    let lease = claim_only(&store, a1, T0 + 5_000).await;
    applied(store.ack(lease, T0 + 5_001).await);
    claim_only(&store, a2, T0 + 5_001).await;
}

pub async fn a_dead_head_releases_its_key<B: Backend>(b: &B) {
    let store = b.open().await;
    let a1 = stored(&store, keyed("app", "A", T0), T0).await;
    let a2 = stored(&store, keyed("app", "A", T0), T0).await;
    let lease = claim_only(&store, a1, T0).await;
    applied(store.dead_letter(lease, "gone".into(), T0 + 1).await);
    assert_eq!(get(&store, a1).await.state, MessageState::Dead);
    claim_only(&store, a2, T0 + 1).await;
}

/// A dead head replayed while its successor is in delivery waits for that delivery: a key
/// never has two messages in flight. Then it goes first again (it arrived first).
pub async fn a_replayed_head_waits_for_the_message_in_delivery<B: Backend>(b: &B) {
    let store = b.open().await;
    let a1 = stored(&store, keyed("app", "A", T0), T0).await;
    let a2 = stored(&store, keyed("app", "A", T0), T0).await;
    let a3 = stored(&store, keyed("app", "A", T0), T0).await;
    let lease = claim_only(&store, a1, T0).await;
    applied(store.dead_letter(lease, "gone".into(), T0 + 1).await);
    let a2_lease = claim_only(&store, a2, T0 + 1).await;
    assert_eq!(
        store.replay(a1, T0 + 2).await.unwrap(),
        bulwark_queue::store::ReplayOutcome::Replayed
    );
    assert!(
        claim(&store, 10, T0 + 2, &all()).await.is_empty(),
        "a2 is in delivery: neither a1 nor a3 may go"
    );
    applied(store.ack(a2_lease, T0 + 3).await);
    claim_only(&store, a1, T0 + 3).await;
    assert_eq!(get(&store, a3).await.attempts, 0);
}

pub async fn an_expired_head_is_claimed_again_before_the_rest_of_its_key<B: Backend>(b: &B) {
    let store = b.open().await;
    let a1 = stored(&store, keyed("app", "A", T0), T0).await;
    let a2 = stored(&store, keyed("app", "A", T0), T0).await;
    claim_only(&store, a1, T0).await;
    assert!(claim(&store, 10, T0 + LEASE - 1, &all()).await.is_empty());
    let again = claim(&store, 10, T0 + LEASE, &all()).await;
    assert_eq!(ids(&again), [a1], "the expired head, and not a2 beside it");
    assert_eq!(again[0].message.attempts, 2);
    applied(store.ack(again[0].lease, T0 + LEASE).await);
    claim_only(&store, a2, T0 + LEASE).await;
}

/// Other keys, the same key of another destination, and unordered messages are not held
/// back by a key in delivery.
pub async fn keys_and_destinations_are_independent<B: Backend>(b: &B) {
    let store = b.open().await;
    let a1 = stored(&store, keyed("app", "A", T0), T0).await;
    let a2 = stored(&store, keyed("app", "A", T0), T0).await;
    let b1 = stored(&store, keyed("app", "B", T0), T0).await;
    let b2 = stored(&store, keyed("app", "B", T0), T0).await;
    let other = stored(&store, keyed("other", "A", T0), T0).await;
    let free1 = stored(&store, msg("app", None, T0), T0).await;
    let free2 = stored(&store, msg("app", None, T0), T0).await;

    let first = claim(&store, 10, T0, &all()).await;
    assert_eq!(
        sorted_ids(&first),
        sorted(vec![a1, b1, other, free1, free2]),
        "the head of each key, plus every unordered message"
    );
    assert!(claim(&store, 10, T0, &all()).await.is_empty());
    // Settling one key frees that key only.
    applied(store.ack(lease_of(&first, b1), T0).await);
    assert_eq!(ids(&claim(&store, 10, T0, &all()).await), [b2]);
    applied(store.ack(lease_of(&first, a1), T0).await);
    assert_eq!(ids(&claim(&store, 10, T0, &all()).await), [a2]);
}

pub async fn next_due_at_ignores_messages_held_back_by_their_key<B: Backend>(b: &B) {
    let store = b.open().await;
    let head = stored(&store, keyed("app", "A", T0 + 100), T0).await;
    // Due first, but held back behind `head`.
    stored(&store, keyed("app", "A", T0), T0).await;
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(T0 + 100));
    let unordered = NewMessage {
        next_attempt_at_ms: T0 + 200,
        ..msg("app", None, T0)
    };
    let unordered: MessageId = stored(&store, unordered, T0).await;
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(T0 + 100));
    // While the head is in delivery, only its lease and other messages count.
    claim_only(&store, head, T0 + 100).await;
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(T0 + 200));
    claim_only(&store, unordered, T0 + 200).await;
    assert_eq!(
        store.next_due_at(&all()).await.unwrap(),
        Some(T0 + 100 + LEASE)
    );
}
