//! Unit tests of the SQLite store, one or more per operation. The model-based property
//! test lives in `tests/store_model.rs`.

use super::*;
use crate::store::MessageState;

const T0: i64 = 1_700_000_000_000;
const WINDOW: i64 = 60_000;
const LEASE: i64 = 30_000;

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).expect("open store");
    (dir, store)
}

fn msg(destination: &str, event_id: Option<&str>, at: i64) -> NewMessage {
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

async fn stored(store: &SqliteStore, m: NewMessage, now: i64) -> MessageId {
    match store.persist(m, WINDOW, now).await.expect("persist") {
        Persisted::Stored(id) => id,
        other => panic!("expected Stored, got {other:?}"),
    }
}

async fn state(store: &SqliteStore, id: MessageId) -> MessageState {
    store
        .get(id)
        .await
        .expect("get")
        .expect("message exists")
        .state
}

#[tokio::test]
async fn persist_keeps_the_exact_body_and_headers() {
    let (_dir, store) = store();
    let new = msg("app", Some("evt_1"), T0);
    let id = stored(&store, new.clone(), T0).await;
    let got = store.get(id).await.unwrap().unwrap();
    assert_eq!(got.id, id);
    assert_eq!(got.destination, new.destination);
    assert_eq!(got.body, new.body);
    assert_eq!(got.headers, new.headers);
    assert_eq!(got.event_id.as_deref(), Some("evt_1"));
    assert_eq!(got.attempts, 0);
    assert_eq!(got.state, MessageState::Pending);
    assert_eq!(got.next_attempt_at_ms, T0);
    assert_eq!(got.created_at_ms, T0);
    assert_eq!(got.last_error, None);
    assert_eq!(id.0.get_version_num(), 7);
    assert!(store.get(MessageId::new(T0)).await.unwrap().is_none());
}

#[tokio::test]
async fn dedup_by_destination_and_event_id_within_the_window() {
    let (_dir, store) = store();
    let first = stored(&store, msg("app", Some("evt"), T0), T0).await;
    let again = store.persist(msg("app", Some("evt"), T0), WINDOW, T0 + WINDOW - 1);
    assert_eq!(again.await.unwrap(), Persisted::Duplicate(first));
    // Another destination, or no event id: not a duplicate.
    stored(&store, msg("other", Some("evt"), T0), T0).await;
    stored(&store, msg("app", None, T0), T0).await;
    stored(&store, msg("app", None, T0), T0).await;
    // Past the window: stored again, and later duplicates point at the newest copy.
    let second = stored(&store, msg("app", Some("evt"), T0), T0 + WINDOW).await;
    assert_ne!(first, second);
    let third = store.persist(msg("app", Some("evt"), T0), WINDOW, T0 + WINDOW + 1);
    assert_eq!(third.await.unwrap(), Persisted::Duplicate(second));
}

#[tokio::test]
async fn dedup_holds_within_one_group_commit() {
    let (_dir, store) = store();
    let hold = store.hold();
    let a = store.persist(msg("app", Some("evt"), T0), WINDOW, T0);
    let b = store.persist(msg("app", Some("evt"), T0), WINDOW, T0);
    let (a, b, ()) = tokio::join!(a, b, async {
        tokio::task::yield_now().await;
        drop(hold);
    });
    let mut results = [a.unwrap(), b.unwrap()];
    results.sort_by_key(|p| matches!(p, Persisted::Duplicate(_)));
    assert!(matches!(results[0], Persisted::Stored(_)));
    assert_eq!(results[1], Persisted::Duplicate(results[0].id()));
}

#[tokio::test]
async fn concurrent_persists_share_one_commit() {
    let (_dir, store) = store();
    let before = store.commits();
    let hold = store.hold();
    let calls: Vec<_> = (0..8)
        .map(|i| store.persist(msg("app", Some(&format!("e{i}")), T0), WINDOW, T0))
        .collect();
    // Every call is queued behind the held writer before it is released.
    let release = async {
        tokio::task::yield_now().await;
        drop(hold);
    };
    let (results, ()) = tokio::join!(join_all(calls), release);
    for result in results {
        assert!(matches!(result.unwrap(), Persisted::Stored(_)));
    }
    assert_eq!(store.commits() - before, 1, "eight persists, one commit");
}

/// Polls every future in one task, so that all of them send before any is answered.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *output = Some(v),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("polled to completion"))
        .collect()
}

#[tokio::test]
async fn sequential_calls_commit_one_by_one() {
    let (_dir, store) = store();
    let before = store.commits();
    for i in 0..3 {
        stored(&store, msg("app", Some(&format!("e{i}")), T0), T0).await;
    }
    assert_eq!(store.commits() - before, 3);
}

#[tokio::test]
async fn claim_takes_due_messages_earliest_first_under_a_lease() {
    let (_dir, store) = store();
    let later = stored(&store, msg("app", None, T0 + 10), T0).await;
    let early = stored(&store, msg("app", None, T0 - 10), T0).await;
    let future = stored(&store, msg("app", None, T0 + 1_000), T0).await;

    let claimed = store.claim(10, LEASE, T0 + 10, &[]).await.unwrap();
    let ids: Vec<_> = claimed.iter().map(|c| c.message.id).collect();
    assert_eq!(ids, vec![early, later]);
    for c in &claimed {
        assert_eq!(c.message.state, MessageState::Leased);
        assert_eq!(c.message.attempts, 1);
        assert_eq!(c.lease_until_ms, T0 + 10 + LEASE);
        assert_eq!(c.lease.id, c.message.id);
    }
    assert_ne!(claimed[0].lease.token, claimed[1].lease.token);
    // Nothing more is due; the future one becomes due later.
    assert!(
        store
            .claim(10, LEASE, T0 + 10, &[])
            .await
            .unwrap()
            .is_empty()
    );
    let next = store.claim(10, LEASE, T0 + 1_000, &[]).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].message.id, future);
}

#[tokio::test]
async fn claim_respects_the_limit() {
    let (_dir, store) = store();
    for _ in 0..5 {
        stored(&store, msg("app", None, T0), T0).await;
    }
    assert_eq!(store.claim(2, LEASE, T0, &[]).await.unwrap().len(), 2);
    assert_eq!(store.claim(0, LEASE, T0, &[]).await.unwrap().len(), 0);
    assert_eq!(store.claim(10, LEASE, T0, &[]).await.unwrap().len(), 3);
}

#[tokio::test]
async fn claim_skips_destinations() {
    let (_dir, store) = store();
    let a = stored(&store, msg("a", None, T0), T0).await;
    let b = stored(&store, msg("b", None, T0), T0).await;
    let c = stored(&store, msg("c", None, T0), T0).await;
    let skip = ["a".to_string(), "c".to_string()];
    let claimed = store.claim(10, LEASE, T0, &skip).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].message.id, b);
    // Skipped messages did not burn an attempt.
    assert_eq!(store.get(a).await.unwrap().unwrap().attempts, 0);
    assert_eq!(store.get(c).await.unwrap().unwrap().attempts, 0);
}

#[tokio::test]
async fn an_expired_lease_is_claimed_again_with_a_new_token() {
    let (_dir, store) = store();
    let id = stored(&store, msg("app", None, T0), T0).await;
    let first = store.claim(1, LEASE, T0, &[]).await.unwrap().remove(0);
    assert!(
        store
            .claim(1, LEASE, T0 + LEASE - 1, &[])
            .await
            .unwrap()
            .is_empty()
    );
    let second = store
        .claim(1, LEASE, T0 + LEASE, &[])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.message.id, id);
    assert_eq!(second.message.attempts, 2);
    assert_ne!(first.lease.token, second.lease.token);
    // The old lease is lost; the new one settles.
    let now = T0 + LEASE + 1;
    assert_eq!(
        store.ack(first.lease, now).await.unwrap(),
        LeaseOutcome::LeaseLost
    );
    assert_eq!(state(&store, id).await, MessageState::Leased);
    assert_eq!(
        store.ack(second.lease, now).await.unwrap(),
        LeaseOutcome::Applied
    );
}

#[tokio::test]
async fn ack_delivers_once_and_nothing_acked_is_claimed_again() {
    let (_dir, store) = store();
    let id = stored(&store, msg("app", None, T0), T0).await;
    let c = store.claim(1, LEASE, T0, &[]).await.unwrap().remove(0);
    assert_eq!(
        store.ack(c.lease, T0 + 5).await.unwrap(),
        LeaseOutcome::Applied
    );
    let got = store.get(id).await.unwrap().unwrap();
    assert_eq!(got.state, MessageState::Delivered);
    assert_eq!(got.updated_at_ms, T0 + 5);
    assert_eq!(
        store.ack(c.lease, T0 + 6).await.unwrap(),
        LeaseOutcome::LeaseLost
    );
    assert!(
        store
            .claim(10, LEASE, T0 + 10 * LEASE, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_due_at(&[]).await.unwrap(), None);
}

#[tokio::test]
async fn a_lease_settles_only_its_own_message() {
    let (_dir, store) = store();
    stored(&store, msg("app", None, T0), T0).await;
    stored(&store, msg("app", None, T0), T0).await;
    let claimed = store.claim(2, LEASE, T0, &[]).await.unwrap();
    let forged = Lease {
        id: claimed[0].lease.id,
        token: claimed[1].lease.token,
    };
    assert_eq!(
        store.ack(forged, T0).await.unwrap(),
        LeaseOutcome::LeaseLost
    );
}

#[tokio::test]
async fn retry_reschedules_and_keeps_the_error() {
    let (_dir, store) = store();
    let id = stored(&store, msg("app", None, T0), T0).await;
    let c = store.claim(1, LEASE, T0, &[]).await.unwrap().remove(0);
    let outcome = store.retry(c.lease, T0 + 5_000, "HTTP 503".into(), T0 + 1);
    assert_eq!(outcome.await.unwrap(), LeaseOutcome::Applied);
    let got = store.get(id).await.unwrap().unwrap();
    assert_eq!(got.state, MessageState::Pending);
    assert_eq!(got.next_attempt_at_ms, T0 + 5_000);
    assert_eq!(got.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(got.attempts, 1);
    // Not claimable before its time, even though its old lease would have expired by then.
    assert!(
        store
            .claim(1, LEASE, T0 + 4_999, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_due_at(&[]).await.unwrap(), Some(T0 + 5_000));
    let again = store.claim(1, LEASE, T0 + 5_000, &[]).await.unwrap();
    assert_eq!(again[0].message.attempts, 2);
    // The first lease cannot settle the second claim.
    let stale = store.retry(c.lease, T0, "late".into(), T0 + 5_001);
    assert_eq!(stale.await.unwrap(), LeaseOutcome::LeaseLost);
}

#[tokio::test]
async fn next_due_at_sees_pending_and_leases_and_skips_destinations() {
    let (_dir, store) = store();
    assert_eq!(store.next_due_at(&[]).await.unwrap(), None);
    stored(&store, msg("a", None, T0 + 100), T0).await;
    stored(&store, msg("b", None, T0 + 50), T0).await;
    assert_eq!(store.next_due_at(&[]).await.unwrap(), Some(T0 + 50));
    assert_eq!(
        store.next_due_at(&["b".to_string()]).await.unwrap(),
        Some(T0 + 100)
    );
    store.claim(1, 10, T0 + 60, &[]).await.unwrap();
    // b is leased until T0 + 70.
    assert_eq!(store.next_due_at(&[]).await.unwrap(), Some(T0 + 70));
}

#[tokio::test]
async fn dead_letters_are_listed_replayed_and_purged() {
    let (_dir, store) = store();
    let mut ids = Vec::new();
    for (i, dest) in ["a", "b", "a"].into_iter().enumerate() {
        let id = stored(&store, msg(dest, Some(&format!("e{i}")), T0), T0).await;
        let c = store.claim(1, LEASE, T0, &[]).await.unwrap().remove(0);
        assert_eq!(c.message.id, id);
        let died = T0 + 10 * i as i64;
        let outcome = store.dead_letter(c.lease, format!("gone {i}"), died);
        assert_eq!(outcome.await.unwrap(), LeaseOutcome::Applied);
        ids.push(id);
    }
    let all = store.list_dead(DeadFilter::default(), 10).await.unwrap();
    assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    assert_eq!(all[1].last_error.as_deref(), Some("gone 1"));
    assert!(all.iter().all(|m| m.state == MessageState::Dead));
    let only_a = DeadFilter {
        destination: Some("a".into()),
        ..DeadFilter::default()
    };
    let listed = store.list_dead(only_a.clone(), 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|m| m.id).collect::<Vec<_>>(),
        [ids[0], ids[2]]
    );
    let window = DeadFilter {
        since_ms: Some(T0 + 10),
        until_ms: Some(T0 + 20),
        ..DeadFilter::default()
    };
    let listed = store.list_dead(window, 10).await.unwrap();
    assert_eq!(listed.iter().map(|m| m.id).collect::<Vec<_>>(), [ids[1]]);
    assert_eq!(
        store
            .list_dead(DeadFilter::default(), 1)
            .await
            .unwrap()
            .len(),
        1
    );
    // Dead messages are not claimed.
    assert!(
        store
            .claim(10, LEASE, T0 + 100, &[])
            .await
            .unwrap()
            .is_empty()
    );

    // Replay: pending again, due now, attempts reset; dedup does not stand in the way,
    // and a provider redelivery is still a duplicate of the same message.
    let now = T0 + 1_000;
    assert_eq!(
        store.replay(ids[0], now).await.unwrap(),
        ReplayOutcome::Replayed
    );
    let replayed = store.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(replayed.state, MessageState::Pending);
    assert_eq!(replayed.attempts, 0);
    assert_eq!(replayed.next_attempt_at_ms, now);
    assert_eq!(
        store.replay(ids[0], now).await.unwrap(),
        ReplayOutcome::NotDead
    );
    assert_eq!(
        store.replay(MessageId::new(now), now).await.unwrap(),
        ReplayOutcome::NotFound
    );
    let again = store.persist(msg("a", Some("e0"), T0), WINDOW, now).await;
    assert_eq!(again.unwrap(), Persisted::Duplicate(ids[0]));
    let claimed = store.claim(10, LEASE, now, &[]).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].message.id, ids[0]);
    assert_eq!(claimed[0].message.attempts, 1);

    // Purge: only dead messages.
    assert!(!store.purge(ids[0]).await.unwrap(), "leased, not dead");
    assert!(store.purge(ids[1]).await.unwrap());
    assert!(!store.purge(ids[1]).await.unwrap());
    assert!(store.get(ids[1]).await.unwrap().is_none());
    assert_eq!(store.purge_matching(only_a.clone()).await.unwrap(), 1);
    assert!(store.get(ids[2]).await.unwrap().is_none());
    assert!(store.get(ids[0]).await.unwrap().is_some());
    assert_eq!(
        store.purge_matching(DeadFilter::default()).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn prune_forgets_only_old_delivered_messages() {
    let (_dir, store) = store();
    let old = stored(&store, msg("app", None, T0), T0).await;
    let recent = stored(&store, msg("app", None, T0), T0).await;
    let pending = stored(&store, msg("app", None, T0 + 10_000), T0).await;
    let claimed = store.claim(2, LEASE, T0, &[]).await.unwrap();
    for c in &claimed {
        let at = if c.message.id == old {
            T0 + 1
        } else {
            T0 + 100
        };
        assert_eq!(store.ack(c.lease, at).await.unwrap(), LeaseOutcome::Applied);
    }
    assert_eq!(store.prune_delivered(T0 + 100).await.unwrap(), 1);
    assert!(store.get(old).await.unwrap().is_none());
    assert!(store.get(recent).await.unwrap().is_some());
    assert!(store.get(pending).await.unwrap().is_some());
    assert_eq!(store.prune_delivered(T0 + 100).await.unwrap(), 0);
}

#[tokio::test]
async fn prune_works_through_more_than_one_chunk() {
    let (_dir, store) = store();
    let n = PRUNE_CHUNK as usize + 3;
    store
        .call(move |conn| {
            let mut insert = conn.prepare_cached(
                "INSERT INTO messages (id, destination, body, headers, next_attempt_at, state,
                     created_at, updated_at) VALUES (?1, 'app', x'', x'', 0, 2, 0, 0)",
            )?;
            for _ in 0..n {
                insert.execute([id_param(MessageId::new(T0))])?;
            }
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(store.prune_delivered(1).await.unwrap(), n as u64);
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::unavailable("test", e)
    }
}

#[tokio::test]
async fn release_all_frees_every_lease() {
    let (_dir, store) = store();
    let id = stored(&store, msg("app", None, T0), T0).await;
    let c = store.claim(1, LEASE, T0, &[]).await.unwrap().remove(0);
    assert_eq!(store.release_all().await.unwrap(), 1);
    assert_eq!(state(&store, id).await, MessageState::Pending);
    assert_eq!(
        store.ack(c.lease, T0).await.unwrap(),
        LeaseOutcome::LeaseLost
    );
    assert_eq!(store.claim(1, LEASE, T0, &[]).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_second_open_of_the_same_folder_is_refused_clearly() {
    let (dir, store) = store();
    let err = SqliteStore::open(dir.path()).expect_err("folder is locked");
    match &err {
        StoreError::InUse { lock_path, holder } => {
            assert_eq!(lock_path, &dir.path().join(lock::LOCK_FILE));
            assert_eq!(*holder, Some(std::process::id()));
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("in use"), "{text}");
    assert!(text.contains(&std::process::id().to_string()), "{text}");
    // The original store still works; once it is gone the folder opens again.
    stored(&store, msg("app", None, T0), T0).await;
    drop(store);
    let reopened = SqliteStore::open(dir.path()).expect("lock freed on drop");
    assert_eq!(reopened.next_due_at(&[]).await.unwrap(), Some(T0));
}

#[tokio::test]
async fn a_restart_keeps_pending_messages_and_frees_leases() {
    let (dir, store) = store();
    let pending = stored(&store, msg("app", Some("p"), T0 + 5_000), T0).await;
    let leased = stored(&store, msg("app", Some("l"), T0), T0).await;
    let delivered = stored(&store, msg("app", Some("d"), T0), T0).await;
    let claimed = store.claim(2, LEASE, T0, &[]).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let d = claimed.iter().find(|c| c.message.id == delivered).unwrap();
    assert_eq!(store.ack(d.lease, T0).await.unwrap(), LeaseOutcome::Applied);
    drop(store);

    let store = SqliteStore::open(dir.path()).expect("reopen");
    assert_eq!(store.leases_released_at_open(), 1);
    assert_eq!(state(&store, pending).await, MessageState::Pending);
    assert_eq!(state(&store, leased).await, MessageState::Pending);
    assert_eq!(state(&store, delivered).await, MessageState::Delivered);
    let got = store.get(pending).await.unwrap().unwrap();
    assert_eq!(got.body, msg("app", None, T0).body);
    assert_eq!(got.headers, msg("app", None, T0).headers);
    // The freed message is claimable at once, before its old lease would have expired.
    let again = store.claim(10, LEASE, T0 + 1, &[]).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.id, leased);
    assert_eq!(again[0].message.attempts, 2);
    // Dedup survives the restart too.
    let dup = store
        .persist(msg("app", Some("p"), T0), WINDOW, T0 + 1)
        .await;
    assert_eq!(dup.unwrap(), Persisted::Duplicate(pending));
}

#[tokio::test]
async fn the_database_runs_in_wal_with_full_sync() {
    let (dir, store) = store();
    let (mode, sync, version) = store
        .call(|conn| {
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            let version: i64 =
                conn.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))?;
            Ok((mode, sync, version))
        })
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous = FULL");
    assert_eq!(version, schema::LATEST);
    assert!(dir.path().join(DB_FILE).exists());
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute("INSERT INTO schema_version (version) VALUES (999)", [])
        .unwrap();
    drop(conn);
    match SqliteStore::open(dir.path()) {
        Err(StoreError::NewerSchema { found: 999, .. }) => {}
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_operation_does_not_undo_its_batch_neighbours() {
    let (_dir, store) = store();
    let hold = store.hold();
    let good = store.persist(msg("app", None, T0), WINDOW, T0);
    let bad = store.call(|conn| {
        conn.execute("INSERT INTO no_such_table VALUES (1)", [])?;
        Ok(())
    });
    let before = store.commits();
    let (good, bad, ()) = tokio::join!(good, bad, async {
        tokio::task::yield_now().await;
        drop(hold)
    });
    assert!(bad.is_err());
    let id = good.unwrap().id();
    assert_eq!(store.commits() - before, 1);
    assert!(store.get(id).await.unwrap().is_some());
}

#[tokio::test]
async fn calls_after_the_writer_stopped_are_refused() {
    let (_dir, store) = store();
    let mut inner = Arc::try_unwrap(store.inner).expect("only handle");
    inner.tx.take();
    if let Some(thread) = inner.thread.take() {
        thread.join().unwrap();
    }
    let store = SqliteStore {
        inner: Arc::new(inner),
    };
    assert!(matches!(
        store.persist(msg("app", None, T0), WINDOW, T0).await,
        Err(StoreError::Closed)
    ));
    // Readiness sees it: the probe fails, and so does counting.
    assert!(matches!(
        store.probe_write(T0).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(store.depths().await, Err(StoreError::Closed)));
}

#[tokio::test]
async fn the_write_probe_commits_its_row() {
    let (_dir, store) = store();
    let before = store.commits();
    store.probe_write(T0).await.unwrap();
    store.probe_write(T0 + 1).await.unwrap();
    assert_eq!(store.commits(), before + 2, "each probe is a commit");
    let at: i64 = store
        .call(|conn| {
            conn.query_row("SELECT at FROM store_probe", [], |r| r.get(0))
                .map_err(sql_error("read"))
        })
        .await
        .unwrap();
    assert_eq!(at, T0 + 1);
}

#[tokio::test]
async fn depths_count_each_destination_and_state_with_the_oldest() {
    let (_dir, store) = store();
    assert!(store.depths().await.unwrap().is_empty());
    let a1 = stored(&store, msg("a", None, T0), T0).await;
    let a2 = stored(&store, msg("a", None, T0), T0 + 10).await;
    stored(&store, msg("a", None, T0 + 60_000), T0 + 20).await;
    let b1 = stored(&store, msg("b", None, T0), T0 + 30).await;
    // b's message is delivered (left out); a1 is in delivery, a2 dead.
    let claimed = store.claim(10, LEASE, T0 + 40, &[]).await.unwrap();
    assert_eq!(claimed.len(), 3);
    let lease = |id| claimed.iter().find(|c| c.message.id == id).unwrap().lease;
    let acked = store.ack(lease(b1), T0 + 50).await.unwrap();
    let died = store
        .dead_letter(lease(a2), "x".into(), T0 + 60)
        .await
        .unwrap();
    assert_eq!(
        (acked, died),
        (LeaseOutcome::Applied, LeaseOutcome::Applied)
    );

    let mut depths = store.depths().await.unwrap();
    depths.sort_by_key(|d| (d.destination.clone(), d.state.label()));
    let got: Vec<(&str, &str, u64, i64)> = depths
        .iter()
        .map(|d| {
            (
                d.destination.as_str(),
                d.state.label(),
                d.count,
                d.oldest_created_at_ms,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("a", "dead", 1, T0 + 10),
            ("a", "leased", 1, T0),
            ("a", "pending", 1, T0 + 20),
        ]
    );
    assert_eq!(state(&store, a1).await, MessageState::Leased);
}

/// The statements on the hot path and the large-table ones use indexes, never a full scan
/// of `messages`, so they stay fast with millions of delivered rows.
#[tokio::test]
async fn claims_dedup_listing_and_pruning_use_indexes() {
    let (_dir, store) = store();
    let statements = vec![
        claim_sql(0),
        claim_sql(2),
        next_due_sql(0),
        next_due_sql(1),
        "SELECT id FROM messages WHERE destination = ?1 AND event_id = ?2 AND created_at > ?3
         ORDER BY created_at DESC LIMIT 1"
            .to_string(),
        format!(
            "SELECT {COLUMNS} FROM messages WHERE {DEAD_FILTER} ORDER BY updated_at, seq LIMIT ?4"
        ),
        "DELETE FROM messages WHERE seq IN (
             SELECT seq FROM messages WHERE state = 2 AND updated_at < ?1 LIMIT ?2)"
            .to_string(),
        "SELECT 1 FROM messages WHERE id = ?1".to_string(),
        DEPTHS.to_string(),
    ];
    let plans = store
        .call(move |conn| {
            let mut plans = Vec::new();
            for sql in statements {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let nulls = vec![Value::Null; stmt.parameter_count()];
                let details: Vec<String> = stmt
                    .query_map(params_from_iter(nulls), |r| r.get::<_, String>(3))?
                    .collect::<Result<_, _>>()?;
                plans.push((sql, details));
            }
            Ok(plans)
        })
        .await
        .unwrap();
    for (sql, details) in plans {
        for detail in &details {
            // `m` and `e` are the aliases of `messages` in the ordering-key statements.
            let scanned = detail
                .strip_prefix("SCAN ")
                .and_then(|rest| rest.split_whitespace().next());
            assert!(
                !matches!(scanned, Some("messages" | "m" | "e")),
                "full scan in {details:?} for {sql}"
            );
        }
    }
}

fn keyed(key: &str, at: i64) -> NewMessage {
    NewMessage {
        ordering_key: Some(key.into()),
        ..msg("app", None, at)
    }
}

/// FIFO per ordering key: one message of a key at a time, in arrival order, whatever
/// their due times; other keys and unordered messages are not held back; a dead message
/// releases its key.
#[tokio::test]
async fn an_ordering_key_delivers_one_at_a_time_in_arrival_order() {
    let (_dir, store) = store();
    let a1 = stored(&store, keyed("A", T0), T0).await;
    // Due earlier than a1, but it arrived later: it still waits for a1.
    let a2 = stored(&store, keyed("A", T0 - 10), T0).await;
    let a3 = stored(&store, keyed("A", T0), T0).await;
    let b1 = stored(&store, keyed("B", T0), T0).await;
    let other_destination = NewMessage {
        destination: "other".into(),
        ..keyed("A", T0)
    };
    let c1 = stored(&store, other_destination, T0).await;
    let free = stored(&store, msg("app", None, T0), T0).await;

    let ids = |claimed: &[ClaimedMessage]| {
        let mut ids: Vec<MessageId> = claimed.iter().map(|c| c.message.id).collect();
        ids.sort();
        ids
    };
    let first = store.claim(10, LEASE, T0, &[]).await.unwrap();
    let mut want = vec![a1, b1, c1, free];
    want.sort();
    assert_eq!(
        ids(&first),
        want,
        "only the head of each key, plus the unordered"
    );
    assert!(store.claim(10, LEASE, T0, &[]).await.unwrap().is_empty());
    // a1 is in delivery: nothing else is due until its lease expires.
    assert_eq!(store.next_due_at(&[]).await.unwrap(), Some(T0 + LEASE));

    let lease_of = |id| first.iter().find(|c| c.message.id == id).unwrap().lease;
    assert_eq!(
        store.ack(lease_of(a1), T0).await.unwrap(),
        LeaseOutcome::Applied
    );
    let second = store.claim(10, LEASE, T0, &[]).await.unwrap();
    assert_eq!(ids(&second), vec![a2]);

    // a2 fails and is retried later: a3 must not overtake it.
    assert_eq!(
        store
            .retry(second[0].lease, T0 + 5_000, "503".into(), T0)
            .await
            .unwrap(),
        LeaseOutcome::Applied
    );
    assert!(
        store
            .claim(10, LEASE, T0 + 1_000, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_due_at(&[]).await.unwrap(), Some(T0 + 5_000));
    let third = store.claim(10, LEASE, T0 + 5_000, &[]).await.unwrap();
    assert_eq!(ids(&third), vec![a2]);

    // a2 is given up on: a3 is next.
    assert_eq!(
        store
            .dead_letter(third[0].lease, "gone".into(), T0 + 5_000)
            .await
            .unwrap(),
        LeaseOutcome::Applied
    );
    let fourth = store.claim(10, LEASE, T0 + 5_000, &[]).await.unwrap();
    assert_eq!(ids(&fourth), vec![a3]);
    let got = store.get(a3).await.unwrap().unwrap();
    assert_eq!(got.ordering_key.as_deref(), Some("A"));
}

#[tokio::test]
async fn a_pause_survives_a_restart_until_resumed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        assert!(store.paused().await.unwrap().is_empty());
        store.pause("app", "410 Gone".into(), T0).await.unwrap();
        // A second pause keeps the first one's time and reason.
        store
            .pause("app", "410 again".into(), T0 + 5)
            .await
            .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(
        store.paused().await.unwrap(),
        vec![Pause {
            destination: "app".into(),
            since_ms: T0,
            reason: "410 Gone".into(),
        }]
    );
    assert!(store.resume("app").await.unwrap());
    assert!(!store.resume("app").await.unwrap(), "already resumed");
    assert!(store.paused().await.unwrap().is_empty());
}
