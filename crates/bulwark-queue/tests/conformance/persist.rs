//! `Persist`: exact bytes, ids, and dedup by (destination, event id) within the window.

use bulwark_queue::store::{
    DeadLetters, Inspect, Leases, MessageId, MessageState, NewMessage, Persist, Persisted, Prune,
};

use super::{Backend, T0, WINDOW, all, applied, claim, claim_only, get, msg, stored};

pub async fn persist_keeps_the_exact_body_and_headers<B: Backend>(b: &B) {
    let store = b.open().await;
    let body: Vec<u8> = (0..=255u8).chain(*b"\r\n\0{\"a\":1}  ").collect();
    let new = NewMessage {
        destination: "app".into(),
        body: body.into(),
        headers: vec![
            (
                "Content-Type".into(),
                b"application/json; charset=utf-8".to_vec(),
            ),
            // Names as sent, duplicates (in any case) kept apart and in order.
            ("X-Odd".into(), vec![0xff, 0x00, b' ', b'\r', b'\n']),
            ("x-odd".into(), b"second".to_vec()),
            ("X-Odd".into(), b"third".to_vec()),
            ("X-Empty".into(), Vec::new()),
            ("a".into(), b"last, but not sorted".to_vec()),
        ],
        event_id: Some("evt_1".into()),
        ordering_key: Some("order-7".into()),
        next_attempt_at_ms: T0 + 5,
    };
    let id = stored(&store, new.clone(), T0).await;
    let got = get(&store, id).await;
    assert_eq!(got.id, id);
    assert_eq!(got.destination, new.destination);
    assert_eq!(got.body, new.body);
    assert_eq!(got.headers, new.headers);
    assert_eq!(got.event_id, new.event_id);
    assert_eq!(got.ordering_key, new.ordering_key);
    assert_eq!(got.attempts, 0);
    assert_eq!(got.state, MessageState::Pending);
    assert_eq!(got.next_attempt_at_ms, T0 + 5);
    assert_eq!(got.created_at_ms, T0);
    assert_eq!(got.updated_at_ms, T0);
    assert_eq!(got.last_error, None);
    // The claim hands out the same bytes.
    let claimed = claim(&store, 10, T0 + 5, &all()).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].message.body, new.body);
    assert_eq!(claimed[0].message.headers, new.headers);
}

pub async fn persist_keeps_an_empty_body_and_no_headers<B: Backend>(b: &B) {
    let store = b.open().await;
    let new = NewMessage {
        body: bytes::Bytes::new(),
        headers: Vec::new(),
        ..msg("app", None, T0)
    };
    let id = stored(&store, new, T0).await;
    let got = get(&store, id).await;
    assert!(got.body.is_empty());
    assert!(got.headers.is_empty());
    assert_eq!(got.event_id, None);
    assert_eq!(got.ordering_key, None);
}

pub async fn persist_gives_each_message_a_new_time_ordered_id<B: Backend>(b: &B) {
    let store = b.open().await;
    let first = stored(&store, msg("app", None, T0), T0).await;
    let second = stored(&store, msg("app", None, T0), T0).await;
    let later = stored(&store, msg("app", None, T0), T0 + 1_000).await;
    assert_ne!(first, second);
    for id in [first, second, later] {
        assert_eq!(id.0.get_version_num(), 7, "{id} is a UUIDv7");
    }
    assert!(first < later && second < later, "time-ordered");
    // An id never stored is not found.
    assert!(store.get(MessageId::new(T0)).await.unwrap().is_none());
}

pub async fn dedup_by_destination_and_event_id_within_the_window_only<B: Backend>(b: &B) {
    let store = b.open().await;
    let first = stored(&store, msg("app", Some("evt"), T0), T0).await;
    // Within the window: the first message's id, and nothing stored.
    for now in [T0, T0 + 1, T0 + WINDOW - 1] {
        let again = store.persist(msg("app", Some("evt"), now), WINDOW, now);
        assert_eq!(
            again.await.unwrap(),
            Persisted::Duplicate(first),
            "at {now}"
        );
    }
    let depth: u64 = store.depths().await.unwrap().iter().map(|d| d.count).sum();
    assert_eq!(depth, 1, "duplicates store nothing");
    // A window of nothing never deduplicates.
    let zero = store.persist(msg("app", Some("evt"), T0), 0, T0 + 1).await;
    let zero = match zero.unwrap() {
        Persisted::Stored(id) => id,
        other => panic!("a zero window deduplicated: {other:?}"),
    };
    // The window is over `WINDOW` after the newest copy: stored again, and later
    // duplicates point at the newest copy.
    let second = stored(&store, msg("app", Some("evt"), T0), T0 + 1 + WINDOW).await;
    assert!(second != first && second != zero);
    let third = store.persist(msg("app", Some("evt"), T0), WINDOW, T0 + WINDOW + 2);
    assert_eq!(third.await.unwrap(), Persisted::Duplicate(second));
}

pub async fn dedup_never_crosses_destinations<B: Backend>(b: &B) {
    let store = b.open().await;
    let a = stored(&store, msg("a", Some("evt"), T0), T0).await;
    let b_id = stored(&store, msg("b", Some("evt"), T0), T0).await;
    assert_ne!(a, b_id);
    for (dest, want) in [("a", a), ("b", b_id)] {
        let again = store.persist(msg(dest, Some("evt"), T0), WINDOW, T0 + 1);
        assert_eq!(again.await.unwrap(), Persisted::Duplicate(want));
    }
    // Another event id of the same destination is not a duplicate either.
    stored(&store, msg("a", Some("evt2"), T0), T0).await;
}

pub async fn messages_without_an_event_id_are_never_duplicates<B: Backend>(b: &B) {
    let store = b.open().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(stored(&store, msg("app", None, T0), T0).await);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert_eq!(claim(&store, 10, T0, &all()).await.len(), 3);
}

/// Dedup looks at stored rows in any state, until pruning forgets delivered ones.
pub async fn dedup_sees_delivered_and_dead_messages_until_they_are_pruned<B: Backend>(b: &B) {
    let store = b.open().await;
    let acked = stored(&store, msg("app", Some("evt"), T0), T0).await;
    let lease = claim_only(&store, acked, T0).await;
    applied(store.ack(lease, T0 + 1).await);
    let again = store.persist(msg("app", Some("evt"), T0), WINDOW, T0 + 2);
    assert_eq!(
        again.await.unwrap(),
        Persisted::Duplicate(acked),
        "delivered"
    );

    let killed = stored(&store, msg("other", Some("evt"), T0), T0).await;
    let lease = claim_only(&store, killed, T0).await;
    applied(store.dead_letter(lease, "x".into(), T0 + 1).await);
    let again = store.persist(msg("other", Some("evt"), T0), WINDOW, T0 + 2);
    assert_eq!(again.await.unwrap(), Persisted::Duplicate(killed), "dead");

    // Once pruned, the delivered message no longer deduplicates.
    assert_eq!(store.prune_delivered(T0 + 2).await.unwrap(), 1);
    assert!(store.get(acked).await.unwrap().is_none());
    stored(&store, msg("app", Some("evt"), T0), T0 + 3).await;
}
