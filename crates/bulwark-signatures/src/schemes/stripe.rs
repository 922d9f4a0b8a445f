//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 over
//! `<t>.<body>` keyed with the whole `whsec_...` string (not its base64 decoding, unlike
//! Standard Webhooks). During a secret roll Stripe sends one `v1` per active secret.

use crate::crypto::{check_tolerance, ct_eq, first_match, hmac_sha256, parse_timestamp};
use crate::{DEFAULT_TOLERANCE_SECS, SignatureError, SignedRequest, Verified};

pub const HEADER: &str = "Stripe-Signature";

/// At most this many `v1` entries are read; Stripe sends one per active secret.
const MAX_SIGNATURES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripe {
    pub tolerance: u64,
}

impl Default for Stripe {
    fn default() -> Self {
        Stripe {
            tolerance: DEFAULT_TOLERANCE_SECS,
        }
    }
}

/// The parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeHeader {
    pub timestamp: u64,
    /// The decoded `v1` signatures (other schemes such as `v0` are ignored, as in Stripe's
    /// SDKs).
    pub signatures: Vec<Vec<u8>>,
}

/// Parses `t=...,v1=...`. Undecodable `v1` values are dropped (they cannot match), but at
/// least one well-formed `v1` and exactly one `t` are required.
pub fn parse_header(value: &str) -> Result<StripeHeader, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        let Some((key, val)) = item.trim().split_once('=') else {
            return Err(SignatureError::malformed(HEADER, "an item has no `=`"));
        };
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::malformed(HEADER, "more than one `t`"));
                }
                timestamp = Some(parse_timestamp(HEADER, val)?);
            }
            "v1" => {
                if signatures.len() >= MAX_SIGNATURES {
                    return Err(SignatureError::malformed(
                        HEADER,
                        "too many `v1` signatures",
                    ));
                }
                if let Ok(sig) = hex::decode(val) {
                    signatures.push(sig);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| SignatureError::malformed(HEADER, "no `t`"))?;
    if signatures.is_empty() {
        return Err(SignatureError::malformed(HEADER, "no hex `v1` signature"));
    }
    Ok(StripeHeader {
        timestamp,
        signatures,
    })
}

impl Stripe {
    pub(crate) fn verify(
        &self,
        request: &SignedRequest<'_>,
        secrets: &[&[u8]],
        now: u64,
    ) -> Result<Verified, SignatureError> {
        let header = parse_header(request.required(HEADER)?)?;
        check_tolerance(header.timestamp, now, self.tolerance)?;
        let t = header.timestamp.to_string();
        let secret_index = first_match(secrets, |secret| {
            let expected = hmac_sha256(secret, &[t.as_bytes(), b".", request.body]);
            // Every received signature is compared, not just until the first hit.
            header
                .signatures
                .iter()
                .fold(false, |hit, sig| hit | ct_eq(&expected, sig))
        })?;
        Ok(Verified {
            event_id: event_id(request.body),
            timestamp: Some(header.timestamp),
            secret_index,
        })
    }
}

/// The event's `id` (`evt_...`) from the JSON body, for dedup; `None` when the body is
/// not a JSON object with a string `id`.
fn event_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Event {
        id: Option<String>,
    }
    serde_json::from_slice::<Event>(body).ok()?.id
}
