//! Uptime monitors (`[[monitors]]`): HTTP, TCP, PostgreSQL and Redis, each on its own
//! interval with down/up thresholds and Gatus-style conditions.
//!
//! Conditions are kept as text here and parsed by the binary through the `extra` check
//! of [`load_file_checked`](crate::load_file_checked), so that a bad condition is reported
//! with file, line and key like any other problem while this crate stays the floor.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::duration::ConfigDuration;
use crate::problems::Problems;
use crate::secret::{Secret, SecretKind, SecretRef};
use crate::upstreams::Upstream;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MonitorKindConfig {
    Http,
    Tcp,
    Postgres,
    Redis,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Defaults to the upstream's name for `upstream = "..."` monitors.
    pub name: Option<String>,
    /// Defaults to `http` (also for `upstream` monitors).
    pub kind: Option<MonitorKindConfig>,
    /// http: the whole URL (may carry credentials, so it may be a secret reference too;
    /// a plain string is fine for public URLs).
    pub url: Option<SecretRef>,
    /// http: monitor one of bulwark's own upstreams (its first target) at `path`.
    pub upstream: Option<String>,
    /// http with `upstream`: the path to request.
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    /// Values are literals, or secrets (`"${ENV}"`, `{ file = ... }`) for credentials;
    /// `Authorization` and other credential-looking headers must be secrets.
    pub headers: BTreeMap<String, SecretRef>,
    pub body: Option<String>,
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// tcp: `host:port`.
    pub address: Option<String>,
    #[serde(default = "default_interval")]
    pub interval: ConfigDuration,
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    #[serde(default = "default_failures")]
    pub failures_before_down: u32,
    #[serde(default = "default_successes")]
    pub successes_before_up: u32,
    /// Gatus syntax; empty means the kind's default (2xx for http, connected otherwise).
    #[serde(default)]
    pub conditions: Vec<String>,
    /// Shown on the public status page.
    #[serde(default)]
    pub public: bool,
    /// The component group on the status page.
    pub group: Option<String>,
    /// The name shown on the status page (defaults to `name`).
    pub display_name: Option<String>,
    /// Severity of this monitor's `monitor_down` alert; the rule's (critical) by default.
    pub severity: Option<String>,
}

/// A URL is a secret reference (`"${ENV}"`, `{ file = ... }`) or, for public URLs, the
/// URL itself: a string that is not `${...}` is taken literally.
enum UrlRef<'a> {
    Secret(&'a SecretRef),
    Plain(&'a str),
}

fn url_ref(url: &SecretRef) -> UrlRef<'_> {
    match url {
        SecretRef::Env(text) if !(text.starts_with("${") && text.ends_with('}')) => {
            UrlRef::Plain(text)
        }
        other => UrlRef::Secret(other),
    }
}

fn default_path() -> String {
    "/".into()
}
fn default_method() -> String {
    "GET".into()
}
fn default_true() -> bool {
    true
}
fn default_interval() -> ConfigDuration {
    ConfigDuration::from_secs(10)
}
fn default_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(5)
}
fn default_failures() -> u32 {
    3
}
fn default_successes() -> u32 {
    2
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MonitorKind {
    Http {
        /// May carry credentials: a secret.
        url: Secret,
        method: String,
        /// Values may be credentials: secrets.
        headers: Vec<(String, Secret)>,
        body: Option<String>,
        follow_redirects: bool,
    },
    Tcp {
        address: String,
    },
    Postgres {
        url: Secret,
    },
    Redis {
        url: Secret,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Monitor {
    pub name: String,
    pub kind: MonitorKind,
    pub interval: Duration,
    pub timeout: Duration,
    pub failures_before_down: u32,
    pub successes_before_up: u32,
    pub conditions: Vec<String>,
    pub public: bool,
    pub group: String,
    pub display_name: String,
    pub severity: Option<String>,
}

/// Headers whose values are credentials whatever their content.
fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authorization"
        || name == "cookie"
        || name == "proxy-authorization"
        || ["token", "key", "secret", "password"]
            .iter()
            .any(|part| name.contains(part))
}

pub(crate) const SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "info"];

impl MonitorConfig {
    pub(crate) fn validate(
        &self,
        path: &str,
        upstreams: &[Upstream],
        secrets: &mut crate::config::SecretResolver<'_>,
        problems: &mut Problems,
    ) -> Monitor {
        let name = match (&self.name, &self.upstream) {
            (Some(name), _) => name.clone(),
            (None, Some(upstream)) => upstream.clone(),
            (None, None) => {
                problems.error(format!("{path}.name"), "a monitor needs a name");
                String::new()
            }
        };
        crate::names::check_name(&name, &format!("{path}.name"), problems);
        if self.interval.get() < Duration::from_millis(10) || self.timeout.get().is_zero() {
            problems.error(
                format!("{path}.interval"),
                "interval must be at least 10ms and timeout greater than zero",
            );
        }
        if self.failures_before_down == 0 || self.successes_before_up == 0 {
            problems.error(
                format!("{path}.failures_before_down"),
                "thresholds must be at least 1",
            );
        }
        if let Some(severity) = &self.severity
            && !SEVERITIES.contains(&severity.as_str())
        {
            problems.error(
                format!("{path}.severity"),
                "expected critical, high, medium, low or info",
            );
        }
        let kind = self.kind.unwrap_or(MonitorKindConfig::Http);
        let mut secret_url = |kind: &str| match self.url.as_ref().map(url_ref) {
            Some(UrlRef::Secret(r)) => {
                secrets.resolve(r, SecretKind::Issued, &format!("{path}.url"), problems)
            }
            Some(UrlRef::Plain(_)) => {
                problems.error(
                    format!("{path}.url"),
                    format!(
                        "a {kind} URL holds a password: give it as \"${{ENV_VAR}}\" or {{ file = \"path\" }}"
                    ),
                );
                Secret::new("")
            }
            None => {
                problems.error(
                    format!("{path}.url"),
                    format!("a {kind} monitor needs a url"),
                );
                Secret::new("")
            }
        };
        let kind = match kind {
            MonitorKindConfig::Http => {
                let url = match (self.url.as_ref().map(url_ref), &self.upstream) {
                    (Some(_), Some(_)) => {
                        problems.error(
                            format!("{path}.upstream"),
                            "give either url or upstream, not both",
                        );
                        Secret::new("")
                    }
                    (Some(UrlRef::Plain(url)), None) => Secret::new(url),
                    (Some(UrlRef::Secret(r)), None) => {
                        secrets.resolve(r, SecretKind::Issued, &format!("{path}.url"), problems)
                    }
                    (None, Some(upstream)) => {
                        match upstreams.iter().find(|u| &u.name == upstream) {
                            Some(u) => match u.targets.first() {
                                Some(target) => Secret::new(format!("{target}{}", self.path)),
                                None => Secret::new(""),
                            },
                            None => {
                                problems.error(
                                    format!("{path}.upstream"),
                                    format!("no upstream named {upstream:?}"),
                                );
                                Secret::new("")
                            }
                        }
                    }
                    (None, None) => {
                        problems.error(
                            format!("{path}.url"),
                            "an http monitor needs a url or an upstream",
                        );
                        Secret::new("")
                    }
                };
                let text = url.expose();
                let is_http = text.starts_with("http://") || text.starts_with("https://");
                if !text.is_empty() && !is_http {
                    problems.error(format!("{path}.url"), "must be an http:// or https:// URL");
                }
                if !self.path.starts_with('/') {
                    problems.error(format!("{path}.path"), "must start with '/'");
                }
                if http::Method::from_bytes(self.method.as_bytes()).is_err() {
                    problems.error(format!("{path}.method"), "not an HTTP method");
                }
                let mut headers = Vec::new();
                for (name, value) in &self.headers {
                    let key = format!("{path}.headers.{name}");
                    let value = match url_ref(value) {
                        UrlRef::Plain(text) => {
                            if is_credential_header(name) {
                                problems.error(
                                    &key,
                                    "holds a credential: give it as \"${ENV_VAR}\" or { file = \"path\" }",
                                );
                            }
                            Secret::new(text)
                        }
                        UrlRef::Secret(reference) => {
                            secrets.resolve(reference, SecretKind::Issued, &key, problems)
                        }
                    };
                    if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                        || http::HeaderValue::from_str(value.expose()).is_err()
                    {
                        problems.error(&key, "not a valid HTTP header");
                    }
                    headers.push((name.clone(), value));
                }
                MonitorKind::Http {
                    url,
                    method: self.method.to_ascii_uppercase(),
                    headers,
                    body: self.body.clone(),
                    follow_redirects: self.follow_redirects,
                }
            }
            MonitorKindConfig::Tcp => {
                let address = self.address.clone().unwrap_or_default();
                if address
                    .rsplit_once(':')
                    .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
                {
                    problems.error(
                        format!("{path}.address"),
                        "a tcp monitor needs address = \"host:port\"",
                    );
                }
                MonitorKind::Tcp { address }
            }
            MonitorKindConfig::Postgres => MonitorKind::Postgres {
                url: secret_url("postgres"),
            },
            MonitorKindConfig::Redis => MonitorKind::Redis {
                url: secret_url("redis"),
            },
        };
        Monitor {
            display_name: self.display_name.clone().unwrap_or_else(|| name.clone()),
            group: self.group.clone().unwrap_or_else(|| "Services".into()),
            name,
            kind,
            interval: self.interval.get(),
            timeout: self.timeout.get(),
            failures_before_down: self.failures_before_down,
            successes_before_up: self.successes_before_up,
            conditions: self.conditions.clone(),
            public: self.public,
            severity: self.severity.clone(),
        }
    }
}
