//! The request target as both bulwark and the app must see it, pure. Routing decides on
//! the host and path; if the app could read a different host or resolve the path to a
//! different place, a route's restrictions would not hold for what the app serves.

use http::header::{self, HeaderValue};
use http::{Request, Version};

use crate::problem::Problem;

/// Makes `Host` agree with the request target: an absolute-form URI or HTTP/2
/// `:authority` wins (RFC 9112 §3.2.2) and replaces any `Host`; a repeated `Host` is
/// refused, as is a missing one on HTTP/1.1.
pub fn normalize_host<B>(request: &mut Request<B>) -> Result<(), Problem> {
    let hosts = request.headers().get_all(header::HOST).iter().count();
    if hosts > 1 {
        return Err(Problem::BadHost);
    }
    if let Some(authority) = request.uri().authority() {
        let value = HeaderValue::from_str(authority.as_str()).map_err(|_| Problem::BadHost)?;
        request.headers_mut().insert(header::HOST, value);
        return Ok(());
    }
    if hosts == 0 && request.version() == Version::HTTP_11 {
        return Err(Problem::BadHost);
    }
    Ok(())
}

/// True when the path has `.` or `..` segments, also percent-encoded (`%2e`). Backends
/// that normalise paths would serve `/public/../admin` as `/admin`, past a route that
/// matched `/public`; such paths are refused rather than guessed at.
pub fn has_dot_segments(path: &str) -> bool {
    // Most paths have neither '.' nor '%': answer without looking at segments.
    if !path.bytes().any(|b| b == b'.' || b == b'%') {
        return false;
    }
    path.split('/').any(is_dot_segment)
}

/// `.`, `..`, or the same with dots written as `%2e` / `%2E`.
fn is_dot_segment(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let mut dots = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' {
            i += 1;
        } else if bytes[i] == b'%'
            && bytes.get(i + 1) == Some(&b'2')
            && bytes.get(i + 2).is_some_and(|b| b | 0x20 == b'e')
        {
            i += 3;
        } else {
            return false;
        }
        dots += 1;
    }
    dots == 1 || dots == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, version: Version, hosts: &[&str]) -> Request<()> {
        let mut b = Request::builder().uri(uri).version(version);
        for h in hosts {
            b = b.header("host", *h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn the_absolute_target_replaces_host() {
        let mut r = req(
            "http://admin.internal/x",
            Version::HTTP_11,
            &["public.example"],
        );
        normalize_host(&mut r).unwrap();
        assert_eq!(r.headers()["host"], "admin.internal");
    }

    #[test]
    fn repeated_or_missing_hosts_are_refused() {
        let mut two = req("/x", Version::HTTP_11, &["a", "b"]);
        assert_eq!(normalize_host(&mut two), Err(Problem::BadHost));
        let mut none = req("/x", Version::HTTP_11, &[]);
        assert_eq!(normalize_host(&mut none), Err(Problem::BadHost));
        let mut old = req("/x", Version::HTTP_10, &[]);
        assert_eq!(normalize_host(&mut old), Ok(()));
        let mut one = req("/x", Version::HTTP_11, &["a:8080"]);
        assert_eq!(normalize_host(&mut one), Ok(()));
        assert_eq!(one.headers()["host"], "a:8080");
    }

    #[test]
    fn dot_segments_are_found_encoded_or_not() {
        for bad in [
            "/a/../b",
            "/a/./b",
            "/..",
            "/a/%2e%2E/b",
            "/a/%2e",
            "/.%2e/x",
        ] {
            assert!(has_dot_segments(bad), "{bad}");
        }
        for good in ["/", "/a/b", "/a/.hidden", "/a/..b", "/v1.2/x", "/a%2eb"] {
            assert!(!has_dot_segments(good), "{good}");
        }
    }
}
