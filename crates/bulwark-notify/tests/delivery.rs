//! The outbox and the worker against a real SQLite store and a real local HTTP receiver,
//! with millisecond schedules.

mod common;

use std::time::Duration;

use bulwark_config::secret::Secret;
use bulwark_events::BusEvent;
use bulwark_notify::outbox::destination;
use bulwark_notify::{
    AlertStatus, EnqueueError, Notification, NotifierKind, NotifierSpec, SlackSpec, SmsSpec,
    WebhookSpec, WorkerOptions,
};
use bulwark_queue::store::{DeadLetters, Leases, MessageState, NewMessage, Persist};
use common::{Harness, Receiver, fast_options, notification, now_ms};

fn webhook(name: &str, receiver: &Receiver, fallback: bool) -> NotifierSpec {
    NotifierSpec {
        name: name.into(),
        kind: NotifierKind::Webhook(WebhookSpec {
            url: format!("{}/alerts/{name}", receiver.base).parse().unwrap(),
            headers: vec![("authorization".into(), Secret::new("Bearer hook-token"))],
        }),
        fallback,
    }
}

#[tokio::test]
async fn webhook_is_retried_after_a_500_then_delivered_as_v4_json() {
    let receiver = Receiver::start(vec![500], 200).await;
    let mut h = Harness::new(vec![webhook("ops", &receiver, false)]);
    let mut events = h.bus.subscribe("test");
    // Another destination in the same store: the worker must leave it alone.
    let app_message = h
        .store
        .persist(
            NewMessage {
                destination: "app".into(),
                body: "{}".into(),
                headers: vec![],
                event_id: None,
                ordering_key: None,
                next_attempt_at_ms: now_ms(),
            },
            0,
            now_ms(),
        )
        .await
        .unwrap()
        .id();
    h.start_worker(fast_options());

    let n = notification("HighErrorRate", "g1", AlertStatus::Firing);
    let id = h.outbox.enqueue("ops", &n, now_ms()).await.unwrap();
    h.wait_for("delivery", || h.outbox.stats().sent == 1).await;

    let got = receiver.got();
    assert_eq!(got.len(), 2, "one 500, then the retry");
    for request in &got {
        assert_eq!(request.method, "POST");
        assert_eq!(request.uri.path(), "/alerts/ops");
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.headers["authorization"], "Bearer hook-token");
        let sent: Notification = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(sent, n);
    }
    // The exact v4 field names, from Alertmanager's documentation.
    let json: serde_json::Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(json["version"], "4");
    assert_eq!(json["groupKey"], "g1");
    assert_eq!(json["externalURL"], "https://bulwark.example/status");
    assert_eq!(
        json["alerts"][0]["generatorURL"],
        "https://bulwark.example/alerts"
    );

    let stats = h.outbox.stats();
    assert_eq!((stats.sent, stats.failed), (1, 1));
    let stored = h.store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.destination, "notify:ops");
    assert_eq!(stored.ordering_key.as_deref(), Some("g1"));
    assert_eq!(stored.event_id, None);
    assert_eq!(stored.state, MessageState::Delivered);
    assert_eq!(stored.attempts, 2);

    let failed = events.try_recv().expect("a NotificationFailed event");
    match &failed.event {
        BusEvent::NotificationFailed { notifier, reason } => {
            assert_eq!(notifier, "ops");
            assert_eq!(reason, "HTTP 500");
        }
        other => panic!("unexpected event {other:?}"),
    }

    let app = h.store.get(app_message).await.unwrap().unwrap();
    assert_eq!(app.state, MessageState::Pending);
    assert_eq!(app.attempts, 0, "the worker claimed only notify:ops");
    h.stop().await;
}

#[tokio::test]
async fn slack_gets_an_attachment_with_colour_title_and_link() {
    let receiver = Receiver::start(vec![], 200).await;
    let spec = NotifierSpec {
        name: "slack".into(),
        kind: NotifierKind::Slack(SlackSpec {
            webhook_url: Secret::new(format!("{}/services/T000/B000/XXXX", receiver.base)),
        }),
        fallback: false,
    };
    let mut h = Harness::new(vec![spec]);
    h.start_worker(fast_options());
    let n = notification("DiskFull", "g-slack", AlertStatus::Firing);
    h.outbox.enqueue("slack", &n, now_ms()).await.unwrap();
    h.wait_for("delivery", || h.outbox.stats().sent == 1).await;

    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].uri.path(), "/services/T000/B000/XXXX");
    assert_eq!(got[0].headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["color"], "#d00000");
    assert_eq!(attachment["title"], "[FIRING:2] DiskFull");
    assert_eq!(attachment["title_link"], "https://bulwark.example/status");
    let text = attachment["text"].as_str().unwrap();
    assert!(
        text.contains("*Alert:* Errors &lt;b&gt; &amp; co - `critical`"),
        "{text}"
    );
    assert!(text.contains("• *instance:* `bb`"), "{text}");
    h.stop().await;
}

#[tokio::test]
async fn sms_posts_one_form_per_recipient_with_basic_auth() {
    let receiver = Receiver::start(vec![], 201).await;
    let spec = NotifierSpec {
        name: "pager".into(),
        kind: NotifierKind::Sms(SmsSpec {
            base_url: receiver.base.parse().unwrap(),
            account_sid: "AC0123456789abcdef".into(),
            auth_token: Secret::new("tok3n-secret"),
            from: "+15005550006".into(),
            to: vec!["+15005550001".into(), "+15005550002".into()],
        }),
        fallback: false,
    };
    let mut h = Harness::new(vec![spec]);
    h.start_worker(fast_options());
    let n = notification("HighErrorRate", "g-sms", AlertStatus::Firing);
    h.outbox.enqueue("pager", &n, now_ms()).await.unwrap();
    // One message per recipient, each sent once.
    h.wait_for("delivery", || h.outbox.stats().sent == 2).await;

    let mut got = receiver.got();
    assert_eq!(got.len(), 2);
    // Sent concurrently: compare in recipient order.
    got.sort_by_key(|r| {
        form_urlencoded::parse(&r.body)
            .find(|(k, _)| k == "To")
            .map(|(_, v)| v.into_owned())
    });
    let expected_body =
        "[FIRING:2] HighErrorRate (critical): Error rate above 5% https://bulwark.example/status";
    for (request, to) in got.iter().zip(["+15005550001", "+15005550002"]) {
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.uri.path(),
            "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"
        );
        assert_eq!(
            request.headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        // base64("AC0123456789abcdef:tok3n-secret"), computed with coreutils base64.
        assert_eq!(
            request.headers["authorization"],
            "Basic QUMwMTIzNDU2Nzg5YWJjZGVmOnRvazNuLXNlY3JldA=="
        );
        let form: Vec<(String, String)> =
            form_urlencoded::parse(&request.body).into_owned().collect();
        assert_eq!(
            form,
            vec![
                ("To".to_string(), to.to_string()),
                ("From".to_string(), "+15005550006".to_string()),
                ("Body".to_string(), expected_body.to_string()),
            ]
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn an_expired_notification_is_dead_lettered_and_counted() {
    let receiver = Receiver::start(vec![], 200).await;
    let mut h = Harness::new(vec![webhook("ops", &receiver, false)]);
    h.start_worker(WorkerOptions {
        expiry: Duration::from_secs(60),
        ..fast_options()
    });
    // Made two minutes ago and never delivered (the worker was down, say).
    let n = notification("HighErrorRate", "g-old", AlertStatus::Firing);
    let id = h
        .outbox
        .enqueue("ops", &n, now_ms() - 120_000)
        .await
        .unwrap();
    h.wait_for("expiry", || h.outbox.stats().expired == 1).await;

    let stored = h.store.get(id).await.unwrap().unwrap();
    // The counter is bumped before the store settles: wait for the state too.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let mut stored = stored;
    while stored.state != MessageState::Dead {
        assert!(tokio::time::Instant::now() < deadline, "not dead-lettered");
        tokio::time::sleep(Duration::from_millis(5)).await;
        stored = h.store.get(id).await.unwrap().unwrap();
    }
    assert_eq!(stored.last_error.as_deref(), Some("expired"));
    assert!(
        receiver.got().is_empty(),
        "an expired notification is not sent"
    );
    assert_eq!(h.outbox.stats().sent, 0);
    h.stop().await;
}

#[tokio::test]
async fn failures_stop_at_the_expiry() {
    let receiver = Receiver::start(vec![], 503).await;
    let mut h = Harness::new(vec![webhook("ops", &receiver, false)]);
    h.start_worker(WorkerOptions {
        expiry: Duration::from_millis(300),
        ..fast_options()
    });
    let n = notification("HighErrorRate", "g-fail", AlertStatus::Firing);
    let id = h.outbox.enqueue("ops", &n, now_ms()).await.unwrap();
    h.wait_for("expiry", || h.outbox.stats().expired == 1).await;
    let failed = h.outbox.stats().failed;
    assert!(
        failed >= 3,
        "retried on the schedule before expiring: {failed}"
    );
    assert_eq!(receiver.got().len() as u64, failed);
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while h.store.get(id).await.unwrap().unwrap().state != MessageState::Dead {
        assert!(tokio::time::Instant::now() < deadline, "not dead-lettered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    h.stop().await;
}

#[tokio::test]
async fn a_resolved_notification_supersedes_a_pending_firing_one() {
    let receiver = Receiver::start(vec![], 200).await;
    let mut h = Harness::new(vec![webhook("ops", &receiver, false)]);
    // Both enqueued before the worker runs, so the firing one is still pending.
    let now = now_ms();
    let firing = notification("HighErrorRate", "g1", AlertStatus::Firing);
    let resolved = notification("HighErrorRate", "g1", AlertStatus::Resolved);
    let other_group = notification("DiskFull", "g2", AlertStatus::Firing);
    let firing_id = h.outbox.enqueue("ops", &firing, now).await.unwrap();
    h.outbox.enqueue("ops", &other_group, now).await.unwrap();
    h.outbox.enqueue("ops", &resolved, now).await.unwrap();
    h.start_worker(fast_options());
    h.wait_for("delivery", || {
        let s = h.outbox.stats();
        s.sent == 2 && s.superseded == 1
    })
    .await;

    let sent: Vec<Notification> = receiver
        .got()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(sent.len(), 2);
    assert!(sent.contains(&resolved));
    assert!(
        sent.contains(&other_group),
        "another group is not superseded"
    );
    assert!(!sent.contains(&firing));
    let stored = h.store.get(firing_id).await.unwrap().unwrap();
    assert_eq!(stored.state, MessageState::Delivered, "acked as superseded");
    h.stop().await;
}

#[tokio::test]
async fn a_store_that_refuses_writes_sends_to_fallback_notifiers_directly() {
    let fallback_receiver = Receiver::start(vec![], 200).await;
    let other_receiver = Receiver::start(vec![], 200).await;
    let h = Harness::new(vec![
        webhook("pager", &fallback_receiver, true),
        webhook("ops", &other_receiver, false),
    ]);
    // Make the real store refuse inserts, as a full disk would.
    let conn = rusqlite::Connection::open(h.dir.path().join("bulwark.db")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON messages \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .unwrap();

    let n = notification("StoreDown", "g-store", AlertStatus::Firing);
    match h.outbox.enqueue("ops", &n, now_ms()).await {
        Err(EnqueueError::Store {
            fallback_sent,
            notifier,
            ..
        }) => {
            assert_eq!(fallback_sent, 1);
            assert_eq!(notifier, "ops");
        }
        other => panic!("expected a store error, got {other:?}"),
    }
    // The engine enqueues the same notification for its other notifier: not sent twice.
    match h.outbox.enqueue("pager", &n, now_ms()).await {
        Err(EnqueueError::Store { fallback_sent, .. }) => assert_eq!(fallback_sent, 0),
        other => panic!("expected a store error, got {other:?}"),
    }

    let got = fallback_receiver.got();
    assert_eq!(got.len(), 1);
    let sent: Notification = serde_json::from_slice(&got[0].body).unwrap();
    let mut expected = n.clone();
    expected.receiver = "pager".into();
    assert_eq!(sent, expected);
    assert!(
        other_receiver.got().is_empty(),
        "only fallback notifiers are used"
    );
    assert_eq!(h.outbox.stats().fallback_sent, 1);
    // Nothing reached the store.
    assert!(
        h.store
            .next_due_at(&[destination("ops"), destination("pager")])
            .await
            .unwrap()
            .is_none()
    );
    h.stop().await;
}

#[tokio::test]
async fn an_idle_worker_sleeps_instead_of_polling() {
    let receiver = Receiver::start(vec![], 200).await;
    let mut h = Harness::new(vec![webhook("ops", &receiver, false)]);
    h.start_worker(fast_options());
    // The worker starts idle (nothing due: it sleeps up to a minute), so a delivery
    // within the test's wait shows that the outbox's wake-up works.
    let n = notification("HighErrorRate", "g-idle", AlertStatus::Firing);
    h.outbox.enqueue("ops", &n, now_ms()).await.unwrap();
    h.wait_for("delivery", || h.outbox.stats().sent == 1).await;
    // After the delivery the worker claims once more (empty) and may wake once for the
    // enqueue's stored wake-up; let that settle, then observe a window in which nothing
    // is due: no further claims.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let claims = h.outbox.stats().claims;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.outbox.stats().claims, claims, "claimed while idle");
    assert!(claims <= 4, "too many claims for one delivery: {claims}");
    h.stop().await;
}

#[tokio::test]
async fn after_a_restart_firing_and_resolved_both_go_out_in_order() {
    let receiver = Receiver::start(vec![], 200).await;
    let mut h = Harness::new(vec![webhook("ops", &receiver, false)]);
    let now = now_ms();
    let firing = notification("HighErrorRate", "g1", AlertStatus::Firing);
    let resolved = notification("HighErrorRate", "g1", AlertStatus::Resolved);
    h.outbox.enqueue("ops", &firing, now).await.unwrap();
    h.outbox.enqueue("ops", &resolved, now).await.unwrap();
    // A restart: a new outbox (empty supersede map) over the same store.
    h.outbox = bulwark_notify::Outbox::new(h.store.clone(), &h.notifiers);
    h.start_worker(fast_options());
    h.wait_for("delivery", || h.outbox.stats().sent == 2).await;

    let sent: Vec<Notification> = receiver
        .got()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(sent, vec![firing, resolved]);
    assert_eq!(h.outbox.stats().superseded, 0);
    h.stop().await;
}

#[tokio::test]
async fn a_notifier_that_hangs_does_not_hold_the_others() {
    // Accepts connections and never answers: each attempt takes the whole timeout (5 s).
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging_url = format!("http://{}/alerts", hanging.local_addr().unwrap());
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::channel::<()>(8);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = hanging.accept().await {
            held.push(stream);
            let _ = accepted_tx.send(()).await;
        }
    });
    let receiver = Receiver::start(vec![], 200).await;
    let slow = NotifierSpec {
        name: "slow".into(),
        kind: NotifierKind::Webhook(WebhookSpec {
            url: hanging_url.parse().unwrap(),
            headers: vec![],
        }),
        fallback: false,
    };
    let mut h = Harness::new(vec![slow, webhook("ops", &receiver, false)]);
    h.start_worker(fast_options());

    let n = notification("DiskFull", "g-slow", AlertStatus::Firing);
    h.outbox.enqueue("slow", &n, now_ms()).await.unwrap();
    // The slow send is in flight before the other notification even exists.
    accepted.recv().await.unwrap();
    let n = notification("DiskFull", "g-fast", AlertStatus::Firing);
    h.outbox.enqueue("ops", &n, now_ms()).await.unwrap();
    h.wait_for("the other notifier's delivery", || {
        h.outbox.stats().sent == 1
    })
    .await;
    // Delivered while the slow one was still waiting for its answer.
    assert_eq!(h.outbox.stats().failed, 0);
    assert_eq!(receiver.got().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_failing_sms_number_is_retried_alone() {
    // The provider refuses one number (as for an unreachable phone) and takes the other.
    let requests: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let seen = requests.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let seen = seen.clone();
        async move {
            let to = form_urlencoded::parse(&body)
                .find(|(k, _)| k == "To")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let bad = to == "+15005550009";
            seen.lock().unwrap().push(to);
            if bad {
                axum::http::StatusCode::BAD_GATEWAY
            } else {
                axum::http::StatusCode::CREATED
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let spec = NotifierSpec {
        name: "pager".into(),
        kind: NotifierKind::Sms(SmsSpec {
            base_url: base.parse().unwrap(),
            account_sid: "AC1".into(),
            auth_token: Secret::new("tok3n-secret"),
            from: "+15005550006".into(),
            to: vec!["+15005550001".into(), "+15005550009".into()],
        }),
        fallback: false,
    };
    let mut h = Harness::new(vec![spec]);
    h.start_worker(fast_options());
    let n = notification("DiskFull", "g-sms", AlertStatus::Firing);
    h.outbox.enqueue("pager", &n, now_ms()).await.unwrap();
    let attempts = |number: &str| {
        requests
            .lock()
            .unwrap()
            .iter()
            .filter(|to| to.as_str() == number)
            .count()
    };
    h.wait_for("three attempts at the failing number", || {
        attempts("+15005550009") >= 3
    })
    .await;
    assert_eq!(
        attempts("+15005550001"),
        1,
        "the good number was texted again"
    );
    assert_eq!(h.outbox.stats().sent, 1);
    h.stop().await;
}
