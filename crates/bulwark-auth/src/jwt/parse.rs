//! Splitting and decoding a compact JWS without trusting any of it.
//!
//! [`parse_unverified`] is the one place where attacker bytes become structured data, so it
//! is total: every input gives `Ok` or a [`ParseError`], never a panic (a proptest and the
//! fuzz-ready signature check that). Nothing here is verified: callers must check the
//! signature before believing a single claim.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// Tokens longer than this are refused before any decoding. Real access tokens are well
/// under 2 KiB (even with many roles); 8 KiB leaves room for fat IdP tokens while bounding
/// the base64 and JSON work an attacker can make us do per request.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a token could not even be parsed. Carries no part of the token: errors end up in
/// logs and security events, and a token is a bearer credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    #[error("token is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// The length of the token.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Not three dot-separated parts (JWE has five, and JSON serialisation is not accepted).
    #[error("token is not a compact JWS (three dot-separated parts)")]
    NotCompactJws,
    /// A part is not unpadded base64url (padding, other alphabets and non-canonical trailing
    /// bits are refused, so one token has exactly one encoding).
    #[error("token {part} is not valid base64url")]
    Base64 {
        /// `header`, `payload` or `signature`.
        part: &'static str,
    },
    /// The header or payload is not a JSON object.
    #[error("token {part} is not a JSON object")]
    Json {
        /// `header` or `payload`.
        part: &'static str,
    },
    /// The header has no string `alg`.
    #[error("token header has no string \"alg\"")]
    MissingAlg,
    /// The header is a JWE header (`enc`): encrypted tokens are not supported.
    #[error("token is a JWE (has \"enc\"), not a JWS")]
    Encrypted,
    /// The signature part is empty: an unsecured JWS, never accepted.
    #[error("token has an empty signature")]
    EmptySignature,
}

/// The parts of the JOSE header that matter for verification, unverified.
///
/// The presence flags exist so that the verifier can refuse what it will not honour; their
/// values are deliberately not kept (they are URLs and keys chosen by whoever made the
/// token, and we never fetch or use them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoseHeader {
    /// `alg` exactly as written (case kept, so `nOnE` can be recognised and refused).
    pub alg: String,
    /// `kid` when it is a string. Only ever a lookup key into a JWKS map.
    pub kid: Option<String>,
    /// `typ` when it is a string; informational.
    pub typ: Option<String>,
    /// `crit` is present (with any value).
    pub has_crit: bool,
    /// `jku` is present.
    pub has_jku: bool,
    /// `x5u` is present.
    pub has_x5u: bool,
    /// `jwk` is present.
    pub has_jwk: bool,
    /// `x5c` is present.
    pub has_x5c: bool,
}

/// A decoded but unverified token.
#[derive(Debug, Clone, PartialEq)]
pub struct UnverifiedToken<'a> {
    /// The header fields we look at.
    pub header: JoseHeader,
    /// The payload as a JSON object. Duplicate member names keep the last one, which RFC
    /// 7515 section 5.2 allows ("lexically last").
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature bytes (never empty).
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS. Total: never panics, whatever `token` holds.
///
/// Checks only the shape (size cap, three parts, base64url, JSON objects, a string `alg`, a
/// non-empty signature). Signature and claims are the verifier's job.
pub fn parse_unverified(token: &str) -> Result<UnverifiedToken<'_>, ParseError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ParseError::TooLarge {
            len: token.len(),
            max: MAX_TOKEN_BYTES,
        });
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::NotCompactJws);
    };
    // The signing input is the token up to the last dot; both dots exist, so the slice is
    // in range and on a char boundary ('.' is ASCII).
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];

    let header = decode_object(header_b64, "header")?;
    if header.contains_key("enc") {
        return Err(ParseError::Encrypted);
    }
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        _ => return Err(ParseError::MissingAlg),
    };
    let string = |name: &str| match header.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let jose = JoseHeader {
        alg,
        kid: string("kid"),
        typ: string("typ"),
        has_crit: header.contains_key("crit"),
        has_jku: header.contains_key("jku"),
        has_x5u: header.contains_key("x5u"),
        has_jwk: header.contains_key("jwk"),
        has_x5c: header.contains_key("x5c"),
    };

    let claims = decode_object(payload_b64, "payload")?;
    if signature_b64.is_empty() {
        return Err(ParseError::EmptySignature);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| ParseError::Base64 { part: "signature" })?;

    Ok(UnverifiedToken {
        header: jose,
        claims,
        signing_input,
        signature,
    })
}

fn decode_object(part_b64: &str, part: &'static str) -> Result<Map<String, Value>, ParseError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part_b64)
        .map_err(|_| ParseError::Base64 { part })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ParseError::Json { part }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn splits_a_well_formed_token() {
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"HS256","kid":"k1"}"#),
            b64(r#"{"a":1}"#),
            b64("sig")
        );
        let parsed = parse_unverified(&token).unwrap();
        assert_eq!(parsed.header.alg, "HS256");
        assert_eq!(parsed.header.kid.as_deref(), Some("k1"));
        assert_eq!(parsed.signature, b"sig");
        assert_eq!(parsed.signing_input, token.rsplit_once('.').unwrap().0);
    }

    #[test]
    fn refuses_bad_shapes() {
        let h = b64(r#"{"alg":"HS256"}"#);
        let p = b64("{}");
        assert_eq!(parse_unverified(""), Err(ParseError::NotCompactJws));
        assert_eq!(parse_unverified("a.b"), Err(ParseError::NotCompactJws));
        assert_eq!(
            parse_unverified("a.b.c.d.e"),
            Err(ParseError::NotCompactJws)
        );
        assert_eq!(
            parse_unverified(&format!("{h}.{p}.")),
            Err(ParseError::EmptySignature)
        );
        assert_eq!(
            parse_unverified(&format!("{h}=.{p}.AA")),
            Err(ParseError::Base64 { part: "header" })
        );
        assert_eq!(
            parse_unverified(&format!("{h}.{}.AA", b64("[1]"))),
            Err(ParseError::Json { part: "payload" })
        );
        assert_eq!(
            parse_unverified(&format!("{}.{p}.AA", b64(r#"{"alg":1}"#))),
            Err(ParseError::MissingAlg)
        );
        let jwe = b64(r#"{"alg":"dir","enc":"A128GCM"}"#);
        assert_eq!(
            parse_unverified(&format!("{jwe}.{p}.AA")),
            Err(ParseError::Encrypted)
        );
        let big = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(
            parse_unverified(&big),
            Err(ParseError::TooLarge { .. })
        ));
    }
}
