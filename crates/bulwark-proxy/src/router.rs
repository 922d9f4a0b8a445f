//! Route matching: pure, no I/O. Routes are tried in file order and the first match
//! wins (as in Envoy), so specific routes go first. When routes match the host and path
//! but none allows the method, the answer is 405 with the methods they do allow.

use bulwark_config::routes::HostMatch;
use http::Method;

/// The part of a route the matcher needs.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub host: HostMatch,
    pub path_prefix: String,
    /// Match the path exactly instead of as a prefix (webhook endpoints).
    pub exact: bool,
    pub methods: Vec<Method>,
}

impl Matcher {
    /// `host` is the request's host without port, any case.
    pub fn matches(&self, host: Option<&str>, path: &str, method: &Method) -> bool {
        self.matches_target(host, path) && self.method_matches(method)
    }

    /// Host and path match, whatever the method.
    pub fn matches_target(&self, host: Option<&str>, path: &str) -> bool {
        self.host_matches(host)
            && if self.exact {
                self.path_prefix == path
            } else {
                prefix_matches(&self.path_prefix, path)
            }
    }

    fn host_matches(&self, host: Option<&str>) -> bool {
        match (&self.host, host) {
            (HostMatch::Any, _) => true,
            (_, None) => false,
            (HostMatch::Exact(want), Some(h)) => want.eq_ignore_ascii_case(h),
            (HostMatch::Suffix(suffix), Some(h)) => {
                h.len() > suffix.len()
                    && h.is_char_boundary(h.len() - suffix.len())
                    && h[h.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
        }
    }

    /// `HEAD` is allowed wherever `GET` is (RFC 9110 §9.3.2): a GET-only route must not
    /// let a HEAD fall through to a later, less protected route while frameworks run the
    /// GET handler for it.
    fn method_matches(&self, method: &Method) -> bool {
        self.methods.is_empty()
            || self.methods.contains(method)
            || (method == Method::HEAD && self.methods.contains(&Method::GET))
    }
}

/// Segment-aware prefix: `/api` matches `/api`, `/api/` and `/api/x`, not `/apix`.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        None => false,
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
    }
}

/// The outcome of routing one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteMatch {
    /// Index of the first route that matches host, path and method.
    Found(usize),
    /// Routes match the host and path, none the method: `first` is the first of them,
    /// `allow` the union of their methods (for `Allow`), in the order first seen.
    MethodNotAllowed {
        first: usize,
        allow: Vec<Method>,
    },
    NotFound,
}

/// The first route matching host, path and method; otherwise whether some route
/// matched host and path with another method.
pub fn find<'a>(
    matchers: impl IntoIterator<Item = &'a Matcher>,
    host: Option<&str>,
    path: &str,
    method: &Method,
) -> RouteMatch {
    let mut wrong_method: Option<(usize, Vec<Method>)> = None;
    for (i, m) in matchers.into_iter().enumerate() {
        if !m.matches_target(host, path) {
            continue;
        }
        if m.method_matches(method) {
            return RouteMatch::Found(i);
        }
        let (_, allow) = wrong_method.get_or_insert_with(|| (i, Vec::new()));
        for method in &m.methods {
            if !allow.contains(method) {
                allow.push(method.clone());
            }
        }
    }
    match wrong_method {
        Some((first, allow)) => RouteMatch::MethodNotAllowed { first, allow },
        None => RouteMatch::NotFound,
    }
}

impl RouteMatch {
    pub fn found(&self) -> Option<usize> {
        match self {
            RouteMatch::Found(i) => Some(*i),
            _ => None,
        }
    }
}

/// The host a request is addressed to, without port: `:authority` (HTTP/2) or `Host`.
pub fn request_host<B>(request: &http::Request<B>) -> Option<&str> {
    let raw = request
        .uri()
        .host()
        .or_else(|| request.headers().get(http::header::HOST)?.to_str().ok())?;
    Some(strip_port(raw))
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // IPv6 literal: keep the brackets' content as written.
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(host: HostMatch, prefix: &str, methods: &[Method]) -> Matcher {
        Matcher {
            host,
            path_prefix: prefix.into(),
            exact: false,
            methods: methods.to_vec(),
        }
    }

    #[test]
    fn prefixes_match_on_segment_boundaries() {
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api", "/api/users"));
        assert!(!prefix_matches("/api", "/apix"));
        assert!(prefix_matches("/", "/anything"));
        assert!(prefix_matches("/api/", "/api/x"));
        assert!(!prefix_matches("/api/", "/api"));
    }

    #[test]
    fn first_match_wins_in_file_order() {
        let routes = [
            m(HostMatch::Any, "/api", &[Method::POST]),
            m(HostMatch::Exact("a.example".into()), "/", &[]),
            m(HostMatch::Suffix(".example".into()), "/", &[]),
            m(HostMatch::Any, "/", &[]),
        ];
        let found = |host, path, method: &Method| find(&routes, host, path, method).found();
        assert_eq!(found(None, "/api/x", &Method::POST), Some(0));
        assert_eq!(found(Some("A.Example"), "/api/x", &Method::GET), Some(1));
        assert_eq!(found(Some("b.example"), "/", &Method::GET), Some(2));
        // The bare domain is not a subdomain of itself.
        assert_eq!(found(Some("example"), "/", &Method::GET), Some(3));
        assert_eq!(
            find(&routes[..3], None, "/x", &Method::GET),
            RouteMatch::NotFound
        );
    }

    #[test]
    fn a_path_match_with_the_wrong_method_everywhere_is_405() {
        let routes = [
            m(HostMatch::Any, "/api", &[Method::POST]),
            m(HostMatch::Any, "/api/users", &[Method::GET, Method::POST]),
            m(HostMatch::Exact("a.example".into()), "/api", &[]),
        ];
        assert_eq!(
            find(&routes, None, "/api/users/1", &Method::DELETE),
            RouteMatch::MethodNotAllowed {
                first: 0,
                allow: vec![Method::POST, Method::GET]
            }
        );
        // A later route that takes the method wins over the 405.
        assert_eq!(
            find(&routes, Some("a.example"), "/api/x", &Method::DELETE),
            RouteMatch::Found(2)
        );
        assert_eq!(
            find(&routes, None, "/other", &Method::DELETE),
            RouteMatch::NotFound
        );
    }

    #[test]
    fn exact_matchers_match_only_their_path() {
        let mut exact = m(HostMatch::Any, "/hooks/stripe", &[Method::POST]);
        exact.exact = true;
        assert!(exact.matches(None, "/hooks/stripe", &Method::POST));
        assert!(!exact.matches(None, "/hooks/stripe/x", &Method::POST));
    }

    #[test]
    fn host_comes_without_port() {
        let req = http::Request::builder()
            .uri("/x")
            .header("host", "api.example:8080")
            .body(())
            .unwrap();
        assert_eq!(request_host(&req), Some("api.example"));
        let req = http::Request::builder()
            .uri("http://[::1]:80/x")
            .body(())
            .unwrap();
        assert_eq!(request_host(&req), Some("[::1]"));
    }
}
