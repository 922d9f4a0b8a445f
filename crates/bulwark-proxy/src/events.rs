//! Telemetry of the public listener: metric names, their handles cached per route and
//! upstream (the hot path does no registry lookups), and the access log line.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use http::{HeaderValue, Method, StatusCode};
use metrics::{Counter, Gauge, Histogram, Unit};

use crate::access_log::{AccessEntry, AccessLogSink};

pub const HTTP_REQUESTS: &str = "bulwark_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "bulwark_http_request_duration_seconds";
pub const HTTP_REJECTED: &str = "bulwark_http_rejected_total";
pub const OPEN_CONNECTIONS: &str = "bulwark_open_connections";
pub const UPSTREAM_REQUESTS: &str = "bulwark_upstream_requests_total";
pub const UPSTREAM_DURATION: &str = "bulwark_upstream_request_duration_seconds";
pub const EXTERNAL_API_ERRORS: &str = "external_api_errors_total";
pub const WEBHOOKS_RECEIVED: &str = "bulwark_webhooks_received_total";
pub const WEBHOOK_SIGNATURES: &str = "webhook_signature_validations_total";

/// Registers descriptions so every family has HELP and a unit in the scrape.
pub fn describe() {
    metrics::describe_counter!(
        HTTP_REQUESTS,
        "Requests answered on the public listener, by route name, method and status class."
    );
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time from request head to the last response byte, by route name."
    );
    metrics::describe_counter!(
        HTTP_REJECTED,
        "Connections or requests refused before routing, by reason."
    );
    metrics::describe_gauge!(
        OPEN_CONNECTIONS,
        "Client connections currently open on the public listener."
    );
    metrics::describe_counter!(
        UPSTREAM_REQUESTS,
        "Requests sent to upstreams, by upstream name and outcome (status class or error kind)."
    );
    metrics::describe_histogram!(
        UPSTREAM_DURATION,
        Unit::Seconds,
        "Time from sending a request upstream to its response head, by upstream name."
    );
    metrics::describe_counter!(
        EXTERNAL_API_ERRORS,
        "Failed calls to services outside bulwark, by target name and error kind."
    );
    metrics::describe_counter!(
        WEBHOOKS_RECEIVED,
        "Webhooks received, by webhook and outcome (stored, duplicate, bad_signature, too_large, bad_body, store_unavailable)."
    );
    metrics::describe_counter!(
        WEBHOOK_SIGNATURES,
        "Webhook signature checks, by webhook and result (valid, invalid)."
    );
}

const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::OPTIONS,
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
const SLOTS: usize = (METHODS.len() + 1) * CLASSES.len();

/// Per-route handles; counters are created on first use so the scrape shows only
/// combinations that happened.
pub struct RouteMetrics {
    pub name: Arc<str>,
    requests: [OnceLock<Counter>; SLOTS],
    duration: Histogram,
}

impl RouteMetrics {
    pub fn new(name: &str) -> Self {
        Self {
            name: Arc::from(name),
            requests: std::array::from_fn(|_| OnceLock::new()),
            duration: metrics::histogram!(HTTP_REQUEST_DURATION, "route" => name.to_string()),
        }
    }

    fn record(&self, method: &Method, status: StatusCode, seconds: f64) {
        let m = METHODS
            .iter()
            .position(|x| x == method)
            .unwrap_or(METHODS.len());
        let c = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.requests[m * CLASSES.len() + c]
            .get_or_init(|| {
                let method = METHODS.get(m).map_or("OTHER", |x| x.as_str());
                metrics::counter!(HTTP_REQUESTS, "route" => self.name.to_string(), "method" => method, "status" => CLASSES[c])
            })
            .increment(1);
        self.duration.record(seconds);
    }
}

/// Outcome of one upstream exchange, as counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamOutcome {
    Status(StatusCode),
    ConnectError,
    Timeout,
    ProtocolError,
    NoHealthyTarget,
    /// The client's request body failed while being sent on.
    ClientError,
}

const OUTCOMES: [&str; 10] = [
    "1xx",
    "2xx",
    "3xx",
    "4xx",
    "5xx",
    "connect_error",
    "timeout",
    "protocol_error",
    "no_healthy_target",
    "client_error",
];

pub struct UpstreamMetrics {
    name: String,
    requests: [OnceLock<Counter>; OUTCOMES.len()],
    errors: [OnceLock<Counter>; OUTCOMES.len()],
    duration: Histogram,
}

impl UpstreamMetrics {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            requests: std::array::from_fn(|_| OnceLock::new()),
            errors: std::array::from_fn(|_| OnceLock::new()),
            duration: metrics::histogram!(UPSTREAM_DURATION, "upstream" => name.to_string()),
        }
    }

    pub fn record(&self, outcome: UpstreamOutcome, started: Option<Instant>) {
        let index = match outcome {
            UpstreamOutcome::Status(s) => (s.as_u16() / 100).clamp(1, 5) as usize - 1,
            UpstreamOutcome::ConnectError => 5,
            UpstreamOutcome::Timeout => 6,
            UpstreamOutcome::ProtocolError => 7,
            UpstreamOutcome::NoHealthyTarget => 8,
            UpstreamOutcome::ClientError => 9,
        };
        self.requests[index]
            .get_or_init(|| metrics::counter!(UPSTREAM_REQUESTS, "upstream" => self.name.clone(), "outcome" => OUTCOMES[index]))
            .increment(1);
        // Errors from the point of view of "calls to something outside": transport
        // failures and 5xx answers.
        let error_kind = match index {
            4 => Some("http_5xx"),
            5 => Some("connect"),
            6 => Some("timeout"),
            7 => Some("protocol"),
            8 => Some("no_healthy_target"),
            _ => None,
        };
        if let Some(kind) = error_kind {
            self.errors[index]
                .get_or_init(|| metrics::counter!(EXTERNAL_API_ERRORS, "target" => self.name.clone(), "kind" => kind))
                .increment(1);
        }
        if let Some(started) = started {
            self.duration.record(started.elapsed().as_secs_f64());
        }
    }
}

/// Per-webhook counters.
pub struct WebhookMetrics {
    name: String,
}

impl WebhookMetrics {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
        }
    }

    pub fn received(&self, outcome: &'static str) {
        metrics::counter!(WEBHOOKS_RECEIVED, "webhook" => self.name.clone(), "outcome" => outcome)
            .increment(1);
    }

    pub fn signature(&self, result: &'static str) {
        metrics::counter!(WEBHOOK_SIGNATURES, "webhook" => self.name.clone(), "result" => result)
            .increment(1);
    }
}

/// Why a connection or request was refused before routing.
#[derive(Clone, Copy, Debug)]
pub enum Rejection {
    RequestHeadTimeout,
    RequestHeadTooLarge,
    Http2PrefaceTimeout,
    /// hyper could not parse a later request on the connection (it answers 400/431).
    MalformedRequest,
}

impl Rejection {
    pub fn record(self) {
        let reason = match self {
            Rejection::RequestHeadTimeout => "request_head_timeout",
            Rejection::RequestHeadTooLarge => "request_head_too_large",
            Rejection::Http2PrefaceTimeout => "http2_preface_timeout",
            Rejection::MalformedRequest => "malformed_request",
        };
        metrics::counter!(HTTP_REJECTED, "reason" => reason).increment(1);
        tracing::info!(reason, "Request refused before routing.");
    }
}

pub fn open_connections() -> Gauge {
    metrics::gauge!(OPEN_CONNECTIONS)
}

/// Everything the access log line and the request metrics need. Written when dropped,
/// which is when the response body has been sent (or the client went away), so the
/// duration and byte count cover the whole exchange.
pub struct RequestLog {
    pub start: Instant,
    pub request_id: HeaderValue,
    pub route: Arc<RouteMetrics>,
    pub method: Method,
    /// The request target as received (a cheap clone); the log shows only its path.
    pub uri: http::Uri,
    pub client_ip: IpAddr,
    pub status: StatusCode,
    pub upstream: Option<Arc<str>>,
    pub bytes: u64,
    pub access_log: Option<Arc<dyn AccessLogSink>>,
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        let elapsed = self.start.elapsed();
        self.route
            .record(&self.method, self.status, elapsed.as_secs_f64());
        if let Some(sink) = &self.access_log {
            sink.record(&AccessEntry {
                time: SystemTime::now(),
                request_id: self.request_id.to_str().unwrap_or("-"),
                route: &self.route.name,
                method: self.method.as_str(),
                path: self.uri.path(),
                status: self.status.as_u16(),
                latency_ms: elapsed.as_secs_f64() * 1000.0,
                upstream: self.upstream.as_deref().unwrap_or("-"),
                bytes: self.bytes,
                client_ip: self.client_ip,
            });
        }
    }
}
