//! The whole file: raw model -> `validate()` -> [`ValidatedConfig`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::admin::{AdminConfig, AdminToken};
use crate::alerts::{Alerts, AlertsConfig};
use crate::auth::{Auth, AuthConfig};
use crate::checks::{Check, CheckConfig};
use crate::limits::{RateLimit, RateLimitConfig};
use crate::listen::{EdgeTimeouts, Listen, ListenConfig, Proxy, ProxyConfig, TimeoutsConfig};
use crate::monitors::{Monitor, MonitorConfig};
use crate::notifiers::{Notifier, NotifierConfig};
use crate::problems::Problems;
use crate::routes::{Route, RouteConfig};
use crate::secret::{self, Secret, SecretKind, SecretRef};
use crate::status_page::{Maintenance, MaintenanceConfig, StatusPage, StatusPageConfig};
use crate::store::{Store, StoreConfig};
use crate::telemetry::{AuditConfig, LogConfig};
use crate::upstreams::{Upstream, UpstreamConfig};
use crate::webhooks::{SigningConfig, Webhook, WebhookConfig};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulwarkConfig {
    /// Where bulwark keeps its files (audit log now; the message store later).
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    /// Runtime worker threads; 0 means one per CPU.
    #[serde(default)]
    pub workers: usize,
    #[serde(default)]
    pub listen: ListenConfig,
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
    #[serde(default)]
    pub proxy: ProxyConfig,
    #[serde(default)]
    pub upstreams: Vec<UpstreamConfig>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub checks: Vec<CheckConfig>,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub demo: Option<DemoConfig>,
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    pub signing: Option<SigningConfig>,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    #[serde(default)]
    pub monitors: Vec<MonitorConfig>,
    #[serde(default)]
    pub notifiers: Vec<NotifierConfig>,
    #[serde(default)]
    pub alerts: AlertsConfig,
    #[serde(default)]
    pub status_page: StatusPageConfig,
    #[serde(default)]
    pub maintenance: Vec<MaintenanceConfig>,
}

fn default_data_dir() -> String {
    "./data".into()
}

/// A tiny built-in upstream that echoes what it received, so the quick start needs no app.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    pub listen: String,
}

/// A config that passed every check. Runtime code takes only this.
#[derive(Clone, Debug)]
pub struct ValidatedConfig {
    pub data_dir: PathBuf,
    pub workers: usize,
    pub listen: Listen,
    pub timeouts: EdgeTimeouts,
    pub proxy: Proxy,
    pub upstreams: Vec<Upstream>,
    pub routes: Vec<Route>,
    pub checks: Vec<Check>,
    pub admin_tokens: Vec<AdminToken>,
    pub log: LogConfig,
    pub audit_path: Option<PathBuf>,
    pub demo_listen: Option<SocketAddr>,
    pub webhooks: Vec<Webhook>,
    pub store: Store,
    pub auth: Auth,
    pub rate_limit: RateLimit,
    /// bulwark's key for signing deliveries; present whenever webhooks are configured.
    pub signing_key: Option<Secret>,
    pub monitors: Vec<Monitor>,
    pub notifiers: Vec<Notifier>,
    pub alerts: Alerts,
    pub status_page: StatusPage,
    pub maintenance: Vec<Maintenance>,
}

impl ValidatedConfig {
    /// Every secret value in the config, so tests and log scrubbing can look for them.
    pub fn secrets(&self) -> Vec<&Secret> {
        let mut out: Vec<&Secret> = self.admin_tokens.iter().map(|t| &t.token).collect();
        out.extend(self.webhooks.iter().flat_map(|w| w.secrets.iter()));
        out.extend(self.signing_key.iter());
        for issuer in &self.auth.jwt {
            if let crate::auth::JwtKey::Secret(secret) = &issuer.key {
                out.push(secret);
            }
        }
        if let crate::limits::RateLimitBackend::Redis { url } = &self.rate_limit.backend {
            out.push(url);
        }
        for monitor in &self.monitors {
            if let crate::monitors::MonitorKind::Http { headers, .. } = &monitor.kind {
                out.extend(headers.iter().map(|(_, value)| value));
            }
            match &monitor.kind {
                crate::monitors::MonitorKind::Http { url, .. }
                | crate::monitors::MonitorKind::Postgres { url }
                | crate::monitors::MonitorKind::Redis { url } => out.push(url),
                crate::monitors::MonitorKind::Tcp { .. } => {}
            }
        }
        for notifier in &self.notifiers {
            match &notifier.kind {
                crate::notifiers::NotifierKind::Webhook { url }
                | crate::notifiers::NotifierKind::Slack { url } => out.push(url),
                crate::notifiers::NotifierKind::Email { password, .. } => {
                    out.extend(password.iter())
                }
                crate::notifiers::NotifierKind::Sms { auth_token, .. } => out.push(auth_token),
            }
        }
        for check in &self.checks {
            match &check.kind {
                crate::checks::CheckKind::Postgres { url }
                | crate::checks::CheckKind::Redis { url } => out.push(url),
                _ => {}
            }
        }
        out
    }
}

/// Resolves secrets against the environment, recording problems under their key path.
pub struct SecretResolver<'a> {
    pub base_dir: &'a Path,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl SecretResolver<'_> {
    pub(crate) fn resolve(
        &mut self,
        reference: &SecretRef,
        kind: SecretKind,
        path: &str,
        problems: &mut Problems,
    ) -> Secret {
        match secret::resolve(reference, kind, self.base_dir, self.env) {
            Ok(resolved) => {
                if let Some(warning) = resolved.warning {
                    problems.warn(path, warning);
                }
                resolved.secret
            }
            Err(error) => {
                problems.error(path, error);
                Secret::new("")
            }
        }
    }
}

impl BulwarkConfig {
    /// Checks everything and collects every problem; `Err` when any is an error.
    pub fn validate(
        &self,
        secrets: &mut SecretResolver<'_>,
    ) -> (Option<ValidatedConfig>, Problems) {
        let mut problems = Problems::default();
        let listen = self.listen.validate(secrets.base_dir, &mut problems);
        let timeouts = self.timeouts.validate(&mut problems);
        let proxy = self.proxy.validate(&mut problems);

        let upstreams: Vec<Upstream> = self
            .upstreams
            .iter()
            .enumerate()
            .map(|(i, u)| u.validate(&format!("upstreams[{i}]"), secrets.base_dir, &mut problems))
            .collect();
        let upstream_names: Vec<&str> = self.upstreams.iter().map(|u| u.name.as_str()).collect();
        report_duplicates("upstreams", &upstream_names, &mut problems);

        let auth = self.auth.validate(secrets, &mut problems);
        let auth_names = auth.names();
        let rate_limit = self.rate_limit.validate(secrets, &mut problems);
        let routes: Vec<Route> = self
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                r.validate(
                    &format!("routes[{i}]"),
                    &upstream_names,
                    &auth_names,
                    &mut problems,
                )
            })
            .collect();
        let route_names: Vec<&str> = self.routes.iter().map(|r| r.name.as_str()).collect();
        report_duplicates("routes", &route_names, &mut problems);

        let checks: Vec<Check> = self
            .checks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.validate(
                    &format!("checks[{i}]"),
                    &upstream_names,
                    secrets,
                    &mut problems,
                )
            })
            .collect();
        let check_names: Vec<&str> = self.checks.iter().map(|c| c.name.as_str()).collect();
        report_duplicates("checks", &check_names, &mut problems);

        let admin_tokens = self.admin.validate(secrets, &mut problems);
        let webhooks: Vec<Webhook> = self
            .webhooks
            .iter()
            .enumerate()
            .map(|(i, w)| w.validate(&format!("webhooks[{i}]"), secrets, &mut problems))
            .collect();
        let webhook_names: Vec<&str> = self.webhooks.iter().map(|w| w.name.as_str()).collect();
        report_duplicates("webhooks", &webhook_names, &mut problems);
        let longest_dedup = webhooks.iter().map(|w| w.dedup_window).max();
        let store = self.store.validate(longest_dedup, &mut problems);
        let signing_key = match &self.signing {
            Some(signing) => Some(secrets.resolve(
                &signing.key,
                SecretKind::Owned,
                "signing.key",
                &mut problems,
            )),
            None if !self.webhooks.is_empty() => {
                problems.error(
                    "signing.key",
                    "webhooks need bulwark's signing key for deliveries: [signing] key = \"${BULWARK_SIGNING_KEY}\" holding whsec_ + base64 of 32 random bytes (`echo whsec_$(openssl rand -base64 32)`)",
                );
                None
            }
            None => None,
        };
        let monitors: Vec<Monitor> = self
            .monitors
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.validate(
                    &format!("monitors[{i}]"),
                    &upstreams,
                    secrets,
                    &mut problems,
                )
            })
            .collect();
        let monitor_names: Vec<&str> = monitors.iter().map(|m| m.name.as_str()).collect();
        report_duplicates("monitors", &monitor_names, &mut problems);
        let notifiers: Vec<Notifier> = self
            .notifiers
            .iter()
            .enumerate()
            .map(|(i, n)| n.validate(&format!("notifiers[{i}]"), secrets, &mut problems))
            .collect();
        let notifier_names: Vec<&str> = notifiers.iter().map(|n| n.name.as_str()).collect();
        report_duplicates("notifiers", &notifier_names, &mut problems);
        let alerts = self.alerts.validate(&notifier_names, &mut problems);
        let status_page = self.status_page.validate(&mut problems);
        let maintenance: Vec<Maintenance> = self
            .maintenance
            .iter()
            .enumerate()
            .map(|(i, m)| m.validate(&format!("maintenance[{i}]"), &monitor_names, &mut problems))
            .collect();
        if self.log.level.trim().is_empty() {
            problems.error("log.level", "expected a level such as \"info\"");
        }
        let demo_listen = match &self.demo {
            Some(d) => crate::listen::parse_addr(&d.listen, "demo.listen", &mut problems),
            None => None,
        };
        if self.data_dir.trim().is_empty() {
            problems.error("data_dir", "must not be empty");
        }
        let data_dir = PathBuf::from(&self.data_dir);
        let audit_path = self.audit.resolve(&data_dir);

        if self.workers > 1024 {
            problems.error("workers", "at most 1024 worker threads");
        }
        if !problems.errors.is_empty() {
            return (None, problems);
        }
        let Some(listen) = listen else {
            return (None, problems);
        };
        let config = ValidatedConfig {
            data_dir,
            workers: self.workers,
            listen,
            timeouts,
            proxy,
            upstreams,
            routes,
            checks,
            admin_tokens,
            log: self.log.clone(),
            audit_path,
            demo_listen,
            webhooks,
            store,
            auth,
            rate_limit,
            signing_key,
            monitors,
            notifiers,
            alerts,
            status_page,
            maintenance,
        };
        (Some(config), problems)
    }
}

fn report_duplicates(section: &str, names: &[&str], problems: &mut Problems) {
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            problems.error(
                format!("{section}[{i}].name"),
                format!("{name:?} is used twice"),
            );
        }
    }
}
