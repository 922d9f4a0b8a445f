//! The `inbox` action: check the provider's signature, store the webhook exactly as
//! received, and answer 2xx only once it is committed to disk. The dispatcher delivers
//! it to the app afterwards. A bad signature gets 401 and nothing is stored; a body
//! above the limit gets 413 before it is read; a store that cannot take it gets 503
//! with `Retry-After`, so the provider retries instead of losing it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bulwark_events::{Bus, BusEvent, ViolationKind};
use bulwark_queue::store::{NewMessage, Persist, Persisted, SqliteStore};
use bulwark_signatures::{Scheme, SignedRequest};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tokio::sync::Notify;

use crate::events::WebhookMetrics;
use crate::problem::Problem;
use crate::proxy::ResponseBody;

pub struct Inbox {
    /// The webhook's name: its messages' destination.
    pub name: String,
    pub scheme: Scheme,
    pub secrets: Vec<Vec<u8>>,
    pub max_body_bytes: usize,
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
    let body: Bytes = match Limited::new(body, inbox.max_body_bytes).collect().await {
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
    // In its own statement: the request view borrows a non-Sync trait object and must
    // not live across the store's await.
    let checked = inbox.scheme.verify(
        &SignedRequest::new(&body, &parts.headers),
        &inbox.secrets,
        now.as_secs(),
    );
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
        event_id: verified.event_id,
        ordering_key: None,
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
