//! Routes: which requests go where. Matched in file order by host, path prefix and
//! method; the first match wins. Each route has exactly one action.

use http::Method;
use serde::Deserialize;

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
}

impl RouteConfig {
    pub(crate) fn validate(
        &self,
        path: &str,
        upstream_names: &[&str],
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
        Route {
            name: self.name.clone(),
            host,
            path_prefix: self.path_prefix.clone(),
            methods,
            action,
        }
    }
}
