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
        }
    }
}
