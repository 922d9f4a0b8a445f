//! The runner end to end, against a local HTTP server the test controls request by
//! request: every check is a request the test answers, so "the next request arrived"
//! proves the previous check was fully processed — no sleeps.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bulwark_events::{Bus, BusEvent, Envelope, Subscriber};
use bulwark_monitor::{
    HistoryStore, Impact, IncidentStatus, MonitorSpec, MonitorState, Monitors, ProbeSpec,
};
use common::{Pending, Reply, TestServer};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

async fn next_request(requests: &mut UnboundedReceiver<Pending>) -> Pending {
    tokio::time::timeout(WAIT, requests.recv())
        .await
        .expect("the monitor checks again")
        .expect("the server is running")
}

async fn next_event(events: &mut Subscriber) -> Arc<Envelope> {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("an event arrives")
        .expect("the bus is open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_goes_down_after_three_failures_and_comes_back_up() {
    let (server, mut requests) = TestServer::gated(None).await;
    let addr = server.addr;
    let mut spec = MonitorSpec::new("api", ProbeSpec::http_get(server.url("/health")));
    spec.display_name = Some("Public API".into());
    spec.interval = Duration::from_millis(5);
    spec.timeout = Duration::from_secs(5);
    let bus = Bus::new(64);
    let mut events = bus.subscribe("test");
    let history = HistoryStore::open_in_memory().unwrap();
    let cancel = CancellationToken::new();
    let monitors = Monitors::start(vec![spec], history, bus, cancel.clone()).unwrap();

    assert_eq!(monitors.status("api").unwrap().state, MonitorState::Unknown);
    assert!(monitors.snapshot()[0].last_check_ms.is_none());

    // Check 1 succeeds: up at once, without a bus event (nothing was down).
    next_request(&mut requests)
        .await
        .reply
        .send(Reply::status(200))
        .unwrap();
    let check2 = next_request(&mut requests).await;
    let status = monitors.status("api").unwrap();
    assert_eq!(status.state, MonitorState::Up);
    assert!(status.last_check_ms.is_some());
    assert_eq!(status.last_error, None);
    assert!(events.try_recv().is_none());

    // Failures 1 and 2: still up, no event.
    check2.reply.send(Reply::status(503)).unwrap();
    let check3 = next_request(&mut requests).await;
    assert_eq!(monitors.status("api").unwrap().state, MonitorState::Up);
    assert_eq!(
        monitors.status("api").unwrap().last_error.as_deref(),
        Some("[STATUS] (503) < 300")
    );
    assert!(events.try_recv().is_none());
    check3.reply.send(Reply::Drop).unwrap();
    let check4 = next_request(&mut requests).await;
    assert_eq!(monitors.status("api").unwrap().state, MonitorState::Up);
    assert!(!monitors.is_down("api"));
    assert!(events.try_recv().is_none());

    // Failure 3: down, announced on the bus.
    check4.reply.send(Reply::Drop).unwrap();
    let event = next_event(&mut events).await;
    let BusEvent::MonitorDown { monitor, reason } = &event.event else {
        panic!("expected MonitorDown, got {:?}", event.event);
    };
    assert_eq!(monitor, "api");
    assert_eq!(reason, "connection closed without a complete response");
    assert!(monitors.is_down("api"));

    // The incident is recorded before the next check starts.
    let check5 = next_request(&mut requests).await;
    let incident = monitors
        .history()
        .open_incident_for_monitor("api")
        .unwrap()
        .expect("an incident is open");
    assert_eq!(incident.title, "Public API is down");
    assert_eq!(incident.impact, Impact::Major);
    assert_eq!(incident.status, IncidentStatus::Investigating);
    // Incidents may be public: the reason stays out of them.
    assert_eq!(
        incident.updates[0].message,
        "Public API is not responding as expected. We are investigating."
    );
    assert!(!incident.updates[0].message.contains(reason.as_str()));

    // Now the server goes away entirely: connections are refused, still down, and no
    // second incident or event.
    drop(check5);
    server.stop().await;
    drop(requests);

    // It returns on the same port: two successes bring the monitor back up.
    let (server, mut requests) = TestServer::gated(Some(addr)).await;
    next_request(&mut requests)
        .await
        .reply
        .send(Reply::status(200))
        .unwrap();
    let second = next_request(&mut requests).await;
    assert!(monitors.is_down("api"));
    second.reply.send(Reply::status(200)).unwrap();
    let event = next_event(&mut events).await;
    assert_eq!(
        event.event,
        BusEvent::MonitorUp {
            monitor: "api".into()
        }
    );
    assert!(!monitors.is_down("api"));

    // The incident is resolved before the next check starts.
    let _third = next_request(&mut requests).await;
    assert_eq!(
        monitors.history().open_incident_for_monitor("api").unwrap(),
        None
    );
    let incidents = monitors.history().incidents(0).unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].status, IncidentStatus::Resolved);
    assert!(incidents[0].resolved_ms.is_some());

    // Shutting down flushes the buckets: 1 + 3 + 2 (+1 in flight at most) checks, and
    // whatever refused checks ran while the server was away.
    cancel.cancel();
    tokio::time::timeout(WAIT, monitors.join()).await.unwrap();
    let minutes = monitors.history().minutes("api", 0).unwrap();
    let checks: u64 = minutes.iter().map(|b| b.checks).sum();
    let successes: u64 = minutes.iter().map(|b| b.successes).sum();
    assert_eq!(successes, 3);
    assert!(checks >= 6, "{checks}");
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_monitor_is_not_down() {
    let bus = Bus::new(4);
    let monitors = Monitors::start(
        Vec::new(),
        HistoryStore::open_in_memory().unwrap(),
        bus,
        CancellationToken::new(),
    )
    .unwrap();
    assert!(!monitors.is_down("nope"));
    assert!(monitors.snapshot().is_empty());
    assert_eq!(monitors.status("nope"), None);
}
