//! Rate limits: `[rate_limit]` picks the backend every instance shares (memory, or Redis
//! so that N instances enforce one limit, not N), and each route lists its limits in
//! `[[routes.limits]]`.

use std::time::Duration;

use serde::Deserialize;

use crate::duration::{ConfigDuration, parse_duration};
use crate::problems::Problems;
use crate::secret::{Secret, SecretKind, SecretRef};

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    #[default]
    Memory,
    Redis,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(default)]
    pub backend: BackendKind,
    /// `redis://…`; may hold a password, so it is a secret reference.
    pub redis_url: Option<SecretRef>,
    /// How many bulwark instances share the limits: with `on_backend_error = "local"`, an
    /// instance that cannot reach Redis allows `limit / instances` on its own.
    #[serde(default = "default_instances")]
    pub instances: u32,
    /// The longest a Redis decision may take before it counts as a backend error.
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            backend: BackendKind::Memory,
            redis_url: None,
            instances: default_instances(),
            timeout: default_timeout(),
        }
    }
}

fn default_instances() -> u32 {
    1
}
fn default_timeout() -> ConfigDuration {
    ConfigDuration::from_millis(250)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RateLimitBackend {
    Memory,
    Redis { url: Secret },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub backend: RateLimitBackend,
    pub instances: u32,
    pub timeout: Duration,
}

impl RateLimitConfig {
    pub(crate) fn validate(
        &self,
        secrets: &mut crate::config::SecretResolver<'_>,
        problems: &mut Problems,
    ) -> RateLimit {
        let backend = match (self.backend, &self.redis_url) {
            (BackendKind::Memory, None) => RateLimitBackend::Memory,
            (BackendKind::Memory, Some(_)) => {
                problems.error("rate_limit.redis_url", "only with backend = \"redis\"");
                RateLimitBackend::Memory
            }
            (BackendKind::Redis, None) => {
                problems.error(
                    "rate_limit.redis_url",
                    "backend = \"redis\" needs redis_url = \"${REDIS_URL}\"",
                );
                RateLimitBackend::Memory
            }
            (BackendKind::Redis, Some(url)) => RateLimitBackend::Redis {
                url: secrets.resolve(url, SecretKind::Issued, "rate_limit.redis_url", problems),
            },
        };
        if self.instances == 0 {
            problems.error("rate_limit.instances", "at least 1");
        }
        if self.timeout.get().is_zero() {
            problems.error("rate_limit.timeout", "must be greater than zero");
        }
        RateLimit {
            backend,
            instances: self.instances.max(1),
            timeout: self.timeout.get(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnBackendError {
    /// Decide locally with `limit / instances` (keeps the API up when Redis is down).
    #[default]
    Local,
    /// Refuse with 503 (the safe choice for login and other brute-force targets).
    Deny,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteLimitConfig {
    /// Policy name, shown in `RateLimit-Policy` and the violations metric.
    pub name: String,
    /// What is counted: `ip`, `route`, `user` (the token's `sub`), `api_key`, or
    /// `header:<name>`.
    pub key: String,
    /// `5/min`, `100/h`, `10/s`, `1000/d`, or a count over any duration: `20/30s`.
    pub rate: String,
    /// Requests that may come at once; default: the rate's count.
    pub burst: Option<u32>,
    /// Per-plan rates chosen by the caller's plan (`user` and `api_key` keys), e.g.
    /// `{ free = "100/h", pro = "10000/h" }`; a plan not listed gets `rate`.
    #[serde(default)]
    pub plans: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub on_backend_error: OnBackendError,
    /// Count and report, never refuse.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitKey {
    Ip,
    Route,
    User,
    ApiKey,
    Header(String),
}

impl LimitKey {
    /// Keys known before authentication run first, so a flood of bad tokens is refused
    /// before any signature work.
    pub fn before_auth(&self) -> bool {
        matches!(self, LimitKey::Ip | LimitKey::Route | LimitKey::Header(_))
    }

    /// The label of `rate_limit_violations_total{key}`.
    pub fn label(&self) -> &'static str {
        match self {
            LimitKey::Ip => "ip",
            LimitKey::Route => "route",
            LimitKey::User => "user",
            LimitKey::ApiKey => "api_key",
            LimitKey::Header(_) => "header",
        }
    }
}

/// `count` requests per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteLimit {
    pub name: String,
    pub key: LimitKey,
    pub rate: Rate,
    pub burst: Option<u32>,
    pub plans: Vec<(String, Rate)>,
    pub on_backend_error: OnBackendError,
    pub dry_run: bool,
}

/// Parses `5/min`, `100/h`, `20/30s`.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let (count, per) = text
        .split_once('/')
        .ok_or_else(|| "a rate such as \"5/min\", \"100/h\" or \"20/30s\"".to_string())?;
    let count: u32 = count
        .trim()
        .parse()
        .ok()
        .filter(|c| *c > 0)
        .ok_or_else(|| "the count before '/' must be a whole number above 0".to_string())?;
    let per = per.trim();
    let period = match per {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        "d" | "day" => Duration::from_secs(86_400),
        other => parse_duration(other).map_err(|e| format!("the period after '/': {e}"))?,
    };
    if period.is_zero() {
        return Err("the period must be greater than zero".into());
    }
    Ok(Rate { count, period })
}

impl RouteLimitConfig {
    pub(crate) fn validate(
        &self,
        path: &str,
        has_auth: bool,
        problems: &mut Problems,
    ) -> RouteLimit {
        crate::names::check_name(&self.name, &format!("{path}.name"), problems);
        let key = match self.key.as_str() {
            "ip" => LimitKey::Ip,
            "route" => LimitKey::Route,
            "user" => LimitKey::User,
            "api_key" => LimitKey::ApiKey,
            other => match other.strip_prefix("header:") {
                Some(name) if http::HeaderName::from_bytes(name.as_bytes()).is_ok() => {
                    LimitKey::Header(name.to_ascii_lowercase())
                }
                _ => {
                    problems.error(
                        format!("{path}.key"),
                        "one of \"ip\", \"route\", \"user\", \"api_key\", \"header:<name>\"",
                    );
                    LimitKey::Ip
                }
            },
        };
        if !key.before_auth() && !has_auth {
            problems.error(
                format!("{path}.key"),
                "a per-user or per-key limit needs the route's `auth`",
            );
        }
        let rate = parse_rate(&self.rate).unwrap_or_else(|e| {
            problems.error(format!("{path}.rate"), e);
            Rate {
                count: 1,
                period: Duration::from_secs(1),
            }
        });
        if self.burst == Some(0) {
            problems.error(format!("{path}.burst"), "at least 1");
        }
        if !self.plans.is_empty() && key.before_auth() {
            problems.error(
                format!("{path}.plans"),
                "per-plan rates need key = \"user\" or \"api_key\"",
            );
        }
        let plans = self
            .plans
            .iter()
            .map(|(plan, text)| {
                let rate = parse_rate(text).unwrap_or_else(|e| {
                    problems.error(format!("{path}.plans.{plan}"), e);
                    rate
                });
                (plan.clone(), rate)
            })
            .collect();
        RouteLimit {
            name: self.name.clone(),
            key,
            rate,
            burst: self.burst,
            plans,
            on_backend_error: self.on_backend_error,
            dry_run: self.dry_run,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_like_people_write_them() {
        let r = |t| parse_rate(t).unwrap();
        assert_eq!(
            r("5/min"),
            Rate {
                count: 5,
                period: Duration::from_secs(60)
            }
        );
        assert_eq!(
            r("100/h"),
            Rate {
                count: 100,
                period: Duration::from_secs(3600)
            }
        );
        assert_eq!(
            r("10 / s"),
            Rate {
                count: 10,
                period: Duration::from_secs(1)
            }
        );
        assert_eq!(r("1000/day").period, Duration::from_secs(86_400));
        assert_eq!(
            r("20/30s"),
            Rate {
                count: 20,
                period: Duration::from_secs(30)
            }
        );
        assert_eq!(r("3/500ms").period, Duration::from_millis(500));
        for bad in ["", "5", "0/min", "-1/min", "5/fortnight", "5/0s", "x/min"] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
    }
}
