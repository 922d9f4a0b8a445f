//! Shared by the integration tests: a notification fixture, a recording HTTP receiver on
//! 127.0.0.1:0, and the worker running over a real SqliteStore in a tempdir.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use bulwark_events::Bus;
use bulwark_notify::{
    AlertStatus, Notification, NotificationWorker, NotifiedAlert, Notifier, NotifierSpec,
    NotifySchedule, Outbox, WorkerOptions,
};
use bulwark_queue::store::SqliteStore;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(10);

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A group of two firing alerts named `alertname`, for receiver `receiver`.
pub fn notification(alertname: &str, group_key: &str, status: AlertStatus) -> Notification {
    let alert = |instance: &str, summary: &str| NotifiedAlert {
        status,
        labels: map(&[
            ("alertname", alertname),
            ("instance", instance),
            ("severity", "critical"),
            ("type", "api"),
        ]),
        annotations: map(&[("summary", summary), ("description", "5xx > 5% for 5m")]),
        starts_at: "2026-11-28T04:00:00Z".into(),
        ends_at: if status == AlertStatus::Firing {
            "0001-01-01T00:00:00Z".into()
        } else {
            "2026-11-28T04:30:00Z".into()
        },
        generator_url: "https://bulwark.example/alerts".into(),
        fingerprint: format!("{:016x}", instance.len()),
    };
    Notification {
        version: "4".into(),
        group_key: group_key.into(),
        truncated_alerts: 0,
        status,
        receiver: "ops".into(),
        group_labels: map(&[("alertname", alertname)]),
        common_labels: map(&[
            ("alertname", alertname),
            ("severity", "critical"),
            ("type", "api"),
        ]),
        common_annotations: map(&[("summary", "Error rate above 5%")]),
        external_url: "https://bulwark.example/status".into(),
        alerts: vec![alert("a", "Errors on a"), alert("bb", "Errors <b> & co")],
    }
}

/// What the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Default)]
struct ReceiverState {
    script: VecDeque<u16>,
    fallback: u16,
    got: Vec<Received>,
}

/// An HTTP server on 127.0.0.1:0 that records every request and answers with the
/// scripted statuses, then `fallback`.
#[derive(Clone)]
pub struct Receiver {
    state: Arc<Mutex<ReceiverState>>,
    pub base: String,
}

impl Receiver {
    pub async fn start(script: Vec<u16>, fallback: u16) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            script: script.into(),
            fallback,
            got: Vec::new(),
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            state,
            base: format!("http://{addr}"),
        }
    }

    pub fn got(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }
}

async fn handle(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    state.got.push(Received {
        method,
        uri,
        headers,
        body,
    });
    let status = state.script.pop_front().unwrap_or(state.fallback);
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body(Body::empty())
        .unwrap()
}

/// A schedule in milliseconds: 0, 10, 20 ms, then every 20 ms.
pub fn fast_options() -> WorkerOptions {
    WorkerOptions {
        schedule: NotifySchedule {
            offsets: [0, 10, 20].map(Duration::from_millis).to_vec(),
            then_every: Duration::from_millis(20),
        },
        ..WorkerOptions::default()
    }
}

/// The store, the outbox, and (once started) the worker.
pub struct Harness {
    pub store: SqliteStore,
    pub outbox: Outbox<SqliteStore>,
    pub notifiers: Vec<Arc<Notifier>>,
    pub bus: Bus,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub fn new(specs: Vec<NotifierSpec>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let notifiers: Vec<Arc<Notifier>> = specs
            .into_iter()
            .map(|s| Arc::new(Notifier::new(s, Duration::from_secs(5)).unwrap()))
            .collect();
        let outbox = Outbox::new(store.clone(), &notifiers);
        Harness {
            store,
            outbox,
            notifiers,
            bus: Bus::new(64),
            cancel: CancellationToken::new(),
            task: None,
            dir,
        }
    }

    pub fn start_worker(&mut self, options: WorkerOptions) {
        let worker = NotificationWorker::new(
            self.store.clone(),
            &self.notifiers,
            &self.outbox,
            options,
            Some(self.bus.clone()),
        );
        let cancel = self.cancel.clone();
        self.task = Some(tokio::spawn(worker.run(cancel)));
    }

    /// Waits until `done` holds, polling; panics after [`WAIT`].
    pub async fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; stats {:?}",
                self.outbox.stats()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the worker and checks that it stops promptly.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("the worker stops on cancel")
                .unwrap();
        }
    }
}
