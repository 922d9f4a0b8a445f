//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. No timestamp is
//! signed, so replays are caught by dedup on `X-GitHub-Delivery`, the event id.

use crate::crypto::{ct_eq, first_match, hmac_sha256};
use crate::{SignatureError, SignedRequest, Verified};

pub const HEADER: &str = "X-Hub-Signature-256";
pub const DELIVERY_HEADER: &str = "X-GitHub-Delivery";

/// Parses `sha256=<hex>` into the signature bytes.
pub fn parse_header(value: &str) -> Result<Vec<u8>, SignatureError> {
    let hex_sig = value
        .strip_prefix("sha256=")
        .ok_or_else(|| SignatureError::malformed(HEADER, "expected `sha256=` prefix"))?;
    hex::decode(hex_sig).map_err(|_| SignatureError::malformed(HEADER, "signature is not hex"))
}

pub(crate) fn verify(
    request: &SignedRequest<'_>,
    secrets: &[&[u8]],
) -> Result<Verified, SignatureError> {
    let signature = parse_header(request.required(HEADER)?)?;
    let secret_index = first_match(secrets, |secret| {
        ct_eq(&hmac_sha256(secret, &[request.body]), &signature)
    })?;
    Ok(Verified {
        // An unreadable id only costs dedup precision, not the verified request.
        event_id: request
            .header(DELIVERY_HEADER)
            .ok()
            .flatten()
            .map(str::to_string),
        timestamp: None,
        secret_index,
    })
}
