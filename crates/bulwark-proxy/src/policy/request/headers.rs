//! Security headers added to a route's responses, pure. A header the upstream set is
//! left as it is (the app knows its pages best); `Server` and `X-Powered-By` from the
//! upstream are always removed, as they only tell an attacker which versions to try.

use bulwark_config::routes::SecurityHeaders;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

pub const X_POWERED_BY: HeaderName = HeaderName::from_static("x-powered-by");

/// A route's security headers as ready-made values.
#[derive(Clone, Debug, Default)]
pub struct CompiledSecurityHeaders {
    nosniff: bool,
    frame_options: Option<HeaderValue>,
    /// `frame-ancestors …`, sent as the whole CSP when the upstream sets none.
    csp: Option<HeaderValue>,
    referrer_policy: Option<HeaderValue>,
    /// Only on TLS connections: on plain HTTP the browser ignores it (RFC 6797 §8.1).
    hsts: Option<HeaderValue>,
}

impl CompiledSecurityHeaders {
    pub fn new(config: &SecurityHeaders) -> Self {
        // Validation allowed printable ASCII only, which every header value can carry.
        let value = |v: &Option<String>| v.as_deref().and_then(|v| HeaderValue::from_str(v).ok());
        CompiledSecurityHeaders {
            nosniff: config.content_type_options,
            frame_options: value(&config.frame_options),
            csp: config
                .frame_ancestors
                .as_deref()
                .and_then(|v| HeaderValue::from_str(&format!("frame-ancestors {v}")).ok()),
            referrer_policy: value(&config.referrer_policy),
            hsts: value(&config.hsts),
        }
    }

    pub fn apply(&self, headers: &mut HeaderMap, tls: bool) {
        headers.remove(header::SERVER);
        headers.remove(X_POWERED_BY);
        if self.nosniff && !headers.contains_key(header::X_CONTENT_TYPE_OPTIONS) {
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
        }
        let mut add = |name: HeaderName, value: &Option<HeaderValue>| {
            if let Some(value) = value
                && !headers.contains_key(&name)
            {
                headers.insert(name, value.clone());
            }
        };
        add(header::X_FRAME_OPTIONS, &self.frame_options);
        add(header::CONTENT_SECURITY_POLICY, &self.csp);
        add(header::REFERRER_POLICY, &self.referrer_policy);
        if tls {
            add(header::STRICT_TRANSPORT_SECURITY, &self.hsts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_added_and_server_headers_removed() {
        let compiled = CompiledSecurityHeaders::new(&SecurityHeaders::default());
        let mut h = HeaderMap::new();
        h.insert("server", "uvicorn".parse().unwrap());
        h.insert("x-powered-by", "Express".parse().unwrap());
        compiled.apply(&mut h, false);
        assert!(!h.contains_key("server") && !h.contains_key("x-powered-by"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["content-security-policy"], "frame-ancestors 'none'");
        assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
        assert!(
            !h.contains_key("strict-transport-security"),
            "not on plain HTTP"
        );
        let mut h = HeaderMap::new();
        compiled.apply(&mut h, true);
        assert_eq!(
            h["strict-transport-security"],
            "max-age=31536000; includeSubDomains"
        );
    }

    #[test]
    fn the_upstreams_own_headers_win() {
        let compiled = CompiledSecurityHeaders::new(&SecurityHeaders::default());
        let mut h = HeaderMap::new();
        h.insert(
            "content-security-policy",
            "default-src 'self'".parse().unwrap(),
        );
        h.insert("x-frame-options", "SAMEORIGIN".parse().unwrap());
        h.insert("strict-transport-security", "max-age=60".parse().unwrap());
        compiled.apply(&mut h, true);
        assert_eq!(h["content-security-policy"], "default-src 'self'");
        assert_eq!(h["x-frame-options"], "SAMEORIGIN");
        assert_eq!(h["strict-transport-security"], "max-age=60");
    }

    #[test]
    fn switched_off_adds_nothing_but_still_strips() {
        let compiled = CompiledSecurityHeaders::new(&SecurityHeaders::none());
        let mut h = HeaderMap::new();
        h.insert("server", "nginx".parse().unwrap());
        compiled.apply(&mut h, true);
        assert!(h.is_empty());
    }
}
