//! Why a request failed verification, and why a scheme or secret was refused at config load.
//!
//! The messages name headers and reasons only: never a secret, an expected signature or
//! the received header value, because they are logged and published as security events.

/// A request that did not pass verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(String),
    #[error("malformed header {header}: {reason}")]
    MalformedHeader {
        header: String,
        reason: &'static str,
    },
    #[error("signed timestamp {timestamp} is more than {tolerance} s away from now ({now})")]
    TimestampOutOfTolerance {
        timestamp: u64,
        now: u64,
        tolerance: u64,
    },
    #[error("no signature matched any configured secret")]
    NoMatch,
    #[error("the request URL is needed by this scheme but was not given")]
    MissingUrl,
    #[error("no non-empty secret is configured")]
    NoSecrets,
}

impl SignatureError {
    pub(crate) fn malformed(header: &str, reason: &'static str) -> Self {
        SignatureError::MalformedHeader {
            header: header.to_string(),
            reason,
        }
    }

    /// True when the request was well formed but signed with an unknown secret or
    /// tampered with, as opposed to missing or garbled headers.
    pub fn is_mismatch(&self) -> bool {
        matches!(self, SignatureError::NoMatch)
    }
}

/// Parameters or a secret refused when a scheme is built from config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("the secret is empty")]
    EmptySecret,
    #[error("the secret is not valid base64 after its `whsec_` prefix")]
    SecretNotBase64,
    #[error("a `whpk_` key must be the base64 of a 32-byte ed25519 public key")]
    BadPublicKey,
    #[error("a `whsk_` key is a private key: configure its public `whpk_` half to verify")]
    PrivateKeyGiven,
    #[error("signing needs a `whsec_` secret, not an ed25519 key")]
    NotAnHmacSecret,
    #[error("header name {0:?} is not a valid HTTP header name")]
    BadHeaderName(String),
    #[error("signed-payload template: {0}")]
    BadTemplate(&'static str),
}
