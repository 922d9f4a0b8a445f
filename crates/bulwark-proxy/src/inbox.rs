//! The `inbox` action: check the provider's signature, store the webhook exactly as
//! received, and answer 2xx only once it is committed to disk. The dispatcher delivers
//! it to the app afterwards. A bad signature gets 401 and nothing is stored; a body
//! above the limit gets 413 before it is read; a store that cannot take it gets 503
//! with `Retry-After`, so the provider retries instead of losing it.
//!
//! Each stored webhook gets an event id for dedup — the configured source (a header or
//! a JSON pointer into the body), else the scheme's own id, else a hash of the body —
//! and, when configured, an ordering key.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bulwark_config::webhooks::FieldSource;
use bulwark_events::{Bus, BusEvent, ViolationKind};
use bulwark_queue::store::{NewMessage, Persist, Persisted, SqliteStore};
use bulwark_signatures::{Scheme, SignedRequest};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use sha2::Digest as _;
use tokio::sync::Notify;

use crate::events::WebhookMetrics;
use crate::problem::Problem;
use crate::proxy::ResponseBody;

pub struct Inbox {
    /// The webhook's name: its messages' destination.
    pub name: String,
    pub scheme: Scheme,
    /// Twilio: the public URL it calls, to which the request's query string is appended
    /// to rebuild the signed URL.
    pub public_url: Option<String>,
    /// Where the event id comes from when the scheme's own id is not wanted.
    pub event_id: Option<FieldSource>,
    pub ordering_key: Option<FieldSource>,
    pub secrets: Vec<Vec<u8>>,
    pub max_body_bytes: usize,
    /// The whole body must arrive within this (`timeouts.request_head`): without it, an
    /// unauthenticated client could hold `max_body_bytes` per connection by trickling.
    pub read_timeout: std::time::Duration,
    pub dedup_window_ms: i64,
    pub store: SqliteStore,
    /// Wakes the dispatcher after a commit, so delivery starts without polling.
    pub waker: Arc<Notify>,
    pub metrics: WebhookMetrics,
}

pub async fn receive(
    inbox: &Inbox,
    request: Request<Incoming>,
    client_ip: IpAddr,
    bus: &Bus,
) -> Result<Response<ResponseBody>, Problem> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > inbox.max_body_bytes as u64) {
        inbox.metrics.received("too_large");
        return Err(Problem::PayloadTooLarge);
    }
    let (parts, body) = request.into_parts();
    let collected = tokio::time::timeout(
        inbox.read_timeout,
        Limited::new(body, inbox.max_body_bytes).collect(),
    )
    .await;
    let Ok(collected) = collected else {
        inbox.metrics.received("body_timeout");
        return Err(Problem::RequestBodyTimeout);
    };
    let body: Bytes = match collected {
        Ok(collected) => collected.to_bytes(),
        Err(error)
            if error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            inbox.metrics.received("too_large");
            return Err(Problem::PayloadTooLarge);
        }
        Err(_) => {
            inbox.metrics.received("bad_body");
            return Err(Problem::BadRequestBody);
        }
    };

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // In its own block: the request view borrows a non-Sync trait object and must not
    // live across the store's await.
    let checked = {
        let form: Vec<(Cow<'_, str>, Cow<'_, str>)> =
            if inbox.public_url.is_some() && is_form(&parts.headers) {
                form_urlencoded::parse(&body).collect()
            } else {
                Vec::new()
            };
        let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (&**n, &**v)).collect();
        let url = inbox
            .public_url
            .as_ref()
            .map(|base| signed_url(base, parts.uri.query()));
        let mut request = SignedRequest::new(&body, &parts.headers).with_form(&form);
        if let Some(url) = &url {
            request = request.with_url(url);
        }
        inbox.scheme.verify(&request, &inbox.secrets, now.as_secs())
    };
    let verified = match checked {
        Ok(verified) => {
            inbox.metrics.signature("valid");
            verified
        }
        Err(error) => {
            inbox.metrics.signature("invalid");
            inbox.metrics.received("bad_signature");
            tracing::info!(webhook = %inbox.name, %client_ip, reason = %error, "Webhook signature refused.");
            bus.publish(BusEvent::SecurityViolation {
                kind: ViolationKind::WebhookSignatureInvalid,
                client_ip: client_ip.to_string(),
            });
            return Err(Problem::BadSignature);
        }
    };

    let (event_id, ordering_key) = {
        let fields = RequestFields::new(&parts.headers, &body);
        let scheme_id = match &inbox.scheme {
            Scheme::Twilio(_) => fields.header(TWILIO_IDEMPOTENCY_HEADER),
            _ => verified.event_id,
        };
        (
            fields.event_id(inbox.event_id.as_ref(), scheme_id),
            fields.ordering_key(inbox.ordering_key.as_ref()),
        )
    };
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), value.as_bytes().to_vec()))
        .collect();
    let now_ms = now.as_millis() as i64;
    let message = NewMessage {
        destination: inbox.name.clone(),
        body,
        headers,
        event_id: Some(event_id),
        ordering_key,
        next_attempt_at_ms: now_ms,
    };
    let (status, id) = match inbox
        .store
        .persist(message, inbox.dedup_window_ms, now_ms)
        .await
    {
        Ok(Persisted::Stored(id)) => {
            inbox.waker.notify_one();
            inbox.metrics.received("stored");
            ("stored", id)
        }
        Ok(Persisted::Duplicate(id)) => {
            inbox.metrics.received("duplicate");
            ("duplicate", id)
        }
        Err(error) => {
            inbox.metrics.received("store_unavailable");
            tracing::error!(webhook = %inbox.name, error = %error, "Webhook could not be stored.");
            return Err(Problem::StoreUnavailable);
        }
    };
    let body = serde_json::json!({ "status": status, "id": id.to_string() });
    let mut response = Response::new(ResponseBody::full(Bytes::from(body.to_string())));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Twilio's own id for a request, the same across its retries.
const TWILIO_IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";

/// Longest event id or ordering key stored as given; longer ones are replaced by a hash
/// so that a sender cannot bloat the dedup index.
pub const MAX_KEY_BYTES: usize = 200;

/// The URL Twilio signed: the configured public URL plus the request's query string.
fn signed_url(public_url: &str, query: Option<&str>) -> String {
    match query {
        Some(query) => format!("{public_url}?{query}"),
        None => public_url.to_string(),
    }
}

/// True for `application/x-www-form-urlencoded`, with or without parameters.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// `sha256:` and the hex SHA-256 of `bytes`.
fn sha256_tag(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// What the event id and ordering key are read from: the headers, and the body parsed
/// as JSON at most once, only if a JSON pointer asks for it.
struct RequestFields<'a> {
    headers: &'a HeaderMap,
    body: &'a [u8],
    json: OnceCell<Option<serde_json::Value>>,
}

impl<'a> RequestFields<'a> {
    fn new(headers: &'a HeaderMap, body: &'a [u8]) -> Self {
        RequestFields {
            headers,
            body,
            json: OnceCell::new(),
        }
    }

    /// The first value of header `name` as trimmed UTF-8, if present and not empty.
    fn header(&self, name: &str) -> Option<String> {
        let value = self.headers.get(name)?;
        let text = std::str::from_utf8(value.as_bytes()).ok()?.trim();
        (!text.is_empty()).then(|| text.to_string())
    }

    /// What `source` finds: a header's value, or the value at a JSON pointer when it is
    /// a non-empty string (as is) or a number (its JSON text). Anything else — header
    /// absent, body not JSON, pointer missing, another type — finds nothing.
    fn find(&self, source: &FieldSource) -> Option<String> {
        match source {
            FieldSource::Header(name) => self.header(name),
            FieldSource::JsonPointer(pointer) => {
                let json = self
                    .json
                    .get_or_init(|| serde_json::from_slice(self.body).ok())
                    .as_ref()?;
                match json.pointer(pointer)? {
                    serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }
            }
        }
    }

    /// The configured source if there is one (it overrides the scheme's id), else the
    /// scheme's id; when that finds nothing or is longer than [`MAX_KEY_BYTES`], the
    /// hash of the body, so every webhook is deduplicated.
    fn event_id(&self, configured: Option<&FieldSource>, scheme_id: Option<String>) -> String {
        let id = match configured {
            Some(source) => self.find(source),
            None => scheme_id,
        };
        match id {
            Some(id) if !id.is_empty() && id.len() <= MAX_KEY_BYTES => id,
            _ => sha256_tag(self.body),
        }
    }

    /// The configured ordering key; nothing found means unordered. A key longer than
    /// [`MAX_KEY_BYTES`] is replaced by its hash, so it still orders.
    fn ordering_key(&self, configured: Option<&FieldSource>) -> Option<String> {
        let key = self.find(configured?)?;
        Some(if key.len() > MAX_KEY_BYTES {
            sha256_tag(key.as_bytes())
        } else {
            key
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"a":1}"#;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    http::HeaderName::from_static(n),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn pointer(p: &str) -> FieldSource {
        FieldSource::JsonPointer(p.into())
    }

    fn find(body: &[u8], source: &FieldSource) -> Option<String> {
        RequestFields::new(&HeaderMap::new(), body).find(source)
    }

    #[test]
    fn json_pointers_take_strings_as_is_and_numbers_as_their_json_text() {
        let body = br#"{"event":{"id":"evt_1 ","seq":42,"big":12345678901234567890,"f":1.5,
            "obj":{},"arr":[1],"t":true,"n":null,"empty":""},"a/b":"slash","m~n":"tilde"}"#;
        assert_eq!(find(body, &pointer("/event/id")).as_deref(), Some("evt_1 "));
        assert_eq!(find(body, &pointer("/event/seq")).as_deref(), Some("42"));
        assert_eq!(
            find(body, &pointer("/event/big")).as_deref(),
            Some("12345678901234567890")
        );
        assert_eq!(find(body, &pointer("/event/f")).as_deref(), Some("1.5"));
        assert_eq!(find(body, &pointer("/a~1b")).as_deref(), Some("slash"));
        assert_eq!(find(body, &pointer("/m~0n")).as_deref(), Some("tilde"));
        for other in ["obj", "arr", "t", "n", "empty", "missing"] {
            assert_eq!(
                find(body, &pointer(&format!("/event/{other}"))),
                None,
                "{other}"
            );
        }
        assert_eq!(find(b"not json", &pointer("/event/id")), None);
        assert_eq!(find(b"", &pointer("/event/id")), None);
    }

    #[test]
    fn headers_are_found_trimmed_and_case_insensitively() {
        let h = headers(&[("x-request-id", " req-1 "), ("x-empty", " ")]);
        let fields = RequestFields::new(&h, BODY);
        assert_eq!(
            fields
                .find(&FieldSource::Header("x-request-id".into()))
                .as_deref(),
            Some("req-1")
        );
        assert_eq!(fields.header("X-Request-Id").as_deref(), Some("req-1"));
        assert_eq!(fields.find(&FieldSource::Header("x-empty".into())), None);
        assert_eq!(fields.find(&FieldSource::Header("x-other".into())), None);
    }

    #[test]
    fn event_ids_prefer_the_configured_source_then_the_scheme_then_the_body_hash() {
        // printf '{"a":1}' | sha256sum
        let hash = "sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862";
        let h = headers(&[("x-request-id", "req-1")]);
        let fields = RequestFields::new(&h, BODY);
        let header = FieldSource::Header("x-request-id".into());
        let absent = FieldSource::Header("x-absent".into());
        assert_eq!(fields.event_id(Some(&header), Some("evt".into())), "req-1");
        assert_eq!(fields.event_id(None, Some("evt".into())), "evt");
        assert_eq!(fields.event_id(None, None), hash);
        assert_eq!(
            fields.event_id(Some(&absent), Some("evt".into())),
            hash,
            "a configured source that finds nothing falls back to the hash, not the scheme"
        );
        assert_eq!(fields.event_id(Some(&pointer("/a")), None), "1");
    }

    #[test]
    fn event_ids_longer_than_the_cap_become_the_body_hash() {
        let none = HeaderMap::new();
        let fields = RequestFields::new(&none, BODY);
        let at_cap = "e".repeat(MAX_KEY_BYTES);
        assert_eq!(fields.event_id(None, Some(at_cap.clone())), at_cap);
        assert_eq!(
            fields.event_id(None, Some(format!("{at_cap}e"))),
            sha256_tag(BODY)
        );
    }

    #[test]
    fn ordering_keys_have_no_fallback_and_long_ones_are_hashed() {
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        let body = format!(r#"{{"customer":"cus_1","long":"{long}"}}"#);
        let none = HeaderMap::new();
        let fields = RequestFields::new(&none, body.as_bytes());
        assert_eq!(fields.ordering_key(None), None);
        assert_eq!(
            fields.ordering_key(Some(&pointer("/customer"))).as_deref(),
            Some("cus_1")
        );
        assert_eq!(fields.ordering_key(Some(&pointer("/missing"))), None);
        assert_eq!(
            fields.ordering_key(Some(&FieldSource::Header("x-k".into()))),
            None
        );
        let hashed = fields.ordering_key(Some(&pointer("/long"))).unwrap();
        assert_eq!(hashed, sha256_tag(long.as_bytes()));
        assert!(hashed.len() <= MAX_KEY_BYTES);
        let not_json = RequestFields::new(&none, b"a=b");
        assert_eq!(not_json.ordering_key(Some(&pointer("/customer"))), None);
    }

    #[test]
    fn the_body_hash_is_sha256_hex() {
        // printf '' | sha256sum
        assert_eq!(
            sha256_tag(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn the_signed_url_is_the_public_url_and_the_query() {
        assert_eq!(
            signed_url("https://example.com/sms", Some("foo=1&bar=2")),
            "https://example.com/sms?foo=1&bar=2"
        );
        assert_eq!(
            signed_url("https://example.com/sms", None),
            "https://example.com/sms"
        );
    }

    #[test]
    fn form_bodies_are_recognised_with_parameters() {
        let ct = |v: &str| headers(&[("content-type", v)]);
        assert!(is_form(&ct("application/x-www-form-urlencoded")));
        assert!(is_form(&ct(
            "Application/X-WWW-Form-Urlencoded; charset=utf-8"
        )));
        assert!(!is_form(&ct("application/json")));
        assert!(!is_form(&HeaderMap::new()));
    }

    #[test]
    fn form_parameters_are_percent_and_plus_decoded() {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(b"Caller=%2B1234&Body=hello+w%C3%B6rld&Empty=&Flag")
                .into_owned()
                .collect();
        let expected = [
            ("Caller", "+1234"),
            ("Body", "hello w\u{f6}rld"),
            ("Empty", ""),
            ("Flag", ""),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(pairs, expected);
    }
}
