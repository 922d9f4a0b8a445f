//! Restarts (drop every handle, open again): nothing stored is lost, leases are freed and
//! claimable at once, nothing settled comes back.

use bulwark_queue::store::{
    DeadFilter, DeadLetters, Leases, MessageState, Persist, Persisted, Prune,
};

use super::{
    Backend, LEASE, T0, WINDOW, all, applied, claim, dead, delivered, get, ids, lease_of, lost,
    msg, sorted, sorted_ids, stored,
};

pub async fn a_restart_keeps_pending_messages_and_frees_leases<B: Backend>(b: &B) {
    let store = b.open().await;
    let waiting = stored(&store, msg("app", Some("w"), T0 + 5_000), T0).await;
    let leased = stored(&store, msg("app", Some("l"), T0), T0).await;
    let retried = stored(&store, msg("other", Some("r"), T0), T0).await;
    let claimed = claim(&store, 10, T0, &all()).await;
    assert_eq!(sorted_ids(&claimed), sorted(vec![leased, retried]));
    applied(
        store
            .retry(lease_of(&claimed, retried), T0 + 2_000, "503".into(), T0)
            .await,
    );
    drop(store);

    let store = b.open().await;
    if let Some(released) = b.leases_released_at_open(&store) {
        assert_eq!(released, 1, "leases freed at open");
    }
    let got = get(&store, waiting).await;
    assert_eq!(got.state, MessageState::Pending);
    assert_eq!(got.next_attempt_at_ms, T0 + 5_000);
    assert_eq!(got.body, msg("app", None, T0).body);
    assert_eq!(got.headers, msg("app", None, T0).headers);
    let got = get(&store, retried).await;
    assert_eq!(got.state, MessageState::Pending);
    assert_eq!(got.next_attempt_at_ms, T0 + 2_000);
    assert_eq!(got.last_error.as_deref(), Some("503"));
    // The lease of the previous run is freed: pending, its due time kept, and its old
    // lease lost.
    let got = get(&store, leased).await;
    assert_eq!((got.state, got.attempts), (MessageState::Pending, 1));
    assert_eq!(got.next_attempt_at_ms, T0);
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(T0));
    lost(store.ack(lease_of(&claimed, leased), T0 + 1).await);
    // Claimable at once, long before the old lease would have expired.
    let again = claim(&store, 10, T0 + 1, &all()).await;
    assert_eq!(ids(&again), [leased]);
    assert_eq!(again[0].message.attempts, 2);
    assert_eq!(again[0].lease_until_ms, T0 + 1 + LEASE);
    applied(store.ack(again[0].lease, T0 + 2).await);
    // The rest at their times.
    assert_eq!(ids(&claim(&store, 10, T0 + 2_000, &all()).await), [retried]);
    assert_eq!(ids(&claim(&store, 10, T0 + 5_000, &all()).await), [waiting]);
    // Dedup survives the restart too.
    let dup = store
        .persist(msg("app", Some("w"), T0), WINDOW, T0 + 3)
        .await;
    assert_eq!(dup.unwrap(), Persisted::Duplicate(waiting));
}

pub async fn a_restart_keeps_settled_messages_settled<B: Backend>(b: &B) {
    let store = b.open().await;
    let acked = delivered(&store, "app", T0, T0 + 1).await;
    let died = dead(&store, "app", T0, T0 + 2).await;
    drop(store);

    let store = b.open().await;
    if let Some(released) = b.leases_released_at_open(&store) {
        assert_eq!(released, 0, "no lease to free at open");
    }
    let got = get(&store, acked).await;
    assert_eq!(
        (got.state, got.updated_at_ms),
        (MessageState::Delivered, T0 + 1)
    );
    let got = get(&store, died).await;
    assert_eq!((got.state, got.updated_at_ms), (MessageState::Dead, T0 + 2));
    assert_eq!(got.last_error.as_deref(), Some("died at 1700000000002"));
    // Nothing acknowledged (or dead) is claimed again.
    assert!(claim(&store, 10, T0 + 100 * LEASE, &all()).await.is_empty());
    assert_eq!(store.next_due_at(&all()).await.unwrap(), None);
    assert_eq!(store.release_all().await.unwrap(), 0);
    let dead_list = store.list_dead(DeadFilter::default(), 10).await.unwrap();
    assert_eq!(dead_list.len(), 1);
    assert_eq!(store.prune_delivered(T0 + 2).await.unwrap(), 1);
}
