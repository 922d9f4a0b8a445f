//! One delivery attempt and the contract with the receiving app (DESIGN.md, "The
//! contract with the receiving app"):
//!
//! - the body exactly as stored;
//! - `content-type` and the destination's allow-listed stored headers, never a
//!   provider's signature headers (they would be stale on a retry) nor anything that
//!   collides with the headers below;
//! - `webhook-id`: bulwark's message id, the same across retries, redeliveries and
//!   replays;
//! - [`EVENT_ID_HEADER`]: the provider's own event id, when it had one;
//! - `webhook-timestamp` and `webhook-signature`: computed fresh for every attempt with
//!   the destination's `whsec_...` secret (Standard Webhooks), so the app verifies the
//!   last hop with any Standard Webhooks library.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use super::Destination;
use crate::retry::{AttemptOutcome, parse_retry_after};
use crate::store::Message;

/// bulwark's message id, as in Standard Webhooks.
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
/// Seconds since the Unix epoch when this attempt was signed.
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";
/// The provider's own event id (Stripe's `evt_...`, GitHub's delivery id, ...), so the
/// app can correlate with the provider's dashboard. Absent when the provider sent none.
pub const EVENT_ID_HEADER: &str = "x-bulwark-event-id";

/// Whether a stored header may be forwarded when allow-listed. Refused whatever the
/// allow-list says: anything that looks like a signature (stale on retries, and useless to
/// an app that verifies bulwark's hop), the contract's own headers, and what the HTTP
/// client sets itself.
pub fn is_forwardable(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let refused_exact = [
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "authorization",
        "cookie",
        EVENT_ID_HEADER,
    ];
    let refused_prefix = ["webhook-", "svix-"];
    let refused_part = ["signature", "hmac", "secret", "token"];
    !(refused_exact.contains(&name.as_str())
        || refused_prefix.iter().any(|p| name.starts_with(p))
        || refused_part.iter().any(|p| name.contains(p)))
}

/// The headers of one attempt signed at `timestamp` (seconds since the Unix epoch).
/// Stored headers whose name or value is not valid HTTP are left out.
pub fn contract_headers(
    destination: &Destination,
    message: &Message,
    timestamp: u64,
) -> Result<HeaderMap, bulwark_signatures::SchemeError> {
    let mut headers = HeaderMap::new();
    for (name, value) in &message.headers {
        let allowed = name.eq_ignore_ascii_case(CONTENT_TYPE.as_str())
            || (destination
                .forward_headers
                .iter()
                .any(|a| a.eq_ignore_ascii_case(name))
                && is_forwardable(name));
        if !allowed {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    let id = message.id.to_string();
    let signature = bulwark_signatures::standard::sign(
        &destination.signing_secret,
        &id,
        timestamp,
        &message.body,
    )?;
    let set = |headers: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set(&mut headers, WEBHOOK_ID_HEADER, &id);
    set(
        &mut headers,
        WEBHOOK_TIMESTAMP_HEADER,
        &timestamp.to_string(),
    );
    set(&mut headers, WEBHOOK_SIGNATURE_HEADER, &signature);
    if let Some(event_id) = &message.event_id {
        set(&mut headers, EVENT_ID_HEADER, event_id);
    }
    Ok(headers)
}

/// What one attempt came to, with a short description for `last_error`.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub outcome: AttemptOutcome,
    pub detail: String,
    pub duration: Duration,
}

/// Sends `message` to `destination` once. Never follows redirects (the client is built
/// that way): a 3xx is an answer like any other non-2xx.
pub async fn attempt(
    client: &reqwest::Client,
    destination: &Destination,
    message: &Message,
    now_unix_secs: u64,
) -> Attempt {
    let started = Instant::now();
    let headers = match contract_headers(destination, message, now_unix_secs) {
        Ok(headers) => headers,
        // The secret is checked when the dispatcher is built; this is unreachable in
        // practice, and treated as a transport failure rather than a panic.
        Err(error) => {
            return Attempt {
                outcome: AttemptOutcome::Transport,
                detail: format!("cannot sign the delivery: {error}"),
                duration: started.elapsed(),
            };
        }
    };
    let sent = client
        .post(destination.url.clone())
        .headers(headers)
        .timeout(destination.timeout)
        .body(message.body.clone())
        .send()
        .await;
    let (outcome, detail) = match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, now_unix_secs));
            // The body is not read: the answer is in the status.
            (
                AttemptOutcome::Status {
                    status,
                    retry_after,
                },
                format!("HTTP {status}"),
            )
        }
        Err(error) if error.is_timeout() => (
            AttemptOutcome::Timeout,
            format!("no answer within {:?}", destination.timeout),
        ),
        Err(error) => (AttemptOutcome::Transport, transport_detail(&error)),
    };
    Attempt {
        outcome,
        detail,
        duration: started.elapsed(),
    }
}

/// The error chain of a transport failure, without the URL (it may carry credentials).
fn transport_detail(error: &reqwest::Error) -> String {
    let mut text = String::from("transport error");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
