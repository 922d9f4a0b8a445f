//! Standard Webhooks (and Svix, which it came from): `webhook-id`, `webhook-timestamp`,
//! `webhook-signature` (or the same with `svix-`). The signature header holds
//! space-separated `<version>,<base64>` entries: `v1` is HMAC-SHA256 over
//! `<id>.<timestamp>.<body>` keyed with the base64-decoded part of a `whsec_...` secret,
//! `v1a` is an ed25519 signature of the same bytes, checked with a `whpk_...` public key.
//! Several entries are sent while a secret is rotated. Five minutes of tolerance.
//!
//! bulwark signs its own deliveries to the app with [`sign`], so an app can verify the
//! last hop with any Standard Webhooks library.

use std::fmt;

use base64::Engine as _;

use crate::crypto::{BASE64, check_tolerance, ct_eq, first_match, hmac_sha256, parse_timestamp};
use crate::{DEFAULT_TOLERANCE_SECS, SchemeError, SignatureError, SignedRequest, Verified};

/// At most this many signature entries are read: each `v1a` entry costs an ed25519
/// verification per key, which must stay bounded under a flood of forged requests.
const MAX_SIGNATURES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standard {
    pub tolerance: u64,
}

impl Default for Standard {
    fn default() -> Self {
        Standard {
            tolerance: DEFAULT_TOLERANCE_SECS,
        }
    }
}

/// A configured key: symmetric (`whsec_...` or bare base64) or an ed25519 public key
/// (`whpk_...`).
#[derive(Clone)]
pub enum Key {
    Hmac(Vec<u8>),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Hmac(_) => f.write_str("Key::Hmac(***)"),
            Key::Ed25519(key) => write!(f, "Key::Ed25519({:?})", key.as_bytes()),
        }
    }
}

impl Key {
    pub fn parse(secret: &[u8]) -> Result<Key, SchemeError> {
        if secret.is_empty() {
            return Err(SchemeError::EmptySecret);
        }
        if secret.starts_with(b"whsk_") {
            return Err(SchemeError::PrivateKeyGiven);
        }
        if let Some(public) = secret.strip_prefix(b"whpk_") {
            let bytes: [u8; 32] = BASE64
                .decode(public)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(SchemeError::BadPublicKey)?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|_| SchemeError::BadPublicKey)?;
            return Ok(Key::Ed25519(key));
        }
        // Like the reference SDKs, a secret without the prefix is still base64.
        let encoded = secret.strip_prefix(b"whsec_").unwrap_or(secret);
        let key = BASE64
            .decode(encoded)
            .map_err(|_| SchemeError::SecretNotBase64)?;
        if key.is_empty() {
            return Err(SchemeError::EmptySecret);
        }
        Ok(Key::Hmac(key))
    }
}

/// One `<version>,<signature>` entry of the signature header, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    V1(Vec<u8>),
    V1a(Vec<u8>),
}

/// Parses the space-separated signature list. Unknown versions and undecodable values
/// are skipped (a sender may add schemes later); an entry without a comma is malformed.
pub fn parse_signatures(header: &str, value: &str) -> Result<Vec<Signature>, SignatureError> {
    let mut out = Vec::new();
    for (n, entry) in value.split(' ').filter(|e| !e.is_empty()).enumerate() {
        if n >= MAX_SIGNATURES {
            return Err(SignatureError::malformed(header, "too many signatures"));
        }
        let Some((version, encoded)) = entry.split_once(',') else {
            return Err(SignatureError::malformed(header, "an entry has no `,`"));
        };
        let Ok(bytes) = BASE64.decode(encoded) else {
            continue;
        };
        match version {
            "v1" => out.push(Signature::V1(bytes)),
            "v1a" => out.push(Signature::V1a(bytes)),
            _ => {}
        }
    }
    Ok(out)
}

struct Names {
    id: &'static str,
    timestamp: &'static str,
    signature: &'static str,
}

const WEBHOOK: Names = Names {
    id: "webhook-id",
    timestamp: "webhook-timestamp",
    signature: "webhook-signature",
};

const SVIX: Names = Names {
    id: "svix-id",
    timestamp: "svix-timestamp",
    signature: "svix-signature",
};

impl Standard {
    pub(crate) fn verify(
        &self,
        request: &SignedRequest<'_>,
        secrets: &[&[u8]],
        now: u64,
    ) -> Result<Verified, SignatureError> {
        // Svix's own names are used only when the standard ones are absent.
        let names = if request.header(WEBHOOK.signature)?.is_none()
            && request.header(SVIX.signature)?.is_some()
        {
            &SVIX
        } else {
            &WEBHOOK
        };
        let id = request.required(names.id)?;
        let ts_text = request.required(names.timestamp)?;
        let signatures = parse_signatures(names.signature, request.required(names.signature)?)?;
        let timestamp = parse_timestamp(names.timestamp, ts_text)?;
        check_tolerance(timestamp, now, self.tolerance)?;
        if signatures.is_empty() {
            return Err(SignatureError::malformed(
                names.signature,
                "no v1 or v1a signature",
            ));
        }
        let ts = timestamp.to_string();
        let signed: &[&[u8]] = &[id.as_bytes(), b".", ts.as_bytes(), b".", request.body];
        let mut message = None;
        let secret_index = first_match(secrets, |secret| match Key::parse(secret) {
            Ok(Key::Hmac(key)) => {
                let expected = hmac_sha256(&key, signed);
                signatures.iter().fold(false, |hit, sig| match sig {
                    Signature::V1(sig) => hit | ct_eq(&expected, sig),
                    Signature::V1a(_) => hit,
                })
            }
            Ok(Key::Ed25519(key)) => {
                // ed25519 needs the message in one piece; built once, on first use.
                let message = message.get_or_insert_with(|| signed.concat());
                signatures.iter().any(|sig| match sig {
                    Signature::V1a(sig) => ed25519_verify(&key, message, sig),
                    Signature::V1(_) => false,
                })
            }
            // A secret refused at config load never gets here; if one does, it matches
            // nothing rather than failing the request for the other secrets.
            Err(_) => false,
        })?;
        Ok(Verified {
            event_id: Some(id.to_string()),
            timestamp: Some(timestamp),
            secret_index,
        })
    }
}

fn ed25519_verify(key: &ed25519_dalek::VerifyingKey, message: &[u8], sig: &[u8]) -> bool {
    let Ok(bytes) = <[u8; 64]>::try_from(sig) else {
        return false;
    };
    let sig = ed25519_dalek::Signature::from_bytes(&bytes);
    // Strict: refuses malleable signatures and weak keys, which RFC 8032 verifiers (the
    // senders' libraries) never produce.
    key.verify_strict(message, &sig).is_ok()
}

/// The `webhook-signature` value (`v1,<base64>`) for a message, as bulwark sends it to
/// the app. `secret` is a `whsec_...` secret (or its bare base64).
pub fn sign(
    secret: &[u8],
    msg_id: &str,
    timestamp: u64,
    body: &[u8],
) -> Result<String, SchemeError> {
    let Key::Hmac(key) = Key::parse(secret)? else {
        return Err(SchemeError::NotAnHmacSecret);
    };
    let ts = timestamp.to_string();
    let mac = hmac_sha256(&key, &[msg_id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    Ok(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac)
    ))
}
