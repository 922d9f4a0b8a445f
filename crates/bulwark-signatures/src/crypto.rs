//! The shared building blocks: HMAC, constant-time comparison, timestamp tolerance and
//! lenient decoding of what providers send.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::{Algorithm, SignatureError};

/// Standard base64 that accepts a missing or present `=` padding: SDKs differ (the
/// Standard Webhooks Python SDK pads secrets itself before decoding).
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// HMAC over the concatenation of `parts`, so that a signed payload such as `t.body` is
/// never copied into a fresh buffer.
pub(crate) fn hmac(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    macro_rules! run {
        ($digest:ty) => {{
            // HMAC accepts keys of any length (long ones are hashed first).
            let mut mac = <hmac::Hmac<$digest> as KeyInit>::new_from_slice(key)
                .expect("invariant: HMAC takes keys of any length");
            for part in parts {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        }};
    }
    match algorithm {
        Algorithm::Sha1 => run!(sha1::Sha1),
        Algorithm::Sha256 => run!(sha2::Sha256),
        Algorithm::Sha512 => run!(sha2::Sha512),
    }
}

pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    hmac(Algorithm::Sha256, key, parts)
}

/// Constant-time equality. A length mismatch returns early, which reveals only the length
/// of a digest, never its bytes.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Parses a unix timestamp in seconds: ASCII digits only (no sign, no fraction, no
/// spaces), so that every SDK's idea of the value is the same.
pub(crate) fn parse_timestamp(header: &str, text: &str) -> Result<u64, SignatureError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::malformed(
            header,
            "timestamp is not a whole number",
        ));
    }
    text.parse()
        .map_err(|_| SignatureError::malformed(header, "timestamp is too large"))
}

/// Rejects timestamps too far in the past (a replayed capture) and too far in the future
/// (a capture prepared for a later replay, or a clock that is badly off).
pub(crate) fn check_tolerance(
    timestamp: u64,
    now: u64,
    tolerance: u64,
) -> Result<(), SignatureError> {
    if timestamp.abs_diff(now) > tolerance {
        return Err(SignatureError::TimestampOutOfTolerance {
            timestamp,
            now,
            tolerance,
        });
    }
    Ok(())
}

/// The index of the first non-empty secret whose signature `matches`. Every secret is
/// tried so that the time taken does not depend on which one matched.
pub(crate) fn first_match(
    secrets: &[&[u8]],
    mut matches: impl FnMut(&[u8]) -> bool,
) -> Result<usize, SignatureError> {
    let mut found = None;
    for (index, secret) in secrets.iter().enumerate() {
        if secret.is_empty() {
            continue;
        }
        if matches(secret) && found.is_none() {
            found = Some(index);
        }
    }
    found.ok_or(SignatureError::NoMatch)
}
