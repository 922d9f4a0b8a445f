//! Route matching: pure, no I/O. Routes are tried in file order and the first match
//! wins (as in Envoy), so specific routes go first.

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
        self.host_matches(host)
            && prefix_matches(&self.path_prefix, path)
            && self.method_matches(method)
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

    fn method_matches(&self, method: &Method) -> bool {
        self.methods.is_empty() || self.methods.contains(method)
    }
}

/// Segment-aware prefix: `/api` matches `/api`, `/api/` and `/api/x`, not `/apix`.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        None => false,
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
    }
}

/// Index of the first matching route.
pub fn find<'a>(
    matchers: impl IntoIterator<Item = &'a Matcher>,
    host: Option<&str>,
    path: &str,
    method: &Method,
) -> Option<usize> {
    matchers
        .into_iter()
        .position(|m| m.matches(host, path, method))
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
        assert_eq!(find(&routes, None, "/api/x", &Method::POST), Some(0));
        assert_eq!(
            find(&routes, Some("A.Example"), "/api/x", &Method::GET),
            Some(1)
        );
        assert_eq!(find(&routes, Some("b.example"), "/", &Method::GET), Some(2));
        // The bare domain is not a subdomain of itself.
        assert_eq!(find(&routes, Some("example"), "/", &Method::GET), Some(3));
        assert_eq!(find(&routes[..3], None, "/x", &Method::GET), None);
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
