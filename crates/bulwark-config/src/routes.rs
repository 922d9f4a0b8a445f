//! Routes: which requests go where. Matched in file order by host, path prefix and
//! method; the first match wins. Each route has exactly one action.

use http::Method;
use serde::Deserialize;

use crate::limits::{RouteLimit, RouteLimitConfig};
use crate::problems::Problems;

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Forward to an upstream.
    #[default]
    Proxy,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub name: String,
    /// Exact host (`api.example.com`) or a wildcard for subdomains (`*.example.com`);
    /// any host when absent. Compared without the port, case-insensitively.
    pub host: Option<String>,
    /// Matches the path itself and everything below it on a segment boundary:
    /// `/api` matches `/api` and `/api/x`, not `/apix`.
    #[serde(default = "default_prefix")]
    pub path_prefix: String,
    /// Any method when absent.
    pub methods: Option<Vec<String>>,
    #[serde(default)]
    pub action: ActionKind,
    /// For `action = "proxy"`.
    pub upstream: Option<String>,
    /// Remove `path_prefix` before forwarding (`/api/users` -> `/users`).
    #[serde(default)]
    pub strip_prefix: bool,
    /// The authenticator (`[[auth.jwt]]` or `[[auth.api_keys]]` name) a request must pass.
    pub auth: Option<String>,
    /// With `auth`: the caller needs at least one of these roles…
    #[serde(default)]
    pub roles_any: Vec<String>,
    /// …and all of these.
    #[serde(default)]
    pub roles_all: Vec<String>,
    #[serde(default)]
    pub limits: Vec<RouteLimitConfig>,
    /// 431 when the request has more header fields than this (counted as sent, before
    /// bulwark adds or removes any). Applies after routing, below the global
    /// `[proxy] max_request_head_bytes`.
    pub max_header_count: Option<usize>,
    /// 431 when the header names and values sent add up to more bytes than this.
    pub max_header_bytes: Option<usize>,
    /// 413 when the body is larger: checked on `Content-Length` before reading, and
    /// counted while streaming a chunked body (the upstream request is then aborted).
    pub max_body_bytes: Option<u64>,
    /// Media types a request body may have (`application/json`, `text/*`); a request
    /// with a body of another type, or without `Content-Type`, gets 415. Any when empty.
    #[serde(default)]
    pub content_types: Vec<String>,
    /// Bodies must be JSON: well-formed, nested at most `max_depth`, at most
    /// `max_bytes` (each refused with 400). The body is buffered up to `max_bytes`.
    pub json: Option<JsonChecksConfig>,
    /// Screen query strings (and JSON string values on `json` routes) for common
    /// SQL-injection and XSS patterns: `block` answers 403, `log` only counts. Off when
    /// absent. Defense in depth, not a WAF.
    pub screening: Option<ScreeningMode>,
    /// Let `%2F` (`/`), `%5C` and `\` (backslash) through in the path; refused with 400
    /// otherwise, because backends disagree on whether they separate segments.
    #[serde(default)]
    pub allow_encoded_slashes: bool,
    /// Headers added to every response of this route that the upstream did not set
    /// itself: `false` for none, or a table overriding single headers.
    #[serde(default)]
    pub security_headers: SecurityHeadersSetting,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonChecksConfig {
    #[serde(default = "default_json_depth")]
    pub max_depth: usize,
    #[serde(default = "default_json_bytes")]
    pub max_bytes: u64,
}

fn default_json_depth() -> usize {
    32
}

fn default_json_bytes() -> u64 {
    1024 * 1024
}

/// The largest `json.max_depth`: the JSON parser itself stops at 128 levels.
pub const MAX_JSON_DEPTH: usize = 128;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScreeningMode {
    /// Refuse with 403.
    Block,
    /// Count and log, let through.
    Log,
}

/// `security_headers = true | false` or a table.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum SecurityHeadersSetting {
    Enabled(bool),
    Custom(SecurityHeadersConfig),
}

impl Default for SecurityHeadersSetting {
    fn default() -> Self {
        SecurityHeadersSetting::Enabled(true)
    }
}

/// Each value overrides bulwark's default; `""` (or `false`) leaves that header out.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityHeadersConfig {
    /// `X-Content-Type-Options: nosniff`.
    pub content_type_options: Option<bool>,
    /// `X-Frame-Options`: `DENY` (default) or `SAMEORIGIN`.
    pub frame_options: Option<String>,
    /// The sources of the CSP `frame-ancestors` directive sent when the upstream sets no
    /// `Content-Security-Policy`; default `'none'`.
    pub frame_ancestors: Option<String>,
    /// `Referrer-Policy`; default `strict-origin-when-cross-origin`.
    pub referrer_policy: Option<String>,
    /// `Strict-Transport-Security`, sent on TLS connections only; default
    /// `max-age=31536000; includeSubDomains`.
    pub hsts: Option<String>,
}

fn default_prefix() -> String {
    "/".into()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch {
    Any,
    Exact(String),
    /// `*.example.com` stored as `.example.com`.
    Suffix(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Proxy {
        upstream: String,
        strip_prefix: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub name: String,
    pub host: HostMatch,
    pub path_prefix: String,
    /// Empty means any method.
    pub methods: Vec<Method>,
    pub action: Action,
    pub auth: Option<String>,
    pub roles_any: Vec<String>,
    pub roles_all: Vec<String>,
    /// In config order; those keyed before authentication run before it.
    pub limits: Vec<RouteLimit>,
    pub request: RequestRules,
    pub security_headers: SecurityHeaders,
}

/// A route's checks on the request itself (see `RouteConfig` for each).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestRules {
    pub max_header_count: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub max_body_bytes: Option<u64>,
    /// Lower-case media types; `type/*` matches a whole type. Empty: any.
    pub content_types: Vec<String>,
    pub json: Option<JsonChecks>,
    pub screening: Option<ScreeningMode>,
    pub allow_encoded_slashes: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonChecks {
    pub max_depth: usize,
    pub max_bytes: u64,
}

/// The response headers a route adds; `None` leaves a header out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityHeaders {
    pub content_type_options: bool,
    pub frame_options: Option<String>,
    pub frame_ancestors: Option<String>,
    pub referrer_policy: Option<String>,
    pub hsts: Option<String>,
}

impl SecurityHeaders {
    pub const DEFAULT_FRAME_OPTIONS: &'static str = "DENY";
    pub const DEFAULT_FRAME_ANCESTORS: &'static str = "'none'";
    pub const DEFAULT_REFERRER_POLICY: &'static str = "strict-origin-when-cross-origin";
    pub const DEFAULT_HSTS: &'static str = "max-age=31536000; includeSubDomains";

    pub fn none() -> Self {
        SecurityHeaders {
            content_type_options: false,
            frame_options: None,
            frame_ancestors: None,
            referrer_policy: None,
            hsts: None,
        }
    }
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        SecurityHeaders {
            content_type_options: true,
            frame_options: Some(Self::DEFAULT_FRAME_OPTIONS.into()),
            frame_ancestors: Some(Self::DEFAULT_FRAME_ANCESTORS.into()),
            referrer_policy: Some(Self::DEFAULT_REFERRER_POLICY.into()),
            hsts: Some(Self::DEFAULT_HSTS.into()),
        }
    }
}

const REFERRER_POLICIES: [&str; 8] = [
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

impl SecurityHeadersSetting {
    fn validate(&self, path: &str, problems: &mut Problems) -> SecurityHeaders {
        let custom = match self {
            SecurityHeadersSetting::Enabled(true) => return SecurityHeaders::default(),
            SecurityHeadersSetting::Enabled(false) => return SecurityHeaders::none(),
            SecurityHeadersSetting::Custom(custom) => custom,
        };
        let defaults = SecurityHeaders::default();
        // `""` leaves the header out; anything else must be a valid header value.
        let mut value =
            |key: &str, given: &Option<String>, default: Option<String>| match given.as_deref() {
                None => default,
                Some("") => None,
                Some(v) if v.bytes().all(|b| (0x20..0x7f).contains(&b)) => Some(v.to_string()),
                Some(_) => {
                    problems.error(
                        format!("{path}.security_headers.{key}"),
                        "printable ASCII only",
                    );
                    None
                }
            };
        let frame_options = value(
            "frame_options",
            &custom.frame_options,
            defaults.frame_options,
        )
        .map(|v| v.to_ascii_uppercase());
        let frame_ancestors = value(
            "frame_ancestors",
            &custom.frame_ancestors,
            defaults.frame_ancestors,
        );
        let referrer_policy = value(
            "referrer_policy",
            &custom.referrer_policy,
            defaults.referrer_policy,
        )
        .map(|v| v.to_ascii_lowercase());
        let hsts = value("hsts", &custom.hsts, defaults.hsts);
        if let Some(v) = &frame_options
            && v != "DENY"
            && v != "SAMEORIGIN"
        {
            problems.error(
                format!("{path}.security_headers.frame_options"),
                "\"DENY\" or \"SAMEORIGIN\" (ALLOW-FROM is obsolete; use frame_ancestors)",
            );
        }
        if let Some(v) = &frame_ancestors
            && v.contains([';', ','])
        {
            problems.error(
                format!("{path}.security_headers.frame_ancestors"),
                "only the sources of the directive, e.g. \"'self' https://app.example\"",
            );
        }
        if let Some(v) = &referrer_policy
            && !REFERRER_POLICIES.contains(&v.as_str())
        {
            problems.error(
                format!("{path}.security_headers.referrer_policy"),
                format!("one of {}", REFERRER_POLICIES.join(", ")),
            );
        }
        if let Some(v) = &hsts
            && !v.to_ascii_lowercase().starts_with("max-age=")
        {
            problems.error(
                format!("{path}.security_headers.hsts"),
                "must start with max-age=<seconds>",
            );
        }
        SecurityHeaders {
            content_type_options: custom
                .content_type_options
                .unwrap_or(defaults.content_type_options),
            frame_options,
            frame_ancestors,
            referrer_policy,
            hsts,
        }
    }
}

impl RouteConfig {
    fn validate_request_rules(&self, path: &str, problems: &mut Problems) -> RequestRules {
        if let Some(n) = self.max_header_count
            && !(1..=1000).contains(&n)
        {
            problems.error(format!("{path}.max_header_count"), "between 1 and 1000");
        }
        if let Some(n) = self.max_header_bytes
            && !(64..=1024 * 1024).contains(&n)
        {
            problems.error(format!("{path}.max_header_bytes"), "between 64 and 1048576");
        }
        if let Some(n) = self.max_body_bytes
            && n == 0
        {
            problems.error(
                format!("{path}.max_body_bytes"),
                "at least 1 (leave it out for no limit)",
            );
        }
        let mut content_types = Vec::new();
        for (i, t) in self.content_types.iter().enumerate() {
            let t = t.trim().to_ascii_lowercase();
            let valid = t.split_once('/').is_some_and(|(a, b)| {
                let token = |s: &str| {
                    !s.is_empty()
                        && s.bytes()
                            .all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&c))
                };
                token(a) && (b == "*" || token(b))
            });
            if valid {
                content_types.push(t);
            } else {
                problems.error(
                    format!("{path}.content_types[{i}]"),
                    "a media type such as \"application/json\" or \"text/*\" (no parameters)",
                );
            }
        }
        let json = self.json.as_ref().map(|j| {
            if !(1..=MAX_JSON_DEPTH).contains(&j.max_depth) {
                problems.error(
                    format!("{path}.json.max_depth"),
                    format!("between 1 and {MAX_JSON_DEPTH}"),
                );
            }
            if j.max_bytes == 0 || j.max_bytes > 64 * 1024 * 1024 {
                problems.error(format!("{path}.json.max_bytes"), "between 1 and 67108864");
            }
            JsonChecks {
                max_depth: j.max_depth,
                max_bytes: j.max_bytes,
            }
        });
        RequestRules {
            max_header_count: self.max_header_count,
            max_header_bytes: self.max_header_bytes,
            max_body_bytes: self.max_body_bytes,
            content_types,
            json,
            screening: self.screening,
            allow_encoded_slashes: self.allow_encoded_slashes,
        }
    }
}

impl RouteConfig {
    pub(crate) fn validate(
        &self,
        path: &str,
        upstream_names: &[&str],
        auth_names: &[&str],
        problems: &mut Problems,
    ) -> Route {
        crate::names::check_name(&self.name, &format!("{path}.name"), problems);
        let host = match &self.host {
            None => HostMatch::Any,
            Some(h) => {
                let h = h.to_ascii_lowercase();
                if h.is_empty() || h.contains(['/', ':', ' ']) {
                    problems.error(
                        format!("{path}.host"),
                        "expected a host name such as \"api.example.com\" or \"*.example.com\" (no port)",
                    );
                }
                match h.strip_prefix("*.") {
                    Some(rest) => HostMatch::Suffix(format!(".{rest}")),
                    None => HostMatch::Exact(h),
                }
            }
        };
        if !self.path_prefix.starts_with('/') {
            problems.error(format!("{path}.path_prefix"), "must start with '/'");
        }
        let mut methods = Vec::new();
        for (i, m) in self.methods.iter().flatten().enumerate() {
            match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
                Ok(method) => methods.push(method),
                Err(_) => problems.error(format!("{path}.methods[{i}]"), "not an HTTP method"),
            }
        }
        let action = match self.action {
            ActionKind::Proxy => {
                let upstream = self.upstream.clone().unwrap_or_default();
                if self.upstream.is_none() {
                    problems.error(
                        format!("{path}.upstream"),
                        "a proxy route needs an upstream",
                    );
                } else if !upstream_names.contains(&upstream.as_str()) {
                    problems.error(
                        format!("{path}.upstream"),
                        format!("no upstream named {upstream:?}"),
                    );
                }
                Action::Proxy {
                    upstream,
                    strip_prefix: self.strip_prefix,
                }
            }
        };
        if let Some(auth) = &self.auth
            && !auth_names.contains(&auth.as_str())
        {
            problems.error(
                format!("{path}.auth"),
                format!("no [[auth.jwt]] or [[auth.api_keys]] named {auth:?}"),
            );
        }
        if self.auth.is_none() && !(self.roles_any.is_empty() && self.roles_all.is_empty()) {
            problems.error(format!("{path}.roles_any"), "roles need the route's `auth`");
        }
        let limits = self
            .limits
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.validate(
                    &format!("{path}.limits[{i}]"),
                    self.auth.is_some(),
                    problems,
                )
            })
            .collect::<Vec<_>>();
        let limit_names: Vec<&str> = limits.iter().map(|l| l.name.as_str()).collect();
        for (i, name) in limit_names.iter().enumerate() {
            if limit_names[..i].contains(name) {
                problems.error(
                    format!("{path}.limits[{i}].name"),
                    "two limits of a route share this name",
                );
            }
        }
        let request = self.validate_request_rules(path, problems);
        let security_headers = self.security_headers.validate(path, problems);
        Route {
            name: self.name.clone(),
            host,
            path_prefix: self.path_prefix.clone(),
            methods,
            action,
            auth: self.auth.clone(),
            roles_any: self.roles_any.clone(),
            roles_all: self.roles_all.clone(),
            limits,
            request,
            security_headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{LoadError, load_str};
    use std::path::Path;

    const BASE: &str = "[[upstreams]]\nname = \"app\"\ntargets = [\"http://127.0.0.1:1\"]\n\n[[routes]]\nname = \"r\"\nupstream = \"app\"\n";

    fn load(extra: &str) -> Result<Route, Vec<String>> {
        let text = format!("{BASE}{extra}");
        match load_str(&text, Path::new("t.toml"), &|_| None) {
            Ok(loaded) => Ok(loaded.config.routes[0].clone()),
            Err(LoadError::Invalid { problems, .. }) => {
                Err(problems.iter().map(|p| p.path.clone()).collect())
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn request_rules_default_to_off_and_headers_to_on() {
        let route = load("").unwrap();
        assert_eq!(route.request, RequestRules::default());
        assert_eq!(route.security_headers, SecurityHeaders::default());
        let off = load("security_headers = false\n").unwrap();
        assert_eq!(off.security_headers, SecurityHeaders::none());
    }

    #[test]
    fn request_rules_are_read_and_checked() {
        let route = load(
            "max_header_count = 20\nmax_header_bytes = 4096\nmax_body_bytes = 1000\ncontent_types = [\"Application/JSON\", \"text/*\"]\njson = { max_depth = 8 }\nscreening = \"log\"\nallow_encoded_slashes = true\n",
        )
        .unwrap();
        let rules = route.request;
        assert_eq!(rules.max_header_count, Some(20));
        assert_eq!(rules.max_body_bytes, Some(1000));
        assert_eq!(rules.content_types, ["application/json", "text/*"]);
        assert_eq!(
            rules.json,
            Some(JsonChecks {
                max_depth: 8,
                max_bytes: 1024 * 1024
            })
        );
        assert_eq!(rules.screening, Some(ScreeningMode::Log));
        assert!(rules.allow_encoded_slashes);

        let errors = load(
            "max_header_count = 0\nmax_body_bytes = 0\ncontent_types = [\"json\"]\njson = { max_depth = 500 }\n",
        )
        .unwrap_err();
        for key in [
            "routes[0].max_header_count",
            "routes[0].max_body_bytes",
            "routes[0].content_types[0]",
            "routes[0].json.max_depth",
        ] {
            assert!(errors.iter().any(|e| e == key), "{key} in {errors:?}");
        }
    }

    #[test]
    fn security_headers_can_be_tuned_one_by_one() {
        let route = load(
            "[routes.security_headers]\nframe_options = \"sameorigin\"\nreferrer_policy = \"no-referrer\"\nhsts = \"\"\n",
        )
        .unwrap();
        let h = route.security_headers;
        assert_eq!(h.frame_options.as_deref(), Some("SAMEORIGIN"));
        assert_eq!(h.referrer_policy.as_deref(), Some("no-referrer"));
        assert_eq!(h.hsts, None);
        assert!(h.content_type_options);
        assert_eq!(h.frame_ancestors.as_deref(), Some("'none'"));
        let errors =
            load("[routes.security_headers]\nframe_options = \"ALLOW-FROM x\"\nreferrer_policy = \"nope\"\n")
                .unwrap_err();
        assert!(errors.contains(&"routes[0].security_headers.frame_options".to_string()));
        assert!(errors.contains(&"routes[0].security_headers.referrer_policy".to_string()));
    }
}
