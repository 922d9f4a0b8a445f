//! Where bulwark listens, the timeouts at its edge, and which proxies may tell it who the
//! client is.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::duration::ConfigDuration;
use crate::problems::Problems;
use crate::tls::{ServerCertificate, TlsConfig};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    #[serde(default = "default_public")]
    pub public: String,
    /// Health, metrics and (later) the admin API. Loopback by default: failure reasons
    /// are shown here and must not reach the internet.
    #[serde(default = "default_ops")]
    pub ops: String,
    /// A plain-HTTP listener that answers every request with 308 to the same path and
    /// query on `https://` (the public listener's port). Needs `[listen.tls]`.
    #[serde(default)]
    pub redirect_http: Option<String>,
    /// Certificate and key: the public listener speaks HTTPS only when this is present.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            public: default_public(),
            ops: default_ops(),
            redirect_http: None,
            tls: None,
        }
    }
}

fn default_public() -> String {
    "0.0.0.0:8080".into()
}

fn default_ops() -> String {
    "127.0.0.1:9090".into()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    pub public: SocketAddr,
    pub ops: SocketAddr,
    pub redirect_http: Option<SocketAddr>,
    /// Present when the public listener terminates TLS.
    pub tls: Option<ServerCertificate>,
}

impl Listen {
    /// The addresses alone: what a reload cannot change (the certificate it can).
    pub fn addresses(&self) -> (SocketAddr, SocketAddr, Option<SocketAddr>) {
        (self.public, self.ops, self.redirect_http)
    }
}

impl ListenConfig {
    /// `base_dir` is the config file's folder, against which TLS file paths resolve.
    pub(crate) fn validate(&self, base_dir: &Path, problems: &mut Problems) -> Option<Listen> {
        let public = parse_addr(&self.public, "listen.public", problems);
        let ops = parse_addr(&self.ops, "listen.ops", problems);
        let redirect_http = match &self.redirect_http {
            Some(text) => Some(parse_addr(text, "listen.redirect_http", problems)?),
            None => None,
        };
        if redirect_http.is_some() && self.tls.is_none() {
            problems.error(
                "listen.redirect_http",
                "redirects to https need [listen.tls] (cert_file and key_file) on the public listener",
            );
        }
        let tls = match &self.tls {
            Some(tls) => Some(tls.validate("listen.tls", base_dir, problems)?),
            None => None,
        };
        Some(Listen {
            public: public?,
            ops: ops?,
            redirect_http,
            tls,
        })
    }
}

pub(crate) fn parse_addr(text: &str, path: &str, problems: &mut Problems) -> Option<SocketAddr> {
    match text.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            problems.error(path, "expected an address such as \"127.0.0.1:8080\"");
            None
        }
    }
}

/// Timeouts on client connections. hyper sets none of these by itself, and each one
/// closes a way to hold a connection open for free.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsConfig {
    /// From the first byte of a request to the end of its head (slowloris); 408 after.
    #[serde(default = "default_request_head")]
    pub request_head: ConfigDuration,
    /// From accept to a finished TLS handshake (TLS listeners only); the connection is
    /// closed and counted after it. The request head and preface deadlines start once
    /// the handshake is done.
    #[serde(default = "default_tls_handshake")]
    pub tls_handshake: ConfigDuration,
    /// From accept to a complete HTTP/2 connection preface.
    #[serde(default = "default_http2_preface")]
    pub http2_preface: ConfigDuration,
    /// A connection with no bytes moving either way for this long is closed gracefully;
    /// also how long a keep-alive connection waits for its next request.
    #[serde(default = "default_idle")]
    pub idle: ConfigDuration,
    /// How long SIGTERM waits for in-flight requests before closing them.
    #[serde(default = "default_shutdown")]
    pub shutdown: ConfigDuration,
}

impl Default for TimeoutsConfig {
    fn default() -> Self {
        Self {
            request_head: default_request_head(),
            tls_handshake: default_tls_handshake(),
            http2_preface: default_http2_preface(),
            idle: default_idle(),
            shutdown: default_shutdown(),
        }
    }
}

fn default_request_head() -> ConfigDuration {
    ConfigDuration::from_secs(10)
}
fn default_tls_handshake() -> ConfigDuration {
    ConfigDuration::from_secs(10)
}
fn default_http2_preface() -> ConfigDuration {
    ConfigDuration::from_secs(10)
}
/// Above the 60 s idle timeout of common load balancers (AWS ALB), as nginx's 75 s:
/// the side in front must give up on an idle connection first, or it sends a request
/// into a connection bulwark is closing.
fn default_idle() -> ConfigDuration {
    ConfigDuration::from_secs(75)
}
fn default_shutdown() -> ConfigDuration {
    ConfigDuration::from_secs(30)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeTimeouts {
    pub request_head: Duration,
    pub tls_handshake: Duration,
    pub http2_preface: Duration,
    pub idle: Duration,
    pub shutdown: Duration,
}

impl TimeoutsConfig {
    pub(crate) fn validate(&self, problems: &mut Problems) -> EdgeTimeouts {
        for (key, value) in [
            ("request_head", self.request_head),
            ("tls_handshake", self.tls_handshake),
            ("http2_preface", self.http2_preface),
            ("idle", self.idle),
        ] {
            if value.get().is_zero() {
                problems.error(format!("timeouts.{key}"), "must be greater than zero");
            }
        }
        EdgeTimeouts {
            request_head: self.request_head.get(),
            tls_handshake: self.tls_handshake.get(),
            http2_preface: self.http2_preface.get(),
            idle: self.idle.get(),
            shutdown: self.shutdown.get(),
        }
    }
}

/// Which peers may set `X-Forwarded-*`; from anyone else those headers are replaced.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Largest request head accepted (request line plus headers); 431 above it.
    #[serde(default = "default_max_head")]
    pub max_request_head_bytes: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            max_request_head_bytes: default_max_head(),
        }
    }
}

fn default_max_head() -> usize {
    32 * 1024
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    pub trusted_proxies: Vec<IpNet>,
    pub max_request_head_bytes: usize,
}

impl ProxyConfig {
    pub(crate) fn validate(&self, problems: &mut Problems) -> Proxy {
        let mut trusted = Vec::new();
        for (i, text) in self.trusted_proxies.iter().enumerate() {
            let parsed = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from));
            match parsed {
                Ok(net) => trusted.push(net),
                Err(_) => problems.error(
                    format!("proxy.trusted_proxies[{i}]"),
                    "expected an IP address or CIDR such as \"10.0.0.0/8\"",
                ),
            }
        }
        if !(1024..=1024 * 1024).contains(&self.max_request_head_bytes) {
            problems.error(
                "proxy.max_request_head_bytes",
                "must be between 1024 and 1048576",
            );
        }
        Proxy {
            trusted_proxies: trusted,
            max_request_head_bytes: self.max_request_head_bytes,
        }
    }
}
