//! `Inspect`: queue depths and the write probe.

use bulwark_queue::store::{Depth, Inspect, Leases, MessageState};

use super::{Backend, T0, all, applied, claim, lease_of, msg, stored};

/// (destination, state, count, oldest created), sorted: the order of `depths` is not
/// specified.
fn rows(mut depths: Vec<Depth>) -> Vec<(String, &'static str, u64, i64)> {
    depths
        .sort_by(|x, y| (&x.destination, x.state.label()).cmp(&(&y.destination, y.state.label())));
    depths
        .into_iter()
        .map(|d| {
            (
                d.destination,
                d.state.label(),
                d.count,
                d.oldest_created_at_ms,
            )
        })
        .collect()
}

fn row(
    destination: &str,
    state: MessageState,
    count: u64,
    oldest: i64,
) -> (String, &'static str, u64, i64) {
    (destination.into(), state.label(), count, oldest)
}

pub async fn depths_count_each_destination_and_state_except_delivered<B: Backend>(b: &B) {
    let store = b.open().await;
    assert!(store.depths().await.unwrap().is_empty());
    let a1 = stored(&store, msg("a", None, T0), T0).await;
    let a2 = stored(&store, msg("a", None, T0), T0 + 10).await;
    let a3 = stored(&store, msg("a", None, T0), T0 + 15).await;
    // Pending, not yet due: counted all the same, by creation time.
    stored(&store, msg("a", None, T0 + 60_000), T0 + 20).await;
    stored(&store, msg("a", None, T0 + 60_000), T0 + 25).await;
    let b1 = stored(&store, msg("b", None, T0), T0 + 30).await;
    assert_eq!(
        rows(store.depths().await.unwrap()),
        [
            row("a", MessageState::Pending, 5, T0),
            row("b", MessageState::Pending, 1, T0 + 30),
        ]
    );

    // b1 delivered (left out), a1 in delivery, a2 and a3 dead.
    let claimed = claim(&store, 10, T0 + 40, &all()).await;
    assert_eq!(claimed.len(), 4);
    applied(store.ack(lease_of(&claimed, b1), T0 + 50).await);
    applied(
        store
            .dead_letter(lease_of(&claimed, a2), "x".into(), T0 + 60)
            .await,
    );
    applied(
        store
            .dead_letter(lease_of(&claimed, a3), "x".into(), T0 + 61)
            .await,
    );
    assert_eq!(
        rows(store.depths().await.unwrap()),
        [
            row("a", MessageState::Dead, 2, T0 + 10),
            row("a", MessageState::Leased, 1, T0),
            row("a", MessageState::Pending, 2, T0 + 20),
        ]
    );
    // Back to pending: counted as pending again.
    applied(
        store
            .retry(lease_of(&claimed, a1), T0 + 100, "x".into(), T0 + 70)
            .await,
    );
    assert_eq!(
        rows(store.depths().await.unwrap()),
        [
            row("a", MessageState::Dead, 2, T0 + 10),
            row("a", MessageState::Pending, 3, T0),
        ]
    );
}

pub async fn probe_write_succeeds_and_stores_no_message<B: Backend>(b: &B) {
    let store = b.open().await;
    store.probe_write(T0).await.unwrap();
    store.probe_write(T0 + 1).await.unwrap();
    store.probe_write(T0 - 1).await.unwrap();
    assert!(store.depths().await.unwrap().is_empty());
    assert_eq!(store.next_due_at(&all()).await.unwrap(), None);
    assert!(claim(&store, 10, T0 + 1, &all()).await.is_empty());
    // Still fine after a restart.
    drop(store);
    let store = b.open().await;
    store.probe_write(T0 + 2).await.unwrap();
    assert!(store.depths().await.unwrap().is_empty());
}
