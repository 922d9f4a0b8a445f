//! `Prune`: only delivered messages acknowledged before the cutoff are forgotten.

use bulwark_queue::store::{DeadLetters, MessageState, Prune};

use super::{Backend, T0, claim_only, dead, delivered, get, msg, stored};

pub async fn prune_delivered_forgets_only_delivered_messages_older_than_the_cutoff<B: Backend>(
    b: &B,
) {
    let store = b.open().await;
    assert_eq!(store.prune_delivered(T0 + 1_000).await.unwrap(), 0, "empty");
    // Delivered at T0 + 1 and T0 + 100 (both stored at T0).
    let old = delivered(&store, "app", T0, T0 + 1).await;
    let old_too = delivered(&store, "other", T0, T0 + 99).await;
    let recent = delivered(&store, "app", T0, T0 + 100).await;
    // Old, but not delivered: dead, pending, leased.
    let dead_id = dead(&store, "app", T0, T0 + 2).await;
    let leased = stored(&store, msg("app", None, T0), T0).await;
    claim_only(&store, leased, T0).await;
    let pending = stored(&store, msg("app", None, T0 + 10_000), T0).await;

    // Strictly before the cutoff, by the time of delivery.
    assert_eq!(store.prune_delivered(T0 + 100).await.unwrap(), 2);
    for id in [old, old_too] {
        assert!(store.get(id).await.unwrap().is_none(), "{id} pruned");
    }
    assert_eq!(get(&store, recent).await.state, MessageState::Delivered);
    assert_eq!(get(&store, dead_id).await.state, MessageState::Dead);
    assert_eq!(get(&store, leased).await.state, MessageState::Leased);
    assert_eq!(get(&store, pending).await.state, MessageState::Pending);
    assert_eq!(store.prune_delivered(T0 + 100).await.unwrap(), 0);
    assert_eq!(store.prune_delivered(T0 + 101).await.unwrap(), 1);
    assert!(store.get(recent).await.unwrap().is_none());
    assert_eq!(get(&store, dead_id).await.state, MessageState::Dead);
}
