//! Named upstreams: one or more targets, chosen round robin, each ejected for a cool-down
//! after consecutive transport failures (passive health). `https://` targets are verified
//! against the system's roots, or against `ca_file` when one is given.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use rustls_pki_types::CertificateDer;
use serde::Deserialize;

use crate::duration::ConfigDuration;
use crate::problems::Problems;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    pub name: String,
    /// `http://host:port` or `https://host:port` each; no path.
    pub targets: Vec<String>,
    /// PEM file of the CA certificates that `https` targets must chain to, instead of the
    /// system's roots (a private CA, or a self-signed app certificate).
    /// Relative paths are relative to bulwark's working directory.
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
    /// Total time for one proxied exchange, from sending the request to the last byte of
    /// the response; 504 when no response head arrived in time.
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    /// Idle pooled connections are closed after this. Below the 5 s keep-alive of
    /// uvicorn/gunicorn so bulwark never reuses a connection the app is closing.
    #[serde(default = "default_pool_idle_timeout")]
    pub pool_idle_timeout: ConfigDuration,
    #[serde(default = "default_pool_max_idle")]
    pub pool_max_idle_per_target: usize,
    #[serde(default)]
    pub passive_health: PassiveHealthConfig,
}

fn default_connect_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(2)
}
fn default_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(30)
}
fn default_pool_idle_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(4)
}
fn default_pool_max_idle() -> usize {
    128
}

/// nginx's `max_fails` / `fail_timeout`, with the failures counted consecutively.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassiveHealthConfig {
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    #[serde(default = "default_cooldown")]
    pub cooldown: ConfigDuration,
}

impl Default for PassiveHealthConfig {
    fn default() -> Self {
        Self {
            max_failures: default_max_failures(),
            cooldown: default_cooldown(),
        }
    }
}

fn default_max_failures() -> u32 {
    3
}
fn default_cooldown() -> ConfigDuration {
    ConfigDuration::from_secs(10)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    pub authority: Authority,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

/// The CA certificates an upstream's `https` targets are verified against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamCa {
    pub file: PathBuf,
    pub certs: Vec<CertificateDer<'static>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub name: String,
    pub targets: Vec<Target>,
    /// `None`: the system's roots.
    pub ca: Option<UpstreamCa>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub pool_idle_timeout: Duration,
    pub pool_max_idle_per_target: usize,
    pub max_failures: u32,
    pub cooldown: Duration,
}

impl UpstreamConfig {
    pub(crate) fn validate(
        &self,
        path: &str,
        base_dir: &Path,
        problems: &mut Problems,
    ) -> Upstream {
        crate::names::check_name(&self.name, &format!("{path}.name"), problems);
        if self.targets.is_empty() {
            problems.error(format!("{path}.targets"), "needs at least one target");
        }
        let targets = self
            .targets
            .iter()
            .enumerate()
            .filter_map(|(i, text)| parse_target(text, &format!("{path}.targets[{i}]"), problems))
            .collect::<Vec<Target>>();
        let ca = self.ca_file.as_ref().and_then(|file| {
            let file = base_dir.join(file);
            let key = format!("{path}.ca_file");
            if !targets.iter().any(|t| t.scheme == Scheme::HTTPS) {
                problems.warn(
                    &key,
                    "only https targets use a CA file; this upstream has none",
                );
            }
            let certs = crate::tls::read_certificates(&file, &key, problems)?;
            Some(UpstreamCa { file, certs })
        });
        for (key, value) in [
            ("connect_timeout", self.connect_timeout),
            ("timeout", self.timeout),
        ] {
            if value.get().is_zero() {
                problems.error(format!("{path}.{key}"), "must be greater than zero");
            }
        }
        if self.passive_health.max_failures == 0 {
            problems.error(
                format!("{path}.passive_health.max_failures"),
                "must be at least 1",
            );
        }
        Upstream {
            name: self.name.clone(),
            targets,
            ca,
            connect_timeout: self.connect_timeout.get(),
            timeout: self.timeout.get(),
            pool_idle_timeout: self.pool_idle_timeout.get(),
            pool_max_idle_per_target: self.pool_max_idle_per_target,
            max_failures: self.passive_health.max_failures,
            cooldown: self.passive_health.cooldown.get(),
        }
    }
}

fn parse_target(text: &str, path: &str, problems: &mut Problems) -> Option<Target> {
    let Ok(uri) = text.parse::<http::Uri>() else {
        problems.error(path, "expected a URL such as \"http://127.0.0.1:8000\"");
        return None;
    };
    let scheme = match uri.scheme_str() {
        Some("http") => Scheme::HTTP,
        Some("https") => Scheme::HTTPS,
        _ => {
            problems.error(path, "expected a URL such as \"http://127.0.0.1:8000\"");
            return None;
        }
    };
    if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
        problems.error(path, "a target is scheme://host:port only, without a path");
        return None;
    }
    let authority = uri.authority()?.clone();
    if authority.as_str().contains('@') {
        problems.error(path, "credentials in target URLs are not supported");
        return None;
    }
    Some(Target { scheme, authority })
}
