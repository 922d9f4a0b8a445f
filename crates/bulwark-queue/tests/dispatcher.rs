//! The dispatcher against the real SQLite store and a real local HTTP receiver, with
//! millisecond schedules. Synchronisation is by polling with bounded deadlines; the only
//! timed waits are observation windows for "nothing happens" (idle rounds).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bulwark_queue::breaker::{BreakerConfig, BreakerState};
use bulwark_queue::dispatcher::{
    Destination, Dispatcher, DispatcherOptions, EVENT_ID_HEADER, WEBHOOK_ID_HEADER,
};
use bulwark_queue::retry::{RetryPolicy, RetrySchedule};
use bulwark_queue::store::{
    DeadLetters, Message, MessageId, MessageState, NewMessage, Pauses, Persist, SqliteStore,
};
use bulwark_signatures::{Scheme, SignedRequest, Standard};
use tokio_util::sync::CancellationToken;

/// The example secret of the Standard Webhooks specification.
const SECRET: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WAIT: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

// ---- the receiver ----------------------------------------------------------------

#[derive(Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct ReceiverState {
    /// Answers to give first: status and `Retry-After`.
    script: VecDeque<(u16, Option<&'static str>)>,
    /// The answer once the script is used up.
    fallback: u16,
    got: Vec<Received>,
}

#[derive(Clone)]
struct Receiver {
    state: Arc<Mutex<ReceiverState>>,
    url: reqwest::Url,
}

impl Receiver {
    async fn start(script: Vec<(u16, Option<&'static str>)>, fallback: u16) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            script: script.into(),
            fallback,
            got: Vec::new(),
        }));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(handle))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            state,
            url: format!("http://{addr}/hook").parse().unwrap(),
        }
    }

    fn got(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }

    fn set_fallback(&self, status: u16) {
        self.state.lock().unwrap().fallback = status;
    }
}

async fn handle(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    state.got.push(Received { headers, body });
    let (status, retry_after) = state.script.pop_front().unwrap_or((state.fallback, None));
    let mut response = Response::builder().status(StatusCode::from_u16(status).unwrap());
    if let Some(value) = retry_after {
        response = response.header("retry-after", value);
    }
    response.body(Body::empty()).unwrap()
}

// ---- the dispatcher under test ---------------------------------------------------

struct Harness {
    store: SqliteStore,
    dispatcher: Dispatcher<SqliteStore>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn destination(receiver: &Receiver) -> Destination {
    let mut d = Destination::new("app", receiver.url.clone(), SECRET.to_vec());
    d.timeout = Duration::from_secs(2);
    d.schedule = RetrySchedule {
        delays: vec![ms(0), ms(10), ms(10), ms(10)],
    };
    d.policy = RetryPolicy {
        dead_on_4xx: false,
        min_retry_after: ms(0),
        max_retry_after: ms(200),
        min_after_overload: ms(0),
        max_age: None,
    };
    d
}

fn options() -> DispatcherOptions {
    DispatcherOptions {
        lease_margin: Duration::from_secs(1),
        max_idle: ms(100),
        unknown_sweep_every: ms(50),
        random: Arc::new(|| 0.5),
        ..DispatcherOptions::default()
    }
}

impl Harness {
    fn start(destinations: Vec<Destination>) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), destinations)
    }

    /// A dispatcher on the store already in `dir` (a restart).
    fn start_in(dir: tempfile::TempDir, destinations: Vec<Destination>) -> Self {
        let store = SqliteStore::open(dir.path()).unwrap();
        let dispatcher = Dispatcher::new(store.clone(), destinations, options()).unwrap();
        let cancel = CancellationToken::new();
        let task = {
            let (d, c) = (dispatcher.clone(), cancel.clone());
            tokio::spawn(async move { d.run(c).await })
        };
        Harness {
            store,
            dispatcher,
            cancel,
            task,
            _dir: dir,
        }
    }

    async fn send(&self, destination: &str, body: &'static [u8]) -> MessageId {
        let message = NewMessage {
            destination: destination.to_string(),
            body: Bytes::from_static(body),
            headers: vec![
                ("Content-Type".into(), b"application/json".to_vec()),
                ("Stripe-Signature".into(), b"t=1,v1=stale".to_vec()),
                ("X-GitHub-Event".into(), b"push".to_vec()),
                ("X-Not-Listed".into(), b"no".to_vec()),
                ("webhook-signature".into(), b"v1,stale".to_vec()),
            ],
            event_id: Some("evt_123".into()),
            ordering_key: None,
            next_attempt_at_ms: now_ms(),
        };
        let id = self.store.persist(message, 0, now_ms()).await.unwrap().id();
        self.dispatcher.waker().notify_one();
        id
    }

    async fn message(&self, id: MessageId) -> Message {
        self.store.get(id).await.unwrap().unwrap()
    }

    /// Polls the stored message until `done` holds, for at most [`WAIT`].
    async fn wait_until(&self, id: MessageId, done: impl Fn(&Message) -> bool) -> Message {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let m = self.message(id).await;
            if done(&m) {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting; message is {m:?}"
            );
            tokio::time::sleep(ms(5)).await;
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("run returns after cancel")
            .unwrap();
    }
}

fn verify(received: &Received) -> Result<(), bulwark_signatures::SignatureError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let scheme = Scheme::Standard(Standard::default());
    scheme
        .verify(
            &SignedRequest::new(&received.body, &received.headers),
            &[SECRET],
            now,
        )
        .map(|_| ())
}

// ---- tests -----------------------------------------------------------------------

#[tokio::test]
async fn delivers_once_signed_with_the_contract_headers() {
    let receiver = Receiver::start(vec![], 200).await;
    let mut dest = destination(&receiver);
    dest.forward_headers = vec![
        "x-github-event".into(),
        "stripe-signature".into(),
        "webhook-signature".into(),
    ];
    let h = Harness::start(vec![dest]);
    let id = h.send("app", br#"{"a":1}"#).await;

    let m = h
        .wait_until(id, |m| m.state == MessageState::Delivered)
        .await;
    assert_eq!(m.attempts, 1);
    let got = receiver.got();
    assert_eq!(got.len(), 1, "delivered exactly once");
    let r = &got[0];
    assert_eq!(&r.body[..], br#"{"a":1}"#, "body as stored");
    verify(r).expect("bulwark's Standard Webhooks signature verifies");
    assert_eq!(r.headers[WEBHOOK_ID_HEADER], id.to_string().as_str());
    assert_eq!(r.headers[EVENT_ID_HEADER], "evt_123");
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["x-github-event"], "push", "allow-listed");
    assert!(r.headers.get("x-not-listed").is_none(), "not allow-listed");
    assert!(
        r.headers.get("stripe-signature").is_none(),
        "a provider signature is never forwarded, even if listed"
    );
    assert_eq!(
        r.headers.get_all("webhook-signature").iter().count(),
        1,
        "only bulwark's own signature"
    );
    // The store says delivered before the delivery task updates its stats; stopping
    // waits for that task.
    let stats = h.dispatcher.clone();
    h.stop().await;
    assert_eq!(stats.stats().delivered, 1);
}

#[tokio::test]
async fn a_503_is_retried_with_the_same_webhook_id_then_delivered() {
    let receiver = Receiver::start(vec![(503, None)], 200).await;
    let h = Harness::start(vec![destination(&receiver)]);
    let id = h.send("app", b"retry me").await;

    let m = h
        .wait_until(id, |m| m.state == MessageState::Delivered)
        .await;
    assert_eq!(m.attempts, 2, "one failure, one success");
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    for r in &got {
        assert_eq!(r.headers[WEBHOOK_ID_HEADER], id.to_string().as_str());
        verify(r).expect("each attempt is signed");
    }
    let dispatcher = h.dispatcher.clone();
    h.stop().await;
    let stats = dispatcher.stats();
    assert_eq!((stats.retried, stats.delivered, stats.attempts), (1, 1, 2));
}

#[tokio::test]
async fn a_4xx_is_dead_at_once_with_dead_on_4xx() {
    let receiver = Receiver::start(vec![], 400).await;
    let mut dest = destination(&receiver);
    dest.policy.dead_on_4xx = true;
    let h = Harness::start(vec![dest]);
    let id = h.send("app", b"bad").await;

    let m = h.wait_until(id, |m| m.state == MessageState::Dead).await;
    assert_eq!(m.attempts, 1);
    assert_eq!(m.last_error.as_deref(), Some("HTTP 400"));
    assert_eq!(receiver.got().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn an_exhausted_schedule_dead_letters() {
    let receiver = Receiver::start(vec![], 500).await;
    let mut dest = destination(&receiver);
    // The breaker must not get in the way here.
    dest.breaker.consecutive_failures = 100;
    let h = Harness::start(vec![dest]);
    let id = h.send("app", b"doomed").await;

    let m = h.wait_until(id, |m| m.state == MessageState::Dead).await;
    assert_eq!(m.attempts, 4, "every scheduled attempt was made");
    assert_eq!(receiver.got().len(), 4);
    assert_eq!(m.last_error.as_deref(), Some("HTTP 500"));
    h.stop().await;
}

#[tokio::test]
async fn an_open_breaker_keeps_attempts_until_the_app_is_back() {
    let receiver = Receiver::start(vec![], 503).await;
    let mut dest = destination(&receiver);
    dest.schedule.delays = vec![ms(0); 1].into_iter().chain(vec![ms(10); 30]).collect();
    dest.breaker = BreakerConfig {
        consecutive_failures: 2,
        open_for: ms(400),
        ..BreakerConfig::default()
    };
    let h = Harness::start(vec![dest]);
    let id = h.send("app", b"patience").await;

    // Two failures open the breaker.
    let deadline = tokio::time::Instant::now() + WAIT;
    while h.dispatcher.breaker_state("app") != Some(BreakerState::Open) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "breaker never opened"
        );
        tokio::time::sleep(ms(2)).await;
    }
    // It opened at or before this moment, so it stays open for most of `open_for` from
    // here: observe that window (with 10 ms retries it would see ~30 attempts).
    let window_end = tokio::time::Instant::now() + ms(300);
    let opened = h.wait_until(id, |m| m.state == MessageState::Pending).await;
    assert_eq!(opened.attempts, 2);
    let rounds_at_open = h.dispatcher.stats().rounds;
    while tokio::time::Instant::now() < window_end {
        assert_eq!(h.dispatcher.breaker_state("app"), Some(BreakerState::Open));
        assert_eq!(
            h.message(id).await.attempts,
            2,
            "no attempt burnt while open"
        );
        tokio::time::sleep(ms(10)).await;
    }
    assert!(
        h.dispatcher.stats().rounds - rounds_at_open < 15,
        "the dispatcher slept while the breaker was open"
    );
    // The app is back before the open period ends: the half-open probe delivers.
    receiver.set_fallback(200);
    let m = h
        .wait_until(id, |m| m.state == MessageState::Delivered)
        .await;
    assert_eq!(m.attempts, 3, "two failures and one probe");
    assert_eq!(receiver.got().len(), 3);
    assert_eq!(
        h.dispatcher.breaker_state("app"),
        Some(BreakerState::Closed)
    );
    h.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured_within_bounds() {
    let receiver = Receiver::start(vec![(503, Some("3600"))], 200).await;
    let h = Harness::start(vec![destination(&receiver)]);
    let id = h.send("app", b"later").await;

    let m = h
        .wait_until(id, |m| m.attempts == 1 && m.state == MessageState::Pending)
        .await;
    assert_eq!(
        m.next_attempt_at_ms - m.updated_at_ms,
        200,
        "an hour asked, clamped to max_retry_after"
    );
    let m = h
        .wait_until(id, |m| m.state == MessageState::Delivered)
        .await;
    assert!(m.updated_at_ms >= m.next_attempt_at_ms);
    assert_eq!(m.attempts, 2);
    h.stop().await;
}

#[tokio::test]
async fn a_410_pauses_the_destination_without_polling_until_resumed() {
    let receiver = Receiver::start(vec![(410, None)], 200).await;
    let h = Harness::start(vec![destination(&receiver)]);
    let id = h.send("app", b"gone").await;

    let deadline = tokio::time::Instant::now() + WAIT;
    while h.dispatcher.is_paused("app") != Some(true) {
        assert!(tokio::time::Instant::now() < deadline, "never paused");
        tokio::time::sleep(ms(2)).await;
    }
    let m = h.wait_until(id, |m| m.state == MessageState::Pending).await;
    assert_eq!(m.attempts, 1);
    // The message is due now but its destination is paused: the dispatcher must sleep,
    // not spin on it. Over 500 ms with max_idle = 100 ms, a handful of rounds.
    let before = h.dispatcher.stats();
    tokio::time::sleep(ms(500)).await;
    let after = h.dispatcher.stats();
    assert!(
        after.rounds - before.rounds <= 10,
        "{} rounds in 500 ms",
        after.rounds - before.rounds
    );
    assert_eq!(h.message(id).await.attempts, 1);

    // The pause is in the store, with what the destination said.
    let paused = h.store.paused().await.unwrap();
    assert_eq!(paused.len(), 1);
    assert_eq!(paused[0].destination, "app");
    assert!(paused[0].reason.contains("410"), "{}", paused[0].reason);

    // Resumed the way the admin API does it: in the store, then a wake-up.
    assert!(h.store.resume("app").await.unwrap());
    h.dispatcher.waker().notify_one();
    let m = h
        .wait_until(id, |m| m.state == MessageState::Delivered)
        .await;
    assert_eq!(m.attempts, 2);
    assert_eq!(h.dispatcher.is_paused("app"), Some(false));
    h.stop().await;
}

#[tokio::test]
async fn a_pause_holds_across_a_restart_until_resumed() {
    let receiver = Receiver::start(vec![], 200).await;
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        store
            .pause("app", "410 Gone".into(), now_ms())
            .await
            .unwrap();
    }
    let h = Harness::start_in(dir, vec![destination(&receiver)]);
    let id = h.send("app", b"held").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while h.dispatcher.is_paused("app") != Some(true) {
        assert!(tokio::time::Instant::now() < deadline, "pause not loaded");
        tokio::time::sleep(ms(2)).await;
    }
    // Several rounds pass (max_idle = 100 ms) without an attempt.
    let before = h.dispatcher.stats().rounds;
    let deadline = tokio::time::Instant::now() + WAIT;
    while h.dispatcher.stats().rounds < before + 3 {
        assert!(tokio::time::Instant::now() < deadline, "dispatcher stalled");
        tokio::time::sleep(ms(5)).await;
    }
    assert_eq!(h.message(id).await.attempts, 0);
    assert!(receiver.got().is_empty());

    assert!(h.dispatcher.resume("app").await.unwrap());
    let m = h
        .wait_until(id, |m| m.state == MessageState::Delivered)
        .await;
    assert_eq!(m.attempts, 1);
    h.stop().await;
}

#[tokio::test]
async fn an_idle_dispatcher_sleeps() {
    let receiver = Receiver::start(vec![], 200).await;
    let h = Harness::start(vec![destination(&receiver)]);
    // A message due in an hour must not make the dispatcher spin either.
    let later = NewMessage {
        destination: "app".into(),
        body: Bytes::from_static(b"later"),
        headers: vec![],
        event_id: None,
        ordering_key: None,
        next_attempt_at_ms: now_ms() + 3_600_000,
    };
    h.store.persist(later, 0, now_ms()).await.unwrap();
    let before = h.dispatcher.stats();
    tokio::time::sleep(ms(500)).await;
    let after = h.dispatcher.stats();
    let claims = after.claims - before.claims;
    // Two claims per round (the destination, and unknown destinations), max_idle 100 ms.
    assert!(claims <= 20, "{claims} claims in 500 ms of idling");
    assert_eq!(after.attempts, 0);
    assert!(receiver.got().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn messages_for_an_unknown_destination_are_dead_lettered() {
    let receiver = Receiver::start(vec![], 200).await;
    let h = Harness::start(vec![destination(&receiver)]);
    let id = h.send("nobody", b"lost").await;
    let m = h.wait_until(id, |m| m.state == MessageState::Dead).await;
    assert!(m.last_error.unwrap().contains("nobody"));
    assert!(receiver.got().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn notifications_are_left_to_their_own_worker() {
    let receiver = Receiver::start(vec![], 200).await;
    let h = Harness::start(vec![destination(&receiver)]);
    let notification = h.send("notify:ops", b"alert").await;
    let unknown = h.send("nobody", b"lost").await;
    // The sweep that dead-letters the unknown destination has passed the notification.
    h.wait_until(unknown, |m| m.state == MessageState::Dead)
        .await;
    let kept = h.store.get(notification).await.unwrap().unwrap();
    assert_eq!(kept.state, MessageState::Pending);
    assert_eq!(kept.attempts, 0);
    assert!(receiver.got().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_burst_is_delivered_under_a_concurrency_limit() {
    let receiver = Receiver::start(vec![], 200).await;
    let mut dest = destination(&receiver);
    dest.concurrency = 2;
    let h = Harness::start(vec![dest]);
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(h.send("app", b"many").await);
    }
    for id in ids {
        let m = h
            .wait_until(id, |m| m.state == MessageState::Delivered)
            .await;
        assert_eq!(m.attempts, 1);
    }
    assert_eq!(receiver.got().len(), 6);
    h.stop().await;
}

#[tokio::test]
async fn a_message_past_its_max_age_is_dead_lettered_instead_of_retried() {
    let receiver = Receiver::start(vec![], 503).await;
    let mut dest = destination(&receiver);
    dest.policy.max_age = Some(Duration::from_secs(3600));
    let h = Harness::start(vec![dest]);
    // Stored two hours ago (the app was paused or its breaker open since).
    let old = NewMessage {
        destination: "app".into(),
        body: Bytes::from_static(b"old"),
        headers: vec![],
        event_id: None,
        ordering_key: None,
        next_attempt_at_ms: now_ms(),
    };
    let stored_at = now_ms() - 2 * 3_600_000;
    let id = h.store.persist(old, 0, stored_at).await.unwrap().id();
    h.dispatcher.waker().notify_one();
    let m = h.wait_until(id, |m| m.state == MessageState::Dead).await;
    assert_eq!(m.attempts, 1, "one attempt, then no retry");
    assert!(m.last_error.unwrap().contains("max age"));
    assert_eq!(receiver.got().len(), 1);
    h.stop().await;
}

#[test]
fn a_bad_secret_is_refused_at_build() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let d = Destination::new(
        "app",
        "http://127.0.0.1:1/".parse().unwrap(),
        b"whsec_!!!".to_vec(),
    );
    assert!(Dispatcher::new(store, vec![d], options()).is_err());
}
