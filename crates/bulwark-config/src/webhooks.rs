//! Webhooks bulwark receives for the app: where the provider posts, how its signature is
//! checked, and where bulwark delivers the stored message. Each webhook adds an inbox
//! route for `POST <path>` ahead of the configured routes.

use std::time::Duration;

use bulwark_signatures::{Algorithm, Encoding, HmacParams, HmacScheme, SchemeError};
use serde::Deserialize;

use crate::breaker::{Breaker, BreakerConfig};
use crate::duration::ConfigDuration;
use crate::limits::{RouteLimit, RouteLimitConfig};
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
    Twilio,
    Hmac,
    Token,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HmacAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HmacEncoding {
    Hex,
    Base64,
}

/// Where a value (an event id, an ordering key) is read from a stored webhook: exactly
/// one of a request header or a JSON pointer into the body.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSourceConfig {
    pub header: Option<String>,
    /// RFC 6901, e.g. `/event/id`.
    pub json_pointer: Option<String>,
}

/// A checked [`FieldSourceConfig`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldSource {
    /// A header name, lowercased.
    Header(String),
    /// An RFC 6901 pointer starting with `/`.
    JsonPointer(String),
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
    /// token: the header carrying the token (default `Authorization`); hmac: the header
    /// carrying the signature (required).
    pub header: Option<String>,
    /// token: a prefix before the token, e.g. `Bearer `; hmac: before the signature, e.g.
    /// `sha256=` (none by default).
    pub prefix: Option<String>,
    /// twilio: the public URL Twilio calls (scheme, host, port, path), which bulwark
    /// cannot rebuild behind TLS terminators and load balancers. Its path is `path`.
    pub public_url: Option<String>,
    /// hmac: `sha1`, `sha256` (default) or `sha512`.
    pub algorithm: Option<HmacAlgorithm>,
    /// hmac: `hex` (default) or `base64`.
    pub encoding: Option<HmacEncoding>,
    /// hmac: the header carrying a unix timestamp (seconds) that is signed and checked
    /// against `tolerance`.
    pub timestamp_header: Option<String>,
    /// hmac: what is signed, with `{timestamp}` and `{body}`; default `{timestamp}.{body}`
    /// with a timestamp header, `{body}` without.
    pub template: Option<String>,
    /// hmac: how far the signed timestamp may be from now, both ways (default 5m).
    pub tolerance: Option<ConfigDuration>,
    /// Where the event id for dedup comes from; overrides the scheme's own id.
    pub event_id: Option<FieldSourceConfig>,
    /// Messages with the same key are delivered one at a time, in arrival order.
    pub ordering_key: Option<FieldSourceConfig>,
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
    /// A retry that would fall after a message is this old dead-letters it instead.
    #[serde(default = "default_max_age")]
    pub max_age: ConfigDuration,
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// Rate limits on the inbox path, keyed by `ip`, `route` or `header:<name>` (a
    /// webhook has no caller identity), e.g. 100/min per IP.
    #[serde(default)]
    pub limits: Vec<RouteLimitConfig>,
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
fn default_max_age() -> ConfigDuration {
    ConfigDuration::from_secs(3 * 24 * 3600)
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
    Twilio {
        /// The URL Twilio signs, without the query string (the request's is appended).
        public_url: String,
    },
    Hmac(HmacScheme),
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
    /// Configured event id source; `None` = the scheme's own id, else a body hash.
    pub event_id: Option<FieldSource>,
    pub ordering_key: Option<FieldSource>,
    pub dead_on_4xx: bool,
    pub max_body_bytes: usize,
    pub dedup_window: Duration,
    pub delivery_timeout: Duration,
    pub concurrency: u32,
    pub retry_schedule: Option<Vec<Duration>>,
    pub max_age: Duration,
    pub breaker: Breaker,
    pub limits: Vec<RouteLimit>,
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
            SchemeKind::Twilio => WebhookScheme::Twilio {
                public_url: self.validate_public_url(path, problems),
            },
            SchemeKind::Hmac => WebhookScheme::Hmac(self.validate_hmac(path, problems)),
            SchemeKind::Token => {
                let header = self
                    .header
                    .clone()
                    .unwrap_or_else(|| "authorization".into());
                if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    problems.error(format!("{path}.header"), "not a valid header name");
                }
                WebhookScheme::Token {
                    header,
                    prefix: self.prefix.clone(),
                }
            }
        };
        self.refuse_keys_of_other_schemes(path, problems);
        let event_id = self
            .event_id
            .as_ref()
            .and_then(|s| s.validate(&format!("{path}.event_id"), problems));
        let ordering_key = self
            .ordering_key
            .as_ref()
            .and_then(|s| s.validate(&format!("{path}.ordering_key"), problems));
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
        if self.max_age.get().is_zero() {
            problems.error(format!("{path}.max_age"), "must be greater than zero");
        }
        let breaker = self.breaker.validate(&format!("{path}.breaker"), problems);
        let limits = self
            .limits
            .iter()
            .enumerate()
            .map(|(i, l)| l.validate(&format!("{path}.limits[{i}]"), false, problems))
            .collect();
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
            event_id,
            ordering_key,
            dead_on_4xx: self.dead_on_4xx,
            max_body_bytes: self.max_body_bytes,
            dedup_window: self.dedup_window.get(),
            delivery_timeout: self.delivery_timeout.get(),
            concurrency: self.concurrency,
            retry_schedule: self
                .retry_schedule
                .as_ref()
                .map(|s| s.iter().map(|d| d.get()).collect()),
            max_age: self.max_age.get(),
            breaker,
            limits,
        }
    }
}

impl WebhookConfig {
    /// Keys that belong to another scheme are refused rather than silently ignored.
    fn refuse_keys_of_other_schemes(&self, path: &str, problems: &mut Problems) {
        use SchemeKind::{Hmac, Token, Twilio};
        /// The schemes that take some keys, their name in messages, and each key with
        /// whether it is set.
        type Group<'a> = (&'a [SchemeKind], &'a str, &'a [(&'a str, bool)]);
        let groups: [Group<'_>; 3] = [
            (
                &[Token, Hmac],
                "the token and hmac schemes",
                &[
                    ("header", self.header.is_some()),
                    ("prefix", self.prefix.is_some()),
                ],
            ),
            (
                &[Twilio],
                "the twilio scheme",
                &[("public_url", self.public_url.is_some())],
            ),
            (
                &[Hmac],
                "the hmac scheme",
                &[
                    ("algorithm", self.algorithm.is_some()),
                    ("encoding", self.encoding.is_some()),
                    ("timestamp_header", self.timestamp_header.is_some()),
                    ("template", self.template.is_some()),
                    ("tolerance", self.tolerance.is_some()),
                ],
            ),
        ];
        for (schemes, which, keys) in groups {
            if schemes.contains(&self.scheme) {
                continue;
            }
            for (key, _) in keys.iter().filter(|(_, set)| *set) {
                problems.error(format!("{path}.{key}"), format!("applies to {which} only"));
            }
        }
    }

    /// Twilio signs the URL it was configured with, so bulwark must be told it: an
    /// absolute http(s) URL whose path is the webhook's path. The value is never quoted
    /// in a message (it may carry basic-auth credentials).
    fn validate_public_url(&self, path: &str, problems: &mut Problems) -> String {
        let key = format!("{path}.public_url");
        let Some(url) = &self.public_url else {
            problems.error(
                key,
                "required by the twilio scheme: the URL Twilio calls, e.g. \"https://example.com/webhooks/twilio\"",
            );
            return String::new();
        };
        match url.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.host().is_some_and(|h| !h.is_empty())
                    && !url.contains('#') =>
            {
                if uri.query().is_some() {
                    problems.error(
                        key,
                        "no query string: the request's own query is appended when checking",
                    );
                } else if uri.path() != self.path {
                    problems.error(
                        key,
                        format!("its path must be the webhook's path {:?}", self.path),
                    );
                }
            }
            _ => problems.error(
                key,
                "an absolute http(s) URL such as \"https://example.com/webhooks/twilio\"",
            ),
        }
        url.clone()
    }

    fn validate_hmac(&self, path: &str, problems: &mut Problems) -> HmacScheme {
        let fallback = || {
            HmacScheme::new(HmacParams::new(
                "x-signature",
                Algorithm::Sha256,
                Encoding::Hex,
            ))
            .expect("a fixed valid header name and the default template")
        };
        let Some(header) = &self.header else {
            problems.error(
                format!("{path}.header"),
                "required by the hmac scheme: the header carrying the signature",
            );
            return fallback();
        };
        let tolerance = self
            .tolerance
            .map_or(bulwark_signatures::DEFAULT_TOLERANCE_SECS, |t| {
                t.get().as_secs()
            });
        if tolerance == 0 {
            problems.error(format!("{path}.tolerance"), "at least 1s");
        }
        let params = HmacParams {
            header: header.clone(),
            algorithm: match self.algorithm.unwrap_or(HmacAlgorithm::Sha256) {
                HmacAlgorithm::Sha1 => Algorithm::Sha1,
                HmacAlgorithm::Sha256 => Algorithm::Sha256,
                HmacAlgorithm::Sha512 => Algorithm::Sha512,
            },
            encoding: match self.encoding.unwrap_or(HmacEncoding::Hex) {
                HmacEncoding::Hex => Encoding::Hex,
                HmacEncoding::Base64 => Encoding::Base64,
            },
            prefix: self.prefix.clone(),
            timestamp_header: self.timestamp_header.clone(),
            template: self.template.clone(),
            tolerance,
        };
        match HmacScheme::new(params) {
            Ok(scheme) => scheme,
            Err(error) => {
                let key = match &error {
                    SchemeError::BadHeaderName(name) if name == header => "header",
                    SchemeError::BadHeaderName(_) => "timestamp_header",
                    _ if self.template.is_some() => "template",
                    _ => "timestamp_header",
                };
                problems.error(format!("{path}.{key}"), error);
                fallback()
            }
        }
    }
}

impl FieldSourceConfig {
    fn validate(&self, path: &str, problems: &mut Problems) -> Option<FieldSource> {
        match (&self.header, &self.json_pointer) {
            (Some(header), None) => {
                if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    problems.error(format!("{path}.header"), "not a valid header name");
                    return None;
                }
                Some(FieldSource::Header(header.to_ascii_lowercase()))
            }
            (None, Some(pointer)) => {
                if !is_json_pointer(pointer) {
                    problems.error(
                        format!("{path}.json_pointer"),
                        "a JSON pointer (RFC 6901) such as \"/event/id\"",
                    );
                    return None;
                }
                Some(FieldSource::JsonPointer(pointer.clone()))
            }
            _ => {
                problems.error(
                    path,
                    "exactly one of `header` or `json_pointer`, e.g. { header = \"x-request-id\" }",
                );
                None
            }
        }
    }
}

/// A pointer to some member (not the whole document): `/` then reference tokens, with
/// `~` only in the escapes `~0` and `~1`.
fn is_json_pointer(text: &str) -> bool {
    text.starts_with('/')
        && text
            .split('~')
            .skip(1)
            .all(|after| after.starts_with(['0', '1']))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{LoadError, Problem, ValidatedConfig, load_str};

    const SECRET: &str = "a-provider-secret-0123456789abcdef";

    /// One webhook with `extra` keys, loaded with a signing key and a provider secret.
    fn load(scheme: &str, path: &str, extra: &str) -> Result<ValidatedConfig, Vec<Problem>> {
        let text = format!(
            "[signing]\nkey = \"${{SIGNING}}\"\n\n[[webhooks]]\nname = \"hook\"\npath = \"{path}\"\nscheme = \"{scheme}\"\nsecrets = [\"${{SECRET}}\"]\ndestination = \"http://127.0.0.1:8000/hook\"\n{extra}\n"
        );
        let env = |name: &str| match name {
            "SIGNING" => Some("whsec_q3n0bXh0ZWdqZ2N2b3l3eXpqcWx4a2p0dW9sYmZ2aGQ=".to_string()),
            "SECRET" => Some(SECRET.to_string()),
            _ => None,
        };
        match load_str(&text, Path::new("test.toml"), &env) {
            Ok(loaded) => Ok(loaded.config),
            Err(LoadError::Invalid { problems, .. }) => Err(problems),
            Err(e) => panic!("unexpected {e}"),
        }
    }

    fn webhook(scheme: &str, path: &str, extra: &str) -> Webhook {
        let mut config = load(scheme, path, extra).unwrap_or_else(|p| panic!("{p:?}"));
        config.webhooks.remove(0)
    }

    /// The key paths of the problems `extra` causes.
    fn problem_paths(scheme: &str, path: &str, extra: &str) -> Vec<String> {
        let problems = load(scheme, path, extra).expect_err("problems");
        for p in &problems {
            assert!(!p.message.contains(SECRET), "{p}");
        }
        problems.into_iter().map(|p| p.path).collect()
    }

    #[test]
    fn max_age_and_breaker_have_defaults_and_bounds() {
        let w = webhook("github", "/hook", "");
        assert_eq!(w.max_age, Duration::from_secs(3 * 24 * 3600));
        assert_eq!(w.breaker, Breaker::default());
        let w = webhook(
            "github",
            "/hook",
            "max_age = \"1h\"\n[webhooks.breaker]\nconsecutive_failures = 2\nopen_for = \"500ms\"",
        );
        assert_eq!(w.max_age, Duration::from_secs(3600));
        assert_eq!(w.breaker.consecutive_failures, 2);
        assert_eq!(w.breaker.open_for, Duration::from_millis(500));
        assert_eq!(w.breaker.failure_percent, 50, "unset keys keep defaults");
        assert_eq!(
            problem_paths(
                "github",
                "/hook",
                "max_age = \"0s\"\n[webhooks.breaker]\nfailure_percent = 101\nwindow = \"0ms\""
            ),
            vec![
                "webhooks[0].max_age",
                "webhooks[0].breaker.failure_percent",
                "webhooks[0].breaker.window",
            ]
        );
    }

    #[test]
    fn twilio_takes_its_public_url() {
        let w = webhook(
            "twilio",
            "/webhooks/sms",
            "public_url = \"https://example.com:8443/webhooks/sms\"",
        );
        assert_eq!(
            w.scheme,
            WebhookScheme::Twilio {
                public_url: "https://example.com:8443/webhooks/sms".into()
            }
        );
        assert_eq!((w.event_id, w.ordering_key), (None, None));
    }

    #[test]
    fn twilio_public_urls_are_checked() {
        let key = vec!["webhooks[0].public_url".to_string()];
        assert_eq!(problem_paths("twilio", "/sms", ""), key, "required");
        for bad in [
            "/sms",
            "ftp://example.com/sms",
            "https:///sms",
            "https://example.com/other",
            "https://example.com/sms/",
            "https://example.com/sms?a=1",
            "https://example.com/sms#frag",
            "not a url",
        ] {
            assert_eq!(
                problem_paths("twilio", "/sms", &format!("public_url = \"{bad}\"")),
                key,
                "{bad}"
            );
        }
        assert_eq!(
            problem_paths("github", "/sms", "public_url = \"https://example.com/sms\""),
            key,
            "refused for other schemes"
        );
    }

    #[test]
    fn hmac_takes_its_parameters_with_defaults() {
        let w = webhook("hmac", "/h", "header = \"X-Signature\"");
        let WebhookScheme::Hmac(scheme) = w.scheme else {
            panic!("{:?}", w.scheme)
        };
        assert_eq!(
            scheme.params(),
            &HmacParams::new("X-Signature", Algorithm::Sha256, Encoding::Hex)
        );

        let w = webhook(
            "hmac",
            "/h",
            "header = \"X-Sig\"\nalgorithm = \"sha512\"\nencoding = \"base64\"\nprefix = \"v1=\"\ntimestamp_header = \"X-Ts\"\ntemplate = \"v1:{timestamp}:{body}\"\ntolerance = \"90s\"",
        );
        let WebhookScheme::Hmac(scheme) = w.scheme else {
            panic!("{:?}", w.scheme)
        };
        let p = scheme.params();
        assert_eq!(
            (p.algorithm, p.encoding, p.prefix.as_deref()),
            (Algorithm::Sha512, Encoding::Base64, Some("v1="))
        );
        assert_eq!(p.timestamp_header.as_deref(), Some("X-Ts"));
        assert_eq!(p.template.as_deref(), Some("v1:{timestamp}:{body}"));
        assert_eq!(p.tolerance, 90);
    }

    #[test]
    fn hmac_problems_name_their_key() {
        let cases = [
            ("", "header"),
            ("header = \"bad header\"", "header"),
            (
                "header = \"X-Sig\"\ntimestamp_header = \"bad ts\"",
                "timestamp_header",
            ),
            (
                "header = \"X-Sig\"\ntemplate = \"{timestamp}.{body}\"",
                "template",
            ),
            ("header = \"X-Sig\"\ntemplate = \"{body}.{id}\"", "template"),
            (
                "header = \"X-Sig\"\ntemplate = \"{timestamp}\"\ntimestamp_header = \"X-Ts\"",
                "template",
            ),
            (
                "header = \"X-Sig\"\ntimestamp_header = \"X-Ts\"\ntemplate = \"{body}\"",
                "template",
            ),
            ("header = \"X-Sig\"\ntolerance = \"500ms\"", "tolerance"),
        ];
        for (extra, key) in cases {
            assert_eq!(
                problem_paths("hmac", "/h", extra),
                vec![format!("webhooks[0].{key}")],
                "{extra}"
            );
        }
        let p = problem_paths("hmac", "/h", "header = \"X\"\nalgorithm = \"md5\"");
        assert_eq!(p, vec!["webhooks[0].algorithm".to_string()]);
    }

    #[test]
    fn scheme_specific_keys_are_refused_elsewhere() {
        for key in [
            "algorithm = \"sha1\"",
            "encoding = \"hex\"",
            "timestamp_header = \"X-Ts\"",
            "template = \"{body}\"",
            "tolerance = \"1m\"",
        ] {
            let name = key.split(' ').next().unwrap();
            assert_eq!(
                problem_paths("token", "/t", key),
                vec![format!("webhooks[0].{name}")],
                "{key}"
            );
        }
        assert_eq!(
            problem_paths("stripe", "/s", "header = \"X\"\nprefix = \"p\""),
            vec![
                "webhooks[0].header".to_string(),
                "webhooks[0].prefix".to_string()
            ]
        );
        let token = webhook("token", "/t", "header = \"X-Token\"\nprefix = \"Bearer \"");
        assert_eq!(
            token.scheme,
            WebhookScheme::Token {
                header: "X-Token".into(),
                prefix: Some("Bearer ".into())
            }
        );
    }

    #[test]
    fn event_id_and_ordering_key_sources() {
        let w = webhook(
            "github",
            "/g",
            "event_id = { header = \"X-Request-Id\" }\nordering_key = { json_pointer = \"/customer/id\" }",
        );
        assert_eq!(w.event_id, Some(FieldSource::Header("x-request-id".into())));
        assert_eq!(
            w.ordering_key,
            Some(FieldSource::JsonPointer("/customer/id".into()))
        );
        let w = webhook("token", "/t", "event_id = { json_pointer = \"/a~1b/~0c\" }");
        assert_eq!(
            w.event_id,
            Some(FieldSource::JsonPointer("/a~1b/~0c".into()))
        );
    }

    #[test]
    fn event_id_and_ordering_key_problems_name_their_key() {
        for field in ["event_id", "ordering_key"] {
            let cases = [
                ("{}", field.to_string()),
                (
                    "{ header = \"x-a\", json_pointer = \"/a\" }",
                    field.to_string(),
                ),
                ("{ header = \"bad header\" }", format!("{field}.header")),
                (
                    "{ json_pointer = \"event/id\" }",
                    format!("{field}.json_pointer"),
                ),
                ("{ json_pointer = \"\" }", format!("{field}.json_pointer")),
                (
                    "{ json_pointer = \"/a~2\" }",
                    format!("{field}.json_pointer"),
                ),
                (
                    "{ json_pointer = \"/a~\" }",
                    format!("{field}.json_pointer"),
                ),
                ("{ header = \"x\", other = 1 }", format!("{field}.other")),
            ];
            for (value, key) in cases {
                assert_eq!(
                    problem_paths("token", "/t", &format!("{field} = {value}")),
                    vec![format!("webhooks[0].{key}")],
                    "{field} = {value}"
                );
            }
        }
    }
}
