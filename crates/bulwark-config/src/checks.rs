//! Dependency checks behind `/health` and `/health/ready`: an upstream's HTTP endpoint,
//! PostgreSQL (`SELECT 1`), Redis (PING plus a probe key written and read back) and TCP.
//!
//! Dependencies are not critical by default: when the app or Redis is down bulwark must
//! stay ready, so that it keeps accepting (and later buffering) traffic.

use std::time::Duration;

use serde::Deserialize;

use crate::duration::ConfigDuration;
use crate::problems::Problems;
use crate::secret::{Secret, SecretKind, SecretRef};

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckKindConfig {
    Http,
    Tcp,
    Postgres,
    Redis,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    pub name: String,
    pub kind: CheckKindConfig,
    /// http: probe every target of this upstream at `path`.
    pub upstream: Option<String>,
    /// http: path on the upstream's targets.
    #[serde(default = "default_path")]
    pub path: String,
    /// http: the status that means healthy.
    #[serde(default = "default_status")]
    pub expect_status: u16,
    /// tcp: `host:port`.
    pub address: Option<String>,
    /// postgres, redis: connection URL, a secret (it usually holds a password).
    pub url: Option<SecretRef>,
    #[serde(default = "default_interval")]
    pub interval: ConfigDuration,
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    #[serde(default)]
    pub critical: bool,
    /// Consecutive failures before the check counts as failing.
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    /// Consecutive successes before a failing check counts as passing again.
    #[serde(default = "default_success_threshold")]
    pub success_threshold: u32,
}

fn default_failure_threshold() -> u32 {
    3
}
fn default_success_threshold() -> u32 {
    1
}

fn default_path() -> String {
    "/".into()
}
fn default_status() -> u16 {
    200
}
fn default_interval() -> ConfigDuration {
    ConfigDuration::from_secs(10)
}
fn default_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(2)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// Healthy when at least one target answers `expect_status`.
    Http {
        upstream: String,
        path: String,
        expect_status: u16,
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
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
    pub interval: Duration,
    pub timeout: Duration,
    pub critical: bool,
    pub failure_threshold: u32,
    pub success_threshold: u32,
}

/// Query parameters the PostgreSQL client (sqlx) understands. Anything else it would
/// log together with its value on every probe, which could print a secret such as
/// `sslpassword`; such URLs are refused when the config is loaded.
pub const POSTGRES_PARAMS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

fn postgres_params_supported(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return true;
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .all(|pair| POSTGRES_PARAMS.contains(&pair.split_once('=').map_or(pair, |(k, _)| k)))
}

/// The built-in check on the message store, present when webhooks are configured.
pub const STORE_CHECK: &str = "store";

/// Names of the checks bulwark always runs on itself.
pub const BUILTIN_CHECKS: &[&str] = &["listeners", "config"];

impl CheckConfig {
    pub(crate) fn validate(
        &self,
        path: &str,
        upstream_names: &[&str],
        secrets: &mut crate::config::SecretResolver<'_>,
        problems: &mut Problems,
    ) -> Check {
        crate::names::check_name(&self.name, &format!("{path}.name"), problems);
        if BUILTIN_CHECKS.contains(&self.name.as_str()) || self.name == STORE_CHECK {
            problems.error(
                format!("{path}.name"),
                "this name is reserved for a built-in check",
            );
        }
        if self.interval.get().is_zero() || self.timeout.get().is_zero() {
            problems.error(
                format!("{path}.interval"),
                "interval and timeout must be greater than zero",
            );
        }
        if self.failure_threshold == 0 || self.success_threshold == 0 {
            problems.error(
                format!("{path}.failure_threshold"),
                "thresholds must be at least 1",
            );
        }
        let mut url = |kind: &str| match &self.url {
            Some(r) => secrets.resolve(r, SecretKind::Issued, &format!("{path}.url"), problems),
            None => {
                problems.error(format!("{path}.url"), format!("a {kind} check needs a url"));
                Secret::new("")
            }
        };
        let kind = match self.kind {
            CheckKindConfig::Http => {
                let upstream = self.upstream.clone().unwrap_or_default();
                if !upstream_names.contains(&upstream.as_str()) {
                    problems.error(
                        format!("{path}.upstream"),
                        format!("an http check needs the name of an upstream; no upstream named {upstream:?}"),
                    );
                }
                if !self.path.starts_with('/') {
                    problems.error(format!("{path}.path"), "must start with '/'");
                }
                if !(100..=599).contains(&self.expect_status) {
                    problems.error(format!("{path}.expect_status"), "not an HTTP status");
                }
                CheckKind::Http {
                    upstream,
                    path: self.path.clone(),
                    expect_status: self.expect_status,
                }
            }
            CheckKindConfig::Tcp => {
                let address = self.address.clone().unwrap_or_default();
                if address
                    .rsplit_once(':')
                    .is_none_or(|(_, p)| p.parse::<u16>().is_err())
                {
                    problems.error(format!("{path}.address"), "expected host:port");
                }
                CheckKind::Tcp { address }
            }
            CheckKindConfig::Postgres => {
                let url = url("postgres");
                if !postgres_params_supported(url.expose()) {
                    // Not naming the parameter: in a mangled URL a secret may sit where
                    // a name should be.
                    problems.error(
                        format!("{path}.url"),
                        format!(
                            "the URL has a query parameter the PostgreSQL client does not understand; supported: {}",
                            POSTGRES_PARAMS.join(", ")
                        ),
                    );
                }
                CheckKind::Postgres { url }
            }
            CheckKindConfig::Redis => CheckKind::Redis { url: url("redis") },
        };
        Check {
            name: self.name.clone(),
            kind,
            interval: self.interval.get(),
            timeout: self.timeout.get(),
            critical: self.critical,
            failure_threshold: self.failure_threshold,
            success_threshold: self.success_threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_postgres_parameters_pass() {
        assert!(postgres_params_supported("postgres://u:p@h/db"));
        assert!(postgres_params_supported(
            "postgres://u:p@h/db?sslmode=require&application_name=x"
        ));
        assert!(!postgres_params_supported(
            "postgres://h/db?sslpassword=hunter2"
        ));
        assert!(!postgres_params_supported(
            "postgres://h/db?connect_timeout=5"
        ));
    }
}
