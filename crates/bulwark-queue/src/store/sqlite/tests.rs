//! Unit tests of what is particular to the SQLite store: group commit, the writer, pragmas,
//! the lock file, migrations, pruning in chunks, query plans. The behaviour every backend
//! shares is checked through the `Store` traits by the conformance suite
//! (`tests/store_conformance.rs`) and the model-based property test
//! (`tests/store_model.rs`).

use super::*;

const T0: i64 = 1_700_000_000_000;
const WINDOW: i64 = 60_000;

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
    assert_eq!(
        reopened.next_due_at(&["app".into()]).await.unwrap(),
        Some(T0)
    );
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

/// The statements on the hot path and the large-table ones use indexes, never a full scan
/// of `messages`, so they stay fast with millions of delivered rows.
#[tokio::test]
async fn claims_dedup_listing_and_pruning_use_indexes() {
    let (_dir, store) = store();
    let statements = vec![
        claim_sql(1),
        claim_sql(3),
        next_due_sql(1),
        next_due_sql(3),
        UNDELIVERED_DESTINATIONS.to_string(),
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
    for (sql, details) in &plans {
        for detail in details {
            // The partial index of leases holds only the deliveries in flight.
            if detail == "SCAN messages USING INDEX messages_leases" {
                continue;
            }
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
    // One destination, what the dispatcher claims: its due messages are one range of the
    // covering index, read in due order (the sorts in the plan are of the two LIMITed
    // candidate lists, not of the backlog).
    let (_, single) = &plans[0];
    assert!(
        single.iter().any(|d| d
            == "SEARCH m USING COVERING INDEX messages_due (state=? AND destination=? AND next_attempt_at<?)"),
        "claiming one destination does not range-scan its due messages: {single:?}"
    );
}
