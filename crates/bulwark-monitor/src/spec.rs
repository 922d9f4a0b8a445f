//! What to monitor: a validated monitor definition, built by the config layer.
//!
//! Connection URLs and request headers may hold credentials, so `Debug` prints only what
//! identifies the target (scheme, host, port, path), never passwords, queries or header
//! values.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use crate::condition::Condition;

/// Checks run this often unless configured otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// A check may take this long unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Consecutive failures before an up monitor is declared down.
pub const DEFAULT_FAILURES_BEFORE_DOWN: u32 = 3;
/// Consecutive successes before a down monitor is declared up again.
pub const DEFAULT_SUCCESSES_BEFORE_UP: u32 = 2;

/// One monitor, validated.
#[derive(Clone, Debug)]
pub struct MonitorSpec {
    pub name: String,
    /// The public name, used in incidents the monitor opens (they may be shown on the
    /// status page); `name` when `None`.
    pub display_name: Option<String>,
    pub probe: ProbeSpec,
    pub interval: Duration,
    pub timeout: Duration,
    pub failures_before_down: u32,
    pub successes_before_up: u32,
    /// Every condition must hold for a check to pass. Empty means the probe's
    /// [defaults](ProbeSpec::default_conditions).
    pub conditions: Vec<Condition>,
}

impl MonitorSpec {
    /// A monitor with the default interval, timeout, thresholds and conditions.
    pub fn new(name: impl Into<String>, probe: ProbeSpec) -> Self {
        Self {
            name: name.into(),
            display_name: None,
            probe,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            failures_before_down: DEFAULT_FAILURES_BEFORE_DOWN,
            successes_before_up: DEFAULT_SUCCESSES_BEFORE_UP,
            conditions: Vec::new(),
        }
    }

    /// The conditions a check is judged by: the configured ones, or the probe's defaults
    /// when none are configured.
    pub fn effective_conditions(&self) -> Vec<Condition> {
        if self.conditions.is_empty() {
            self.probe.default_conditions()
        } else {
            self.conditions.clone()
        }
    }
}

/// How to check one service.
#[derive(Clone)]
pub enum ProbeSpec {
    Http {
        url: reqwest::Url,
        method: http::Method,
        headers: Vec<(String, String)>,
        body: Option<Bytes>,
        follow_redirects: bool,
    },
    /// `host:port`; up when a TCP connection is established.
    Tcp { address: String },
    /// A PostgreSQL URL; up when `SELECT 1` answers.
    Postgres { url: String },
    /// A Redis URL; up when `PING` answers `PONG`.
    Redis { url: String },
}

impl ProbeSpec {
    /// An HTTP GET without headers or body that does not follow redirects.
    pub fn http_get(url: reqwest::Url) -> Self {
        ProbeSpec::Http {
            url,
            method: http::Method::GET,
            headers: Vec::new(),
            body: None,
            follow_redirects: false,
        }
    }

    /// The probe kind as a word, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeSpec::Http { .. } => "http",
            ProbeSpec::Tcp { .. } => "tcp",
            ProbeSpec::Postgres { .. } => "postgres",
            ProbeSpec::Redis { .. } => "redis",
        }
    }

    /// The conditions used when a monitor configures none. HTTP: any 2xx status, which
    /// is what Uptime Kuma accepts by default. TCP, PostgreSQL and Redis: connected (the
    /// command's own success is required of every check anyway, see
    /// [`ProbeResult::error`](crate::probe::ProbeResult::error)).
    pub fn default_conditions(&self) -> Vec<Condition> {
        let texts: &[&str] = match self {
            ProbeSpec::Http { .. } => &["[STATUS] >= 200", "[STATUS] < 300"],
            ProbeSpec::Tcp { .. } | ProbeSpec::Postgres { .. } | ProbeSpec::Redis { .. } => {
                &["[CONNECTED] == true"]
            }
        };
        // These constants parse (a unit test holds them to it); nothing here is input.
        texts
            .iter()
            .filter_map(|text| Condition::parse(text).ok())
            .collect()
    }
}

/// A URL for logs and `Debug`: scheme, host, port and path, without user, password,
/// query or fragment (queries carry API keys often enough).
pub fn redacted_url(url: &reqwest::Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    if url.query().is_some() {
        shown.push_str("?…");
    }
    shown
}

/// A connection URL (postgres://, redis://) for logs: scheme and host only when it
/// parses, otherwise nothing at all.
pub fn redacted_connection_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let mut shown = format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or(""));
            if let Some(port) = parsed.port() {
                shown.push_str(&format!(":{port}"));
            }
            shown
        }
        Err(_) => "(unparsable URL)".into(),
    }
}

impl fmt::Debug for ProbeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeSpec::Http {
                url,
                method,
                headers,
                body,
                follow_redirects,
            } => f
                .debug_struct("Http")
                .field("url", &redacted_url(url))
                .field("method", method)
                .field(
                    "headers",
                    &headers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
                )
                .field("body_len", &body.as_ref().map(Bytes::len))
                .field("follow_redirects", follow_redirects)
                .finish(),
            ProbeSpec::Tcp { address } => f.debug_struct("Tcp").field("address", address).finish(),
            ProbeSpec::Postgres { url } => f
                .debug_struct("Postgres")
                .field("url", &redacted_connection_url(url))
                .finish(),
            ProbeSpec::Redis { url } => f
                .debug_struct("Redis")
                .field("url", &redacted_connection_url(url))
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_conditions_parse() {
        let http = ProbeSpec::http_get("http://example.test/".parse().unwrap());
        assert_eq!(http.default_conditions().len(), 2);
        let tcp = ProbeSpec::Tcp {
            address: "127.0.0.1:1".into(),
        };
        assert_eq!(tcp.default_conditions().len(), 1);
    }

    #[test]
    fn spec_defaults_follow_the_brief() {
        let spec = MonitorSpec::new(
            "api",
            ProbeSpec::Tcp {
                address: "a:1".into(),
            },
        );
        assert_eq!(spec.interval, Duration::from_secs(10));
        assert_eq!(spec.failures_before_down, 3);
        assert_eq!(spec.successes_before_up, 2);
        assert_eq!(spec.effective_conditions().len(), 1);
    }

    #[test]
    fn debug_never_shows_credentials() {
        let probes = [
            ProbeSpec::Postgres {
                url: "postgres://app:hunter2@db.internal:5432/app".into(),
            },
            ProbeSpec::Redis {
                url: "redis://:hunter2@cache:6379/0".into(),
            },
            ProbeSpec::Http {
                url: "https://user:hunter2@api.test/health?token=hunter2"
                    .parse()
                    .unwrap(),
                method: http::Method::GET,
                headers: vec![("Authorization".into(), "Bearer hunter2".into())],
                body: Some(Bytes::from_static(b"hunter2")),
                follow_redirects: false,
            },
            ProbeSpec::Postgres {
                url: "not a url hunter2".into(),
            },
        ];
        for probe in probes {
            let shown = format!("{probe:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        let http = ProbeSpec::http_get("https://u:p@api.test:8443/health?k=v".parse().unwrap());
        assert!(format!("{http:?}").contains("https://api.test:8443/health?…"));
    }
}
