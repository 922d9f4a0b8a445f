//! Upstreams at run time: a pooled HTTP/1.1 client per upstream (TLS for `https`
//! targets), its targets in round robin, and each target's passive health.

mod passive;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bulwark_config::upstreams::{Target, Upstream};
use bulwark_events::{Bus, BusEvent};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub use passive::{PassiveHealth, Transition};

use crate::events::UpstreamMetrics;

/// Request bodies go through the route's size limit (`policy::request::body`).
pub type ProxyClient =
    Client<HttpsConnector<HttpConnector>, crate::policy::request::body::RequestBody>;

pub struct TargetState {
    pub target: Target,
    /// `http://host:port`, for logs and event fields (never a credential: refused at load).
    pub label: Arc<str>,
    health: Mutex<PassiveHealth>,
}

pub struct UpstreamPool {
    pub name: String,
    pub targets: Vec<TargetState>,
    pub client: ProxyClient,
    pub timeout: Duration,
    pub metrics: UpstreamMetrics,
    next: AtomicUsize,
    max_failures: u32,
    cooldown: Duration,
}

impl UpstreamPool {
    pub fn new(config: &Upstream) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.connect_timeout));
        // The TLS layer takes `https` URIs; plain ones pass through to TCP.
        connector.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::client_config(config))
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_target)
            // The app sees what the client sent; the client's Host stays.
            .set_host(true)
            .build(connector);
        Self {
            name: config.name.clone(),
            targets: config
                .targets
                .iter()
                .map(|t| TargetState {
                    target: t.clone(),
                    label: Arc::from(t.to_string()),
                    health: Mutex::new(PassiveHealth::new()),
                })
                .collect(),
            client,
            timeout: config.timeout,
            metrics: UpstreamMetrics::new(&config.name),
            next: AtomicUsize::new(0),
            max_failures: config.max_failures,
            cooldown: config.cooldown,
        }
    }

    /// The next available target in round robin, or `None` when all are ejected.
    pub fn pick(&self, now: Instant) -> Option<usize> {
        let n = self.targets.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| self.health(i).is_available(now))
    }

    /// `started` is when the request was sent.
    pub fn record_success(&self, index: usize, started: Instant, bus: &Bus) {
        let transition = self.health(index).record_success(started);
        self.announce(index, transition, bus);
    }

    /// `started` is when the request was sent.
    pub fn record_failure(&self, index: usize, started: Instant, bus: &Bus) {
        let transition = self.health(index).record_failure(
            started,
            Instant::now(),
            self.max_failures,
            self.cooldown,
        );
        self.announce(index, transition, bus);
    }

    fn health(&self, index: usize) -> std::sync::MutexGuard<'_, PassiveHealth> {
        // A poisoned lock only means another request panicked mid-update; the state is
        // two integers and stays usable.
        self.targets[index]
            .health
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn announce(&self, index: usize, transition: Option<Transition>, bus: &Bus) {
        let target = self.targets[index].label.to_string();
        let upstream = self.name.clone();
        match transition {
            None => {}
            Some(Transition::Ejected) => {
                tracing::warn!(upstream = %upstream, upstream_target = %target, "Upstream target ejected.");
                bus.publish(BusEvent::UpstreamTargetEjected { upstream, target });
            }
            Some(Transition::Restored) => {
                tracing::info!(upstream = %upstream, upstream_target = %target, "Upstream target restored.");
                bus.publish(BusEvent::UpstreamTargetRestored { upstream, target });
            }
        }
    }
}
