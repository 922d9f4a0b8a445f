//! A static token in a header, such as `Authorization: Bearer <token>`: all that some
//! gateways (Green API for WhatsApp) send. Weaker than a signature (the body is not
//! covered and a captured token is reusable), but compared in constant time all the same.

use sha2::Digest as _;

use crate::crypto::{ct_eq, first_match};
use crate::{SchemeError, SignatureError, SignedRequest, Verified};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenScheme {
    header: String,
    prefix: Option<String>,
}

impl TokenScheme {
    /// `prefix` is the text before the token, such as `Bearer ` (matched
    /// case-insensitively, as HTTP auth schemes are).
    pub fn new(header: &str, prefix: Option<&str>) -> Result<Self, SchemeError> {
        http::HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| SchemeError::BadHeaderName(header.to_string()))?;
        Ok(TokenScheme {
            header: header.to_string(),
            prefix: prefix.map(str::to_string),
        })
    }

    pub(crate) fn verify(
        &self,
        request: &SignedRequest<'_>,
        secrets: &[&[u8]],
    ) -> Result<Verified, SignatureError> {
        let value = request.required(&self.header)?;
        let token = match &self.prefix {
            Some(prefix) => {
                // The whole prefix, space included, so that `Bearerxyz` is not `xyz`.
                let head = value
                    .get(..prefix.len())
                    .filter(|h| h.eq_ignore_ascii_case(prefix));
                if head.is_none() {
                    return Err(SignatureError::malformed(
                        &self.header,
                        "expected prefix missing",
                    ));
                }
                value.get(prefix.len()..).unwrap_or_default()
            }
            None => value,
        };
        // Comparing digests rather than the tokens keeps the token's length secret too.
        let presented = sha2::Sha256::digest(token.as_bytes());
        let secret_index = first_match(secrets, |secret| {
            ct_eq(&sha2::Sha256::digest(secret), &presented)
        })?;
        Ok(Verified {
            event_id: None,
            timestamp: None,
            secret_index,
        })
    }
}
