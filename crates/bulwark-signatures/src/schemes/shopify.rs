//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`, keyed with the
//! app's client secret. No timestamp is signed; dedup uses `X-Shopify-Webhook-Id`.

use base64::Engine as _;

use crate::crypto::{BASE64, ct_eq, first_match, hmac_sha256};
use crate::{SignatureError, SignedRequest, Verified};

pub const HEADER: &str = "X-Shopify-Hmac-Sha256";
pub const WEBHOOK_ID_HEADER: &str = "X-Shopify-Webhook-Id";

pub(crate) fn verify(
    request: &SignedRequest<'_>,
    secrets: &[&[u8]],
) -> Result<Verified, SignatureError> {
    let signature = BASE64
        .decode(request.required(HEADER)?)
        .map_err(|_| SignatureError::malformed(HEADER, "signature is not base64"))?;
    let secret_index = first_match(secrets, |secret| {
        ct_eq(&hmac_sha256(secret, &[request.body]), &signature)
    })?;
    Ok(Verified {
        // An unreadable id only costs dedup precision, not the verified request.
        event_id: request
            .header(WEBHOOK_ID_HEADER)
            .ok()
            .flatten()
            .map(str::to_string),
        timestamp: None,
        secret_index,
    })
}
