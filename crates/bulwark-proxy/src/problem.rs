//! RFC 9457 problem responses: the one way the public listener reports an error. They
//! say what happened and carry the request id, never internals (addresses, causes).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

/// The error kinds a client of the public listener can see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Host missing, repeated, or not a valid authority.
    BadHost,
    /// The path has `.` or `..` segments.
    BadPath,
    /// The client's request body broke off or was malformed mid-stream.
    BadRequestBody,
    NoRoute,
    /// The webhook's signature did not verify.
    BadSignature,
    /// The body is above the webhook's limit.
    PayloadTooLarge,
    /// The store cannot take the webhook now; the sender should retry.
    StoreUnavailable,
    RequestHeadTimeout,
    RequestHeadTooLarge,
    BadGateway,
    NoHealthyTarget,
    GatewayTimeout,
    /// No credentials, or credentials that did not verify.
    Unauthorized,
    /// Authenticated, but without a role the route requires.
    Forbidden,
    /// Over a rate limit; `Retry-After` and `RateLimit` say when to come back.
    TooManyRequests,
    /// The shared rate-limit backend is down and the route's limit says `deny`.
    RateLimiterUnavailable,
    /// A `%` without two hex digits after it, or an encoded NUL, in the path.
    BadPathEncoding,
    /// `%2F`, `%5C` or `\` in the path of a route that does not allow them.
    EncodedSlash,
    /// Message framing bulwark will not forward (e.g. `Transfer-Encoding` other than
    /// one `chunked`): a request-smuggling risk.
    MalformedRequest,
    /// The path matches routes, the method none of them; `Allow` lists the methods.
    MethodNotAllowed,
    /// The body is above the route's `max_body_bytes`.
    BodyTooLarge,
    /// More header fields, or more header bytes, than the route accepts.
    HeaderFieldsTooLarge,
    /// The body's media type is not in the route's `content_types`.
    UnsupportedMediaType,
    /// The JSON body does not parse.
    JsonMalformed,
    /// The JSON body is nested deeper than the route allows.
    JsonTooDeep,
    /// The JSON body is larger than the route's `json.max_bytes`.
    JsonTooLarge,
    /// Input screening matched a SQL-injection or XSS pattern.
    ScreeningBlocked,
    /// A body the route must check whole did not arrive in time.
    RequestBodyTimeout,
}

impl Problem {
    pub fn status(self) -> StatusCode {
        match self {
            Problem::BadHost | Problem::BadPath | Problem::BadRequestBody => {
                StatusCode::BAD_REQUEST
            }
            Problem::NoRoute => StatusCode::NOT_FOUND,
            Problem::BadSignature => StatusCode::UNAUTHORIZED,
            Problem::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Problem::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Problem::RequestHeadTimeout => StatusCode::REQUEST_TIMEOUT,
            Problem::RequestHeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Problem::BadGateway => StatusCode::BAD_GATEWAY,
            Problem::NoHealthyTarget => StatusCode::SERVICE_UNAVAILABLE,
            Problem::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            Problem::Unauthorized => StatusCode::UNAUTHORIZED,
            Problem::Forbidden => StatusCode::FORBIDDEN,
            Problem::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Problem::RateLimiterUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Problem::BadPathEncoding
            | Problem::EncodedSlash
            | Problem::MalformedRequest
            | Problem::JsonMalformed
            | Problem::JsonTooDeep
            | Problem::JsonTooLarge => StatusCode::BAD_REQUEST,
            Problem::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Problem::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Problem::HeaderFieldsTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Problem::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Problem::ScreeningBlocked => StatusCode::FORBIDDEN,
            Problem::RequestBodyTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    fn slug_and_detail(self) -> (&'static str, &'static str) {
        match self {
            Problem::BadHost => (
                "bad-host",
                "The Host header is missing, repeated, or conflicts with the request target.",
            ),
            Problem::BadPath => ("bad-path", "The path contains '.' or '..' segments."),
            Problem::BadRequestBody => (
                "bad-request-body",
                "The request body could not be read completely.",
            ),
            Problem::NoRoute => ("no-route", "No route matches this request."),
            Problem::BadSignature => (
                "bad-signature",
                "The webhook signature is missing, malformed, stale or does not match.",
            ),
            Problem::PayloadTooLarge => (
                "payload-too-large",
                "The body is larger than this webhook accepts.",
            ),
            Problem::StoreUnavailable => (
                "store-unavailable",
                "The webhook could not be stored; retry later.",
            ),
            Problem::RequestHeadTimeout => (
                "request-head-timeout",
                "The request head was not received in time.",
            ),
            Problem::RequestHeadTooLarge => (
                "request-head-too-large",
                "The request line and headers are too large.",
            ),
            Problem::BadGateway => (
                "bad-gateway",
                "The upstream service could not be reached or answered incorrectly.",
            ),
            Problem::NoHealthyTarget => (
                "no-healthy-upstream",
                "No upstream target is currently healthy; retry later.",
            ),
            Problem::GatewayTimeout => (
                "gateway-timeout",
                "The upstream service did not answer in time.",
            ),
            Problem::Unauthorized => (
                "unauthorized",
                "Credentials are missing, malformed, expired or not valid for this API.",
            ),
            Problem::Forbidden => (
                "forbidden",
                "The credentials are valid but lack a role this route requires.",
            ),
            Problem::TooManyRequests => (
                "too-many-requests",
                "Rate limit exceeded; retry after the time in Retry-After.",
            ),
            Problem::RateLimiterUnavailable => (
                "rate-limiter-unavailable",
                "Rate limits cannot be checked right now; retry shortly.",
            ),
            Problem::BadPathEncoding => (
                "bad-path-encoding",
                "The path has an invalid percent-encoding or an encoded NUL.",
            ),
            Problem::EncodedSlash => (
                "encoded-slash",
                "The path contains an encoded slash or a backslash, which this route does not accept.",
            ),
            Problem::MalformedRequest => (
                "malformed-request",
                "The request's message framing is ambiguous or invalid.",
            ),
            Problem::MethodNotAllowed => (
                "method-not-allowed",
                "This path does not accept this method; Allow lists the methods it does.",
            ),
            Problem::BodyTooLarge => (
                "body-too-large",
                "The request body is larger than this route accepts.",
            ),
            Problem::HeaderFieldsTooLarge => (
                "header-fields-too-large",
                "The request has more header fields, or larger ones, than this route accepts.",
            ),
            Problem::UnsupportedMediaType => (
                "unsupported-media-type",
                "This route does not accept a body of this Content-Type.",
            ),
            Problem::JsonMalformed => ("json-malformed", "The JSON body is not well-formed."),
            Problem::JsonTooDeep => (
                "json-too-deep",
                "The JSON body is nested deeper than this route accepts.",
            ),
            Problem::JsonTooLarge => (
                "json-too-large",
                "The JSON body is larger than this route accepts.",
            ),
            Problem::ScreeningBlocked => (
                "screening-blocked",
                "The request was refused by input screening.",
            ),
            Problem::RequestBodyTimeout => (
                "request-body-timeout",
                "The request body was not received in time.",
            ),
        }
    }

    /// The JSON body; `request_id` lets the client quote the request to the operator.
    pub fn body(self, request_id: Option<&str>) -> Bytes {
        let (slug, detail) = self.slug_and_detail();
        let status = self.status();
        let mut body = serde_json::json!({
            "type": format!("https://bulwark.dev/problems/{slug}"),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        if let Some(id) = request_id {
            body["request_id"] = serde_json::Value::from(id);
        }
        Bytes::from(serde_json::to_vec(&body).expect("a json! value always serialises"))
    }

    pub fn response<B: From<Bytes>>(self, request_id: Option<&str>) -> Response<B> {
        let mut response = Response::new(B::from(self.body(request_id)));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            Problem::NoHealthyTarget => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Problem::StoreUnavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }

    /// A complete HTTP/1.1 response for the cases answered before hyper owns the
    /// connection (head timeout, head too large). The connection closes after it.
    pub fn raw_http1(self) -> Vec<u8> {
        let body = self.body(None);
        let status = self.status();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_rfc9457_without_internals() {
        let body: serde_json::Value =
            serde_json::from_slice(&Problem::BadGateway.body(Some("abc"))).unwrap();
        assert_eq!(body["status"], 502);
        assert_eq!(body["title"], "Bad Gateway");
        assert_eq!(body["request_id"], "abc");
        assert!(body["type"].as_str().unwrap().ends_with("/bad-gateway"));
    }

    #[test]
    fn raw_response_has_a_matching_length() {
        let raw = String::from_utf8(Problem::RequestHeadTimeout.raw_http1()).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
    }
}
