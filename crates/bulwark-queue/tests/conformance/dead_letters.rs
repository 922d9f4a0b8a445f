//! `DeadLetters`: listing by time of death with filters, replay, purge.

use bulwark_queue::store::{
    DeadFilter, DeadLetters, Inspect, Leases, MessageId, MessageState, Persist, Persisted,
    ReplayOutcome,
};

use super::{
    Backend, LEASE, T0, WINDOW, all, applied, claim, claim_only, dead, delivered, get, ids, msg,
    sorted, sorted_ids, stored,
};

fn listed(messages: &[bulwark_queue::store::Message]) -> Vec<MessageId> {
    messages.iter().map(|m| m.id).collect()
}

fn only(destination: &str) -> DeadFilter {
    DeadFilter {
        destination: Some(destination.into()),
        ..DeadFilter::default()
    }
}

fn between(since_ms: Option<i64>, until_ms: Option<i64>) -> DeadFilter {
    DeadFilter {
        destination: None,
        since_ms,
        until_ms,
    }
}

/// Oldest death first, whatever the order in which the messages were stored.
pub async fn list_dead_is_ordered_by_time_of_death<B: Backend>(b: &B) {
    let store = b.open().await;
    assert!(
        store
            .list_dead(DeadFilter::default(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let x = stored(&store, msg("app", None, T0), T0).await;
    let y = stored(&store, msg("app", None, T0), T0 + 1).await;
    let z = stored(&store, msg("app", None, T0), T0 + 2).await;
    let claimed = claim(&store, 10, T0 + 2, &all()).await;
    assert_eq!(claimed.len(), 3);
    for (id, died) in [(z, T0 + 10), (x, T0 + 20), (y, T0 + 30)] {
        let lease = super::lease_of(&claimed, id);
        applied(
            store
                .dead_letter(lease, format!("error of {id}"), died)
                .await,
        );
    }
    // Not dead: not listed.
    let pending = stored(&store, msg("app", None, T0 + 1_000), T0).await;
    delivered(&store, "app", T0 + 3, T0 + 4).await;

    let all = store.list_dead(DeadFilter::default(), 10).await.unwrap();
    assert_eq!(listed(&all), [z, x, y]);
    for m in &all {
        assert_eq!(m.state, MessageState::Dead);
        assert_eq!(m.last_error, Some(format!("error of {}", m.id)));
        assert_eq!(m.body, msg("app", None, T0).body);
        assert_eq!(m.headers, msg("app", None, T0).headers);
    }
    assert_eq!(all[0].updated_at_ms, T0 + 10, "dead since");
    // The limit keeps the oldest.
    let first_two = store.list_dead(DeadFilter::default(), 2).await.unwrap();
    assert_eq!(listed(&first_two), [z, x]);
    assert!(
        store
            .list_dead(DeadFilter::default(), 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(get(&store, pending).await.state, MessageState::Pending);
}

/// By destination; `since` is inclusive and `until` exclusive, both on the time of death
/// (not the time the message was stored).
pub async fn list_dead_filters_by_destination_and_time_of_death<B: Backend>(b: &B) {
    let store = b.open().await;
    // Stored long before they die, in another order than they die.
    let a10 = dead(&store, "a", T0 - 1_000, T0 + 10).await;
    let b20 = dead(&store, "b", T0 - 2_000, T0 + 20).await;
    let a30 = dead(&store, "a", T0 - 3_000, T0 + 30).await;

    let list = |filter| {
        let store = &store;
        async move { listed(&store.list_dead(filter, 10).await.unwrap()) }
    };
    assert_eq!(list(only("a")).await, [a10, a30]);
    assert_eq!(list(only("b")).await, [b20]);
    assert!(list(only("c")).await.is_empty());
    assert_eq!(list(between(Some(T0 + 20), None)).await, [b20, a30]);
    assert_eq!(list(between(Some(T0 + 21), None)).await, [a30]);
    assert_eq!(list(between(None, Some(T0 + 30))).await, [a10, b20]);
    assert_eq!(list(between(None, Some(T0 + 31))).await, [a10, b20, a30]);
    assert_eq!(list(between(Some(T0 + 10), Some(T0 + 20))).await, [a10]);
    assert!(list(between(Some(T0 + 20), Some(T0 + 20))).await.is_empty());
    assert!(
        list(between(Some(T0 - 5_000), Some(T0))).await.is_empty(),
        "not by creation"
    );
    let a_late = DeadFilter {
        destination: Some("a".into()),
        since_ms: Some(T0 + 11),
        until_ms: Some(T0 + 100),
    };
    assert_eq!(list(a_late).await, [a30]);
}

pub async fn replay_resets_attempts_and_keeps_the_id<B: Backend>(b: &B) {
    let store = b.open().await;
    let id = stored(&store, msg("app", Some("evt"), T0), T0).await;
    // Two attempts, then dead.
    let lease = claim_only(&store, id, T0).await;
    applied(store.retry(lease, T0 + 10, "503".into(), T0).await);
    let lease = claim_only(&store, id, T0 + 10).await;
    applied(store.dead_letter(lease, "gone".into(), T0 + 20).await);
    assert_eq!(get(&store, id).await.attempts, 2);

    let now = T0 + 1_000;
    assert_eq!(
        store.replay(id, now).await.unwrap(),
        ReplayOutcome::Replayed
    );
    let got = get(&store, id).await;
    assert_eq!(got.state, MessageState::Pending);
    assert_eq!(got.attempts, 0);
    assert_eq!(got.next_attempt_at_ms, now, "due now");
    assert_eq!(got.body, msg("app", None, T0).body);
    assert!(
        store
            .list_dead(DeadFilter::default(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_due_at(&all()).await.unwrap(), Some(now));
    // Not stored again: the provider's redelivery is still a duplicate of the same id.
    let again = store
        .persist(msg("app", Some("evt"), T0), WINDOW, now)
        .await;
    assert_eq!(again.unwrap(), Persisted::Duplicate(id));
    let depth: u64 = store.depths().await.unwrap().iter().map(|d| d.count).sum();
    assert_eq!(depth, 1);
    let claimed = claim(&store, 10, now, &all()).await;
    assert_eq!(ids(&claimed), [id]);
    assert_eq!(claimed[0].message.attempts, 1, "attempts start over");
    applied(store.ack(claimed[0].lease, now).await);
}

pub async fn replay_answers_not_found_and_not_dead<B: Backend>(b: &B) {
    let store = b.open().await;
    let now = T0 + 100;
    let pending = stored(&store, msg("app", None, T0 + 1_000), T0).await;
    let leased = stored(&store, msg("app", None, T0), T0).await;
    claim_only(&store, leased, T0).await;
    let delivered = delivered(&store, "app", T0 + 1, T0 + 2).await;
    let dead_id = dead(&store, "app", T0 + 3, T0 + 4).await;
    for id in [pending, leased, delivered] {
        let state = get(&store, id).await.state;
        assert_eq!(store.replay(id, now).await.unwrap(), ReplayOutcome::NotDead);
        assert_eq!(get(&store, id).await.state, state, "unchanged");
    }
    assert_eq!(
        store.replay(MessageId::new(T0), now).await.unwrap(),
        ReplayOutcome::NotFound
    );
    assert_eq!(
        store.replay(dead_id, now).await.unwrap(),
        ReplayOutcome::Replayed
    );
    assert_eq!(
        store.replay(dead_id, now).await.unwrap(),
        ReplayOutcome::NotDead
    );
    let claimed = claim(&store, 10, now + LEASE, &all()).await;
    assert_eq!(sorted_ids(&claimed), sorted(vec![pending, leased, dead_id]));
}

pub async fn purge_deletes_one_dead_message_only<B: Backend>(b: &B) {
    let store = b.open().await;
    let first = dead(&store, "app", T0, T0 + 1).await;
    let second = dead(&store, "app", T0, T0 + 2).await;
    let pending = stored(&store, msg("app", None, T0 + 1_000), T0).await;
    let delivered = delivered(&store, "app", T0, T0 + 3).await;

    assert!(store.purge(first).await.unwrap());
    assert!(store.get(first).await.unwrap().is_none());
    assert!(!store.purge(first).await.unwrap(), "already purged");
    assert!(
        !store.purge(MessageId::new(T0)).await.unwrap(),
        "never existed"
    );
    for id in [pending, delivered] {
        assert!(!store.purge(id).await.unwrap(), "not dead");
        assert!(store.get(id).await.unwrap().is_some());
    }
    let left = store.list_dead(DeadFilter::default(), 10).await.unwrap();
    assert_eq!(listed(&left), [second]);
}

pub async fn purge_matching_deletes_what_the_filter_matches<B: Backend>(b: &B) {
    let store = b.open().await;
    let a10 = dead(&store, "a", T0, T0 + 10).await;
    let b20 = dead(&store, "b", T0, T0 + 20).await;
    let a30 = dead(&store, "a", T0, T0 + 30).await;
    let b40 = dead(&store, "b", T0, T0 + 40).await;
    let pending = stored(&store, msg("a", None, T0 + 1_000), T0).await;
    let delivered = delivered(&store, "a", T0, T0 + 5).await;

    assert_eq!(store.purge_matching(only("c")).await.unwrap(), 0);
    // `since` inclusive, `until` exclusive.
    let window = between(Some(T0 + 20), Some(T0 + 40));
    assert_eq!(store.purge_matching(window).await.unwrap(), 2);
    for id in [b20, a30] {
        assert!(store.get(id).await.unwrap().is_none());
    }
    assert_eq!(store.purge_matching(only("a")).await.unwrap(), 1);
    assert!(store.get(a10).await.unwrap().is_none());
    let left = store.list_dead(DeadFilter::default(), 10).await.unwrap();
    assert_eq!(listed(&left), [b40]);
    assert_eq!(
        store.purge_matching(DeadFilter::default()).await.unwrap(),
        1
    );
    assert_eq!(
        store.purge_matching(DeadFilter::default()).await.unwrap(),
        0
    );
    // Messages in other states are never purged.
    assert_eq!(get(&store, pending).await.state, MessageState::Pending);
    assert_eq!(get(&store, delivered).await.state, MessageState::Delivered);
}
