//! A route's checks on the request itself — the "limits, headers" stage of the policy
//! order — and the security headers on its responses.
//!
//! - On the head, right after routing and before the route's per-IP limit (cheap, no
//!   body read): header count and size (431), encoded slashes (400), a declared body
//!   over the limit (413, or 400 for JSON), the content type (415). [`RequestPolicy::check_head`]
//! - After authentication, before the action: query screening, then the body — JSON
//!   routes buffer it up to their limit and check it (400), other routes stream it under
//!   `max_body_bytes` ([`body::RequestBody`]). Done in `service.rs`.
//! - On the response: [`headers::CompiledSecurityHeaders`].
//!
//! [`ambiguous_framing`] is the one framing check hyper leaves to us (see
//! `docs/decisions.md`, "Request policy").

pub mod body;
pub mod events;
pub mod headers;
pub mod json;
pub mod screening;

use std::sync::Arc;

use bulwark_config::routes::{RequestRules, Route};
use http::header::{self, HeaderMap};

use self::headers::CompiledSecurityHeaders;
use crate::problem::Problem;

/// What the checks need to know about the head as the client sent it, taken before
/// bulwark removes hop-by-hop headers or adds its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeadFacts {
    pub header_count: usize,
    /// Sum of the header names' and values' lengths.
    pub header_bytes: usize,
    /// The body is chunked (`Transfer-Encoding`, removed before forwarding).
    pub chunked: bool,
    /// A body follows the head (HTTP/1 `Content-Length` above 0 or chunked; HTTP/2
    /// without `END_STREAM` on the headers, with or without a length).
    pub has_body: bool,
}

impl HeadFacts {
    /// `has_body` is the body's own `!is_end_stream()`.
    pub fn of(headers: &HeaderMap, has_body: bool) -> Self {
        let mut facts = HeadFacts {
            header_count: headers.len(),
            chunked: headers.contains_key(header::TRANSFER_ENCODING),
            has_body,
            ..HeadFacts::default()
        };
        for (name, value) in headers {
            facts.header_bytes += name.as_str().len() + value.len();
        }
        facts
    }
}

/// True when `Transfer-Encoding` is anything but a single `chunked`. hyper refuses a
/// final coding other than `chunked` itself; it accepts `gzip, chunked`,
/// `chunked, chunked` or two `Transfer-Encoding` lines, decodes the chunks and would
/// forward the rest of the body under codings nobody announced to the upstream.
pub fn ambiguous_framing(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::TRANSFER_ENCODING).iter();
    match (values.next(), values.next()) {
        (None, _) => false,
        (Some(one), None) => !one
            .to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked")),
        (Some(_), Some(_)) => true,
    }
}

/// The declared body length, when there is one and it parses.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// One route's request checks and response headers, compiled from its config.
pub struct RequestPolicy {
    pub route: Arc<str>,
    pub rules: RequestRules,
    pub security_headers: CompiledSecurityHeaders,
}

/// A refusal by the checks: the problem and the `reason` label it is counted under.
pub type Refused = (Problem, &'static str);

impl RequestPolicy {
    pub fn new(route: &Route) -> Self {
        RequestPolicy {
            route: Arc::from(route.name.as_str()),
            rules: route.request.clone(),
            security_headers: CompiledSecurityHeaders::new(&route.security_headers),
        }
    }

    /// The checks that need only the head, cheapest first.
    pub fn check_head(
        &self,
        headers: &HeaderMap,
        facts: &HeadFacts,
        encoded_slash: bool,
    ) -> Result<(), Refused> {
        let rules = &self.rules;
        let too_large = (Problem::HeaderFieldsTooLarge, "header_fields_too_large");
        if rules
            .max_header_count
            .is_some_and(|max| facts.header_count > max)
        {
            return Err(too_large);
        }
        if rules
            .max_header_bytes
            .is_some_and(|max| facts.header_bytes > max)
        {
            return Err(too_large);
        }
        if encoded_slash && !rules.allow_encoded_slashes {
            return Err((Problem::EncodedSlash, "encoded_slash"));
        }
        let declared = content_length(headers);
        if let (Some(max), Some(len)) = (rules.max_body_bytes, declared)
            && len > max
        {
            return Err((Problem::BodyTooLarge, "body_too_large"));
        }
        if let (Some(json), Some(len)) = (rules.json, declared)
            && len > json.max_bytes
        {
            return Err((Problem::JsonTooLarge, "json_too_large"));
        }
        if facts.has_body && !rules.content_types.is_empty() {
            let media_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(media_type);
            if !media_type.is_some_and(|t| media_type_allowed(&rules.content_types, &t)) {
                return Err((Problem::UnsupportedMediaType, "unsupported_media_type"));
            }
        }
        Ok(())
    }
}

/// `Application/JSON; charset=utf-8` -> `application/json`.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `allowed` holds lower-case `type/subtype` or `type/*`.
fn media_type_allowed(allowed: &[String], media_type: &str) -> bool {
    allowed.iter().any(|a| match a.strip_suffix("/*") {
        Some(kind) => media_type
            .strip_prefix(kind)
            .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1),
        None => a == media_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_config::routes::JsonChecks;
    use http::HeaderValue;

    fn policy(rules: RequestRules) -> RequestPolicy {
        RequestPolicy {
            route: Arc::from("r"),
            rules,
            security_headers: CompiledSecurityHeaders::default(),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    /// As an HTTP/1 head announces its body.
    fn facts_of(h: &HeaderMap) -> HeadFacts {
        let has_body =
            h.contains_key("transfer-encoding") || content_length(h).is_some_and(|n| n > 0);
        HeadFacts::of(h, has_body)
    }

    fn check(rules: RequestRules, pairs: &[(&str, &str)]) -> Result<(), &'static str> {
        let h = headers(pairs);
        policy(rules)
            .check_head(&h, &facts_of(&h), false)
            .map_err(|(_, reason)| reason)
    }

    #[test]
    fn header_limits_count_what_the_client_sent() {
        let h = headers(&[("a", "1"), ("b", "22"), ("a", "333")]);
        let facts = HeadFacts::of(&h, false);
        assert_eq!((facts.header_count, facts.header_bytes), (3, 9));
        let rules = |count, bytes| RequestRules {
            max_header_count: count,
            max_header_bytes: bytes,
            ..RequestRules::default()
        };
        let p = policy(rules(Some(3), Some(9)));
        assert!(p.check_head(&h, &facts, false).is_ok());
        let p = policy(rules(Some(2), None));
        assert_eq!(
            p.check_head(&h, &facts, false).unwrap_err().0,
            Problem::HeaderFieldsTooLarge
        );
        let p = policy(rules(None, Some(8)));
        assert!(p.check_head(&h, &facts, false).is_err());
    }

    #[test]
    fn declared_bodies_over_the_limit_are_refused_before_reading() {
        let rules = RequestRules {
            max_body_bytes: Some(10),
            ..RequestRules::default()
        };
        assert_eq!(
            check(rules.clone(), &[("content-length", "11")]),
            Err("body_too_large")
        );
        assert_eq!(check(rules, &[("content-length", "10")]), Ok(()));
        let json = RequestRules {
            json: Some(JsonChecks {
                max_depth: 4,
                max_bytes: 5,
            }),
            ..RequestRules::default()
        };
        assert_eq!(
            check(json, &[("content-length", "6")]),
            Err("json_too_large")
        );
    }

    #[test]
    fn content_types_match_by_media_type() {
        let rules = RequestRules {
            content_types: vec!["application/json".into(), "text/*".into()],
            ..RequestRules::default()
        };
        let ok = |ct: &str| {
            check(
                rules.clone(),
                &[("content-length", "1"), ("content-type", ct)],
            )
        };
        assert_eq!(ok("Application/JSON; charset=utf-8"), Ok(()));
        assert_eq!(ok("text/plain"), Ok(()));
        assert_eq!(ok("application/xml"), Err("unsupported_media_type"));
        assert_eq!(ok("text"), Err("unsupported_media_type"));
        assert_eq!(ok("application/jsonx"), Err("unsupported_media_type"));
        assert_eq!(
            check(rules.clone(), &[("content-length", "1")]),
            Err("unsupported_media_type"),
            "a body without a type"
        );
        assert_eq!(check(rules.clone(), &[]), Ok(()), "no body, no type needed");
        assert_eq!(
            check(rules, &[("transfer-encoding", "chunked")]),
            Err("unsupported_media_type")
        );
    }

    #[test]
    fn encoded_slashes_need_the_routes_consent() {
        let h = HeaderMap::new();
        let facts = HeadFacts::of(&h, false);
        let strict = policy(RequestRules::default());
        assert_eq!(
            strict.check_head(&h, &facts, true).unwrap_err().0,
            Problem::EncodedSlash
        );
        let lax = policy(RequestRules {
            allow_encoded_slashes: true,
            ..RequestRules::default()
        });
        assert!(lax.check_head(&h, &facts, true).is_ok());
    }

    #[test]
    fn only_a_single_chunked_coding_is_unambiguous() {
        let te = |values: &[&str]| {
            let pairs: Vec<_> = values.iter().map(|v| ("transfer-encoding", *v)).collect();
            ambiguous_framing(&headers(&pairs))
        };
        assert!(!te(&[]));
        assert!(!te(&["chunked"]));
        assert!(!te(&[" Chunked "]));
        assert!(te(&["gzip, chunked"]));
        assert!(te(&["chunked, chunked"]));
        assert!(te(&["chunked", "chunked"]));
        assert!(te(&["identity"]));
    }
}
