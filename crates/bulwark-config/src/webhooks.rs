//! Webhooks bulwark receives for the app: where the provider posts, how its signature is
//! checked, and where bulwark delivers the stored message. Each webhook adds an inbox
//! route for `POST <path>` ahead of the configured routes.

use std::time::Duration;

use serde::Deserialize;

use crate::duration::ConfigDuration;
use crate::problems::Problems;
use crate::secret::{Secret, SecretKind, SecretRef};

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SchemeKind {
    Stripe,
    Github,
    Slack,
    Standard,
    Shopify,
    Token,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub name: String,
    /// Exact public path the provider posts to, e.g. `/webhooks/stripe`.
    pub path: String,
    pub scheme: SchemeKind,
    /// Provider-issued secrets; several during a rotation.
    pub secrets: Vec<SecretRef>,
    /// token: the header carrying the token (default `Authorization`).
    pub header: Option<String>,
    /// token: a prefix before the token, e.g. `Bearer ` (none by default).
    pub prefix: Option<String>,
    /// Where bulwark POSTs each stored webhook (the app).
    pub destination: String,
    /// Stored provider headers forwarded to the app besides `content-type`, e.g.
    /// `["x-github-event"]`. Signature headers are never forwarded.
    #[serde(default)]
    pub forward_headers: Vec<String>,
    /// Other 4xx answers from the app dead-letter at once instead of being retried.
    #[serde(default)]
    pub dead_on_4xx: bool,
    /// 413 above this, checked before the body is read.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// A redelivery of the same provider event id within this window is answered 2xx
    /// and not delivered again.
    #[serde(default = "default_dedup_window")]
    pub dedup_window: ConfigDuration,
    #[serde(default = "default_delivery_timeout")]
    pub delivery_timeout: ConfigDuration,
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Delays before each attempt; default: 0, 5s, 5m, 30m, 2h, 5h, 10h, 10h.
    pub retry_schedule: Option<Vec<ConfigDuration>>,
}

fn default_max_body() -> usize {
    1024 * 1024
}
fn default_dedup_window() -> ConfigDuration {
    ConfigDuration::from_secs(24 * 3600)
}
fn default_delivery_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(30)
}
fn default_concurrency() -> u32 {
    8
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookScheme {
    Stripe,
    Github,
    Slack,
    Standard,
    Shopify,
    Token {
        header: String,
        prefix: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub name: String,
    pub path: String,
    pub scheme: WebhookScheme,
    pub secrets: Vec<Secret>,
    pub destination: String,
    pub forward_headers: Vec<String>,
    pub dead_on_4xx: bool,
    pub max_body_bytes: usize,
    pub dedup_window: Duration,
    pub delivery_timeout: Duration,
    pub concurrency: u32,
    pub retry_schedule: Option<Vec<Duration>>,
}

/// bulwark's own key for signing deliveries to the app (Standard Webhooks `whsec_...`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    pub key: SecretRef,
}

impl WebhookConfig {
    pub(crate) fn validate(
        &self,
        path: &str,
        secrets: &mut crate::config::SecretResolver<'_>,
        problems: &mut Problems,
    ) -> Webhook {
        crate::names::check_name(&self.name, &format!("{path}.name"), problems);
        if !self.path.starts_with('/') || self.path.contains(['?', '#', ' ']) {
            problems.error(
                format!("{path}.path"),
                "an exact path such as \"/webhooks/stripe\"",
            );
        }
        if self.secrets.is_empty() {
            problems.error(format!("{path}.secrets"), "at least one secret");
        }
        let resolved = self
            .secrets
            .iter()
            .enumerate()
            .map(|(i, r)| {
                secrets.resolve(
                    r,
                    SecretKind::Issued,
                    &format!("{path}.secrets[{i}]"),
                    problems,
                )
            })
            .collect();
        let scheme = match self.scheme {
            SchemeKind::Stripe => WebhookScheme::Stripe,
            SchemeKind::Github => WebhookScheme::Github,
            SchemeKind::Slack => WebhookScheme::Slack,
            SchemeKind::Standard => WebhookScheme::Standard,
            SchemeKind::Shopify => WebhookScheme::Shopify,
            SchemeKind::Token => WebhookScheme::Token {
                header: self
                    .header
                    .clone()
                    .unwrap_or_else(|| "authorization".into()),
                prefix: self.prefix.clone(),
            },
        };
        if let WebhookScheme::Token { header, .. } = &scheme
            && http::HeaderName::from_bytes(header.as_bytes()).is_err()
        {
            problems.error(format!("{path}.header"), "not a valid header name");
        }
        if self.scheme != SchemeKind::Token && (self.header.is_some() || self.prefix.is_some()) {
            problems.error(
                format!("{path}.header"),
                "header and prefix apply to the token scheme only",
            );
        }
        match self.destination.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => {}
            _ => problems.error(
                format!("{path}.destination"),
                "a URL such as \"http://127.0.0.1:8000/webhooks/stripe\"",
            ),
        }
        if self.max_body_bytes == 0 || self.max_body_bytes > 64 * 1024 * 1024 {
            problems.error(format!("{path}.max_body_bytes"), "between 1 and 67108864");
        }
        if self.concurrency == 0 {
            problems.error(format!("{path}.concurrency"), "at least 1");
        }
        if self.delivery_timeout.get().is_zero() {
            problems.error(
                format!("{path}.delivery_timeout"),
                "must be greater than zero",
            );
        }
        if self.retry_schedule.as_ref().is_some_and(Vec::is_empty) {
            problems.error(
                format!("{path}.retry_schedule"),
                "at least one delay (the first attempt)",
            );
        }
        Webhook {
            name: self.name.clone(),
            path: self.path.clone(),
            scheme,
            secrets: resolved,
            destination: self.destination.clone(),
            forward_headers: self
                .forward_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            dead_on_4xx: self.dead_on_4xx,
            max_body_bytes: self.max_body_bytes,
            dedup_window: self.dedup_window.get(),
            delivery_timeout: self.delivery_timeout.get(),
            concurrency: self.concurrency,
            retry_schedule: self
                .retry_schedule
                .as_ref()
                .map(|s| s.iter().map(|d| d.get()).collect()),
        }
    }
}
