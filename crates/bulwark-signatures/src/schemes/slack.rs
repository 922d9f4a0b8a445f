//! Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 keyed with the signing secret over
//! `v0:<X-Slack-Request-Timestamp>:<body>`, five minutes of tolerance. Slack defines no
//! event id header common to all its request kinds, so dedup falls back to the body.

use crate::crypto::{check_tolerance, ct_eq, first_match, hmac_sha256, parse_timestamp};
use crate::{DEFAULT_TOLERANCE_SECS, SignatureError, SignedRequest, Verified};

pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slack {
    pub tolerance: u64,
}

impl Default for Slack {
    fn default() -> Self {
        Slack {
            tolerance: DEFAULT_TOLERANCE_SECS,
        }
    }
}

/// Parses `v0=<hex>` into the signature bytes.
pub fn parse_signature(value: &str) -> Result<Vec<u8>, SignatureError> {
    let hex_sig = value
        .strip_prefix("v0=")
        .ok_or_else(|| SignatureError::malformed(SIGNATURE_HEADER, "expected `v0=` prefix"))?;
    hex::decode(hex_sig)
        .map_err(|_| SignatureError::malformed(SIGNATURE_HEADER, "signature is not hex"))
}

impl Slack {
    pub(crate) fn verify(
        &self,
        request: &SignedRequest<'_>,
        secrets: &[&[u8]],
        now: u64,
    ) -> Result<Verified, SignatureError> {
        let ts_text = request.required(TIMESTAMP_HEADER)?;
        let signature = parse_signature(request.required(SIGNATURE_HEADER)?)?;
        let timestamp = parse_timestamp(TIMESTAMP_HEADER, ts_text)?;
        check_tolerance(timestamp, now, self.tolerance)?;
        // The header text itself is signed, exactly as sent.
        let secret_index = first_match(secrets, |secret| {
            let expected = hmac_sha256(secret, &[b"v0:", ts_text.as_bytes(), b":", request.body]);
            ct_eq(&expected, &signature)
        })?;
        Ok(Verified {
            event_id: None,
            timestamp: Some(timestamp),
            secret_index,
        })
    }
}
