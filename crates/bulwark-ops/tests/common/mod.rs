//! The ops router on 127.0.0.1:0, served for real, and a reqwest client that polls it
//! until an expected answer arrives or a deadline passes.

#![allow(dead_code)]

use std::time::Duration;

use bulwark_config::checks::{Check, CheckKind};
use bulwark_config::upstreams::{Target, Upstream};
use bulwark_events::Bus;
use bulwark_ops::health::Health;
use bulwark_ops::server::{OpsState, router};
use bulwark_ops::version::VersionInfo;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

/// How long a state change may take to show: generous for a loaded 2-core machine, and
/// only ever reached when something is broken.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct Ops {
    pub base: String,
    pub health: Health,
    pub bus: Bus,
    pub cancel: CancellationToken,
    pub client: reqwest::Client,
}

impl Drop for Ops {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub fn version() -> VersionInfo {
    VersionInfo {
        version: "9.8.7".into(),
        commit: "0123abcd".into(),
        build_time: "2024-02-29T12:34:56Z".into(),
        rustc: "rustc 1.85.0".into(),
    }
}

/// A handle to a recorder of its own, not installed globally, for tests that do not look
/// at metrics (only one global recorder may exist per process).
pub fn local_metrics() -> PrometheusHandle {
    PrometheusBuilder::new().build_recorder().handle()
}

/// Serves the ops router with the built-ins reported healthy and `checks` applied.
pub async fn start(checks: &[Check], upstreams: &[Upstream], metrics: PrometheusHandle) -> Ops {
    let bus = Bus::new(256);
    let health = Health::new(bus.clone());
    health.set_builtin("listeners", true, None);
    health.set_builtin("config", true, None);
    let cancel = CancellationToken::new();
    health.apply(checks, upstreams, &cancel);
    let app = router(OpsState {
        health: health.clone(),
        metrics,
        version: version(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = cancel.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
            .unwrap();
    });
    Ops {
        base,
        health,
        bus,
        cancel,
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

pub fn check(name: &str, kind: CheckKind, critical: bool) -> Check {
    Check {
        name: name.into(),
        kind,
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(1500),
        critical,
        failure_threshold: 1,
        success_threshold: 1,
    }
}

pub fn upstream(name: &str, ports: &[u16]) -> Upstream {
    Upstream {
        name: name.into(),
        targets: ports
            .iter()
            .map(|port| Target {
                scheme: http::uri::Scheme::HTTP,
                authority: format!("127.0.0.1:{port}").parse().unwrap(),
            })
            .collect(),
        ca: None,
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        pool_idle_timeout: Duration::from_secs(4),
        pool_max_idle_per_target: 8,
        max_failures: 3,
        cooldown: Duration::from_secs(10),
    }
}

pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Ops {
    pub async fn get(&self, path: &str) -> Answer {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.text().await.unwrap();
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// Polls `path` until `accept` likes the answer; panics with the last answer after
    /// [`DEADLINE`].
    pub async fn until(&self, path: &str, accept: impl Fn(&Answer) -> bool) -> Answer {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let answer = self.get(path).await;
            if accept(&answer) {
                return answer;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} never gave the expected answer; last: {} {}",
                answer.status,
                answer.body
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls `/health` until the check `name` has `status` (`pass` / `fail`), and returns
    /// the whole document.
    pub async fn until_check(&self, name: &str, key: &str, status: &str) -> serde_json::Value {
        let answer = self
            .until("/health", |a| {
                let doc: serde_json::Value = serde_json::from_str(&a.body).unwrap();
                doc["checks"][key][0]["status"] == status
                    && doc["checks"][key][0]["componentId"] == name
            })
            .await;
        serde_json::from_str(&answer.body).unwrap()
    }
}
