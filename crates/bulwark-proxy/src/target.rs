//! The request target as both bulwark and the app must see it, pure. Routing decides on
//! the host and path; if the app could read a different host or resolve the path to a
//! different place, a route's restrictions would not hold for what the app serves.
//!
//! [`normalize_path`] runs before routing and its result is what the upstream receives,
//! so bulwark routes on exactly the path the app will see.

use std::borrow::Cow;

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
        // `user@host`: bulwark would route on the host while the app reads the whole
        // authority from `Host`.
        if authority.as_str().contains('@') {
            return Err(Problem::BadHost);
        }
        let value = HeaderValue::from_str(authority.as_str()).map_err(|_| Problem::BadHost)?;
        request.headers_mut().insert(header::HOST, value);
    } else if hosts == 0 {
        return match request.version() {
            Version::HTTP_11 => Err(Problem::BadHost),
            _ => Ok(()),
        };
    }
    // `admin.example.com.` is the same name as `admin.example.com` to DNS and to most
    // apps; without its dot it matches the routes written for that name.
    let trimmed = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(without_trailing_dot);
    if let Some(trimmed) = trimmed {
        let value = HeaderValue::from_str(&trimmed).map_err(|_| Problem::BadHost)?;
        request.headers_mut().insert(header::HOST, value);
        if request.uri().authority().is_some() {
            let mut parts = request.uri().clone().into_parts();
            parts.authority = Some(trimmed.parse().map_err(|_| Problem::BadHost)?);
            *request.uri_mut() = http::Uri::from_parts(parts).map_err(|_| Problem::BadHost)?;
        }
    }
    Ok(())
}

/// `host.` or `host.:port` without the root dot; `None` when there is none to remove.
fn without_trailing_dot(host: &str) -> Option<String> {
    if host.starts_with('[') {
        return None;
    }
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name = name.strip_suffix('.')?;
    if name.is_empty() {
        return None;
    }
    Some(match port {
        Some(port) => format!("{name}:{port}"),
        None => name.to_string(),
    })
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
/// Dot segments as backends will see them: `;` starts a path parameter that Tomcat,
/// Jetty and Spring strip before resolving dots (the `..;/` bypass), and an encoded slash
/// or a backslash (let through by `allow_encoded_slashes`) is a separator to backends
/// that decode it (`..%2Fadmin`). `path` is normalised: escapes are upper-case.
fn has_dot_segment(path: &str) -> bool {
    path.split(['/', '\\'])
        .flat_map(|part| part.split("%2F"))
        .flat_map(|part| part.split("%5C"))
        .any(|segment| {
            let segment = segment.split(';').next().unwrap_or_default();
            segment == "." || segment == ".."
        })
}

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

/// Why a path was refused before routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// A `.` or `..` segment (also written `%2e`).
    DotSegment,
    /// A `%` not followed by two hex digits, or an encoded NUL (`%00`).
    BadEncoding,
}

/// A path as bulwark routes it and forwards it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizedPath<'a> {
    pub path: Cow<'a, str>,
    /// The path has `%2F`, `%5C` or a raw `\`; refused unless the route allows it.
    pub encoded_slash: bool,
}

/// Normalises an origin-form path (RFC 3986 §6.2.2): percent-encoded unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`, §2.3) are decoded, other percent-encodings get
/// upper-case hex digits, and runs of `/` collapse into one. Dot segments are refused,
/// not resolved: clients remove them before sending (RFC 3986 §5.2.4), so on the wire
/// they are a mistake or an attempt to reach past a route. Encoded slashes are kept as
/// they are and reported. Paths that do not start with `/` (`*`, authority form) pass
/// unchanged.
pub fn normalize_path(path: &str) -> Result<NormalizedPath<'_>, PathError> {
    if !path.starts_with('/') {
        return Ok(NormalizedPath {
            path: Cow::Borrowed(path),
            encoded_slash: false,
        });
    }
    let bytes = path.as_bytes();
    // The common case has nothing to change: answer without allocating.
    let plain = !bytes.iter().any(|b| matches!(b, b'%' | b'\\')) && !path.contains("//");
    if plain {
        if has_dot_segment(path) {
            return Err(PathError::DotSegment);
        }
        return Ok(NormalizedPath {
            path: Cow::Borrowed(path),
            encoded_slash: false,
        });
    }
    let mut out = String::with_capacity(path.len());
    let mut encoded_slash = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(PathError::BadEncoding);
                };
                let decoded = hi << 4 | lo;
                if decoded == 0 {
                    return Err(PathError::BadEncoding);
                }
                if is_unreserved(decoded) {
                    out.push(char::from(decoded));
                } else {
                    if decoded == b'/' || decoded == b'\\' {
                        encoded_slash = true;
                    }
                    out.push('%');
                    out.push(char::from(HEX_UPPER[usize::from(hi)]));
                    out.push(char::from(HEX_UPPER[usize::from(lo)]));
                }
                i += 3;
            }
            b'/' => {
                if !out.ends_with('/') {
                    out.push('/');
                }
                i += 1;
            }
            _ => {
                // Copy the run up to the next special byte in one go (keeps UTF-8 whole).
                let end = bytes[i..]
                    .iter()
                    .position(|c| matches!(c, b'%' | b'/'))
                    .map_or(bytes.len(), |n| i + n);
                encoded_slash |= path[i..end].contains('\\');
                out.push_str(&path[i..end]);
                i = end;
            }
        }
    }
    if has_dot_segment(&out) {
        return Err(PathError::DotSegment);
    }
    let path = if out == path {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(out)
    };
    Ok(NormalizedPath {
        path,
        encoded_slash,
    })
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 §2.3.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Replaces the path of `uri`, keeping the query; `None` if the result does not parse
/// (it always does for output of [`normalize_path`] from a parsed URI).
pub fn with_path(uri: &http::Uri, path: &str) -> Option<http::Uri> {
    let mut parts = uri.clone().into_parts();
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    parts.path_and_query = Some(pq.parse().ok()?);
    http::Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_dot_host_is_the_same_host() {
        assert_eq!(
            without_trailing_dot("admin.example.com.").as_deref(),
            Some("admin.example.com")
        );
        assert_eq!(
            without_trailing_dot("a.example.:8080").as_deref(),
            Some("a.example:8080")
        );
        assert_eq!(without_trailing_dot("a.example"), None);
        assert_eq!(without_trailing_dot("."), None);
        assert_eq!(without_trailing_dot("[::1]:80"), None);
        let mut request = Request::builder()
            .uri("http://admin.example.com.:8080/x")
            .body(())
            .unwrap();
        normalize_host(&mut request).unwrap();
        assert_eq!(request.headers()[header::HOST], "admin.example.com:8080");
        assert_eq!(request.uri().host(), Some("admin.example.com"));
        let mut userinfo = Request::builder()
            .uri("http://user@admin.internal/x")
            .body(())
            .unwrap();
        assert_eq!(normalize_host(&mut userinfo), Err(Problem::BadHost));
    }

    #[test]
    fn dot_segments_hidden_behind_parameters_or_encoded_slashes_are_found() {
        for path in [
            "/public/..;/admin",
            "/public/.;x/admin",
            "/files/..%2Fadmin",
            "/files/..%5Cadmin",
            "/files\\..\\admin",
            "/a/..",
        ] {
            assert!(has_dot_segment(path), "{path}");
        }
        for path in [
            "/a/b;c",
            "/a/...",
            "/a/.well-known",
            "/a/b%2Fc",
            "/a;/b",
            "/..a",
        ] {
            assert!(!has_dot_segment(path), "{path}");
        }
    }

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

    fn norm(p: &str) -> Result<(String, bool), PathError> {
        normalize_path(p).map(|n| (n.path.into_owned(), n.encoded_slash))
    }

    #[test]
    fn unreserved_characters_are_decoded_and_others_kept() {
        assert_eq!(norm("/%61dmin"), Ok(("/admin".into(), false)));
        assert_eq!(norm("/a%7Eb%2d%5F"), Ok(("/a~b-_".into(), false)));
        assert_eq!(norm("/a%20b%3f"), Ok(("/a%20b%3F".into(), false)));
        assert_eq!(norm("/caf%C3%A9"), Ok(("/caf%C3%A9".into(), false)));
        assert_eq!(norm("/ADMIN%2e%2e/"), Ok(("/ADMIN../".into(), false)));
    }

    #[test]
    fn slashes_collapse_and_encoded_slashes_are_reported() {
        assert_eq!(norm("//admin///x//"), Ok(("/admin/x/".into(), false)));
        assert_eq!(norm("/a%2fb"), Ok(("/a%2Fb".into(), true)));
        assert_eq!(norm("/a%5cb"), Ok(("/a%5Cb".into(), true)));
        assert_eq!(norm("/a\\b"), Ok(("/a\\b".into(), true)));
        assert_eq!(norm("/plain/path"), Ok(("/plain/path".into(), false)));
        assert_eq!(norm("*"), Ok(("*".into(), false)));
    }

    #[test]
    fn dot_segments_are_refused_in_every_spelling() {
        for bad in [
            "/admin/../api",
            "/api/./x",
            "/..",
            "/.",
            "/a/%2e%2E/b",
            "/a/.%2e",
            "/a//..//b",
            "/%2E",
        ] {
            assert_eq!(norm(bad), Err(PathError::DotSegment), "{bad}");
        }
        for good in ["/a/.hidden", "/a/..b", "/v1.2/x", "/a%2eb", "/..."] {
            assert!(norm(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn broken_percent_encodings_and_nul_are_refused() {
        for bad in ["/a%", "/a%2", "/a%zz", "/a%00b", "/%g0"] {
            assert_eq!(norm(bad), Err(PathError::BadEncoding), "{bad}");
        }
    }

    #[test]
    fn the_query_survives_a_new_path() {
        let uri: http::Uri = "/a//b?x=%2e&y".parse().unwrap();
        let n = normalize_path(uri.path()).unwrap();
        assert_eq!(with_path(&uri, &n.path).unwrap(), "/a/b?x=%2e&y");
    }

    proptest::proptest! {
        #[test]
        fn normalizing_is_idempotent_and_safe(path in "/[a-zA-Z0-9%./\\\\~_-]{0,40}") {
            if let Ok(first) = normalize_path(&path) {
                let again = normalize_path(&first.path).expect("a normal path stays valid");
                proptest::prop_assert_eq!(&again.path, &first.path);
                proptest::prop_assert_eq!(again.encoded_slash, first.encoded_slash);
                proptest::prop_assert!(!first.path.contains("//"));
                proptest::prop_assert!(!first.path.split('/').any(|s| s == "." || s == ".."));
                proptest::prop_assert!(first.path.parse::<http::uri::PathAndQuery>().is_ok());
            }
        }

        #[test]
        fn decoding_is_what_a_backend_would_do(segment in "[a-zA-Z0-9._~-]{1,12}") {
            // Writing any unreserved character encoded routes like the plain text.
            let encoded: String = segment.bytes().map(|b| format!("%{b:02x}")).collect();
            let (plain, encoded) = (format!("/{segment}"), format!("/{encoded}"));
            proptest::prop_assert_eq!(normalize_path(&plain), normalize_path(&encoded));
        }
    }
}
