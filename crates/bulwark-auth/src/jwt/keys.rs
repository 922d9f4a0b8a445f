//! Algorithms and verification keys, and the one call into the crypto backend.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

/// A JWS algorithm bulwark can verify. `none` has no variant: an unsecured token cannot be
/// allowed by any configuration, because there is nothing to write in the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum JwtAlgorithm {
    /// HMAC SHA-256.
    HS256,
    /// HMAC SHA-384.
    HS384,
    /// HMAC SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 SHA-512.
    RS512,
    /// RSASSA-PSS SHA-256.
    PS256,
    /// RSASSA-PSS SHA-384.
    PS384,
    /// RSASSA-PSS SHA-512.
    PS512,
    /// ECDSA P-256 SHA-256.
    ES256,
    /// ECDSA P-384 SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl JwtAlgorithm {
    /// Every supported algorithm (the test suite signs and verifies with each of them).
    pub const ALL: [JwtAlgorithm; 12] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The JWA name (`"RS256"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// True for the HMAC (shared secret) algorithms.
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    pub(crate) fn to_jsonwebtoken(self) -> Algorithm {
        match self {
            Self::HS256 => Algorithm::HS256,
            Self::HS384 => Algorithm::HS384,
            Self::HS512 => Algorithm::HS512,
            Self::RS256 => Algorithm::RS256,
            Self::RS384 => Algorithm::RS384,
            Self::RS512 => Algorithm::RS512,
            Self::PS256 => Algorithm::PS256,
            Self::PS384 => Algorithm::PS384,
            Self::PS512 => Algorithm::PS512,
            Self::ES256 => Algorithm::ES256,
            Self::ES384 => Algorithm::ES384,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an algorithm name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlgorithmError {
    /// `none` in any capitalisation.
    #[error("\"none\" (unsecured JWS) can never be allowed")]
    None,
    /// Not a name bulwark supports (names are case-sensitive, as in RFC 7518).
    #[error("unsupported JWS algorithm")]
    Unsupported,
}

impl FromStr for JwtAlgorithm {
    type Err = AlgorithmError;

    /// Exact, case-sensitive JWA names; `none` in any case is its own error so that config
    /// validation and the verifier can say precisely why.
    fn from_str(name: &str) -> Result<Self, AlgorithmError> {
        if name.eq_ignore_ascii_case("none") {
            return Err(AlgorithmError::None);
        }
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or(AlgorithmError::Unsupported)
    }
}

/// What a key is, which decides the algorithms it may verify. The check is ours, before the
/// backend sees the key: an RSA public key must never be fed to HMAC (key confusion), and a
/// P-256 key must not be tried with ES384.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A shared secret.
    Hmac,
    /// An RSA public key.
    Rsa,
    /// An EC public key on P-256.
    EcP256,
    /// An EC public key on P-384.
    EcP384,
    /// An Ed25519 public key.
    Ed25519,
}

impl KeyKind {
    /// True when a key of this kind may verify `alg`.
    pub fn fits(self, alg: JwtAlgorithm) -> bool {
        use JwtAlgorithm::*;
        match self {
            Self::Hmac => alg.is_hmac(),
            Self::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            Self::EcP256 => alg == ES256,
            Self::EcP384 => alg == ES384,
            Self::Ed25519 => alg == EdDSA,
        }
    }
}

/// Why key material was refused. Never carries the material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The PEM holds no RSA, EC (P-256/P-384) or Ed25519 public key.
    #[error("PEM does not hold an RSA, EC P-256/P-384 or Ed25519 public key")]
    UnsupportedPem,
    /// A JWK misses a parameter or has one of the wrong size.
    #[error("JWK parameter \"{0}\" is missing or invalid")]
    BadJwkParameter(&'static str),
    /// RSA keys under 2048 bits are refused (RFC 7518 section 3.3 requires at least 2048).
    #[error("RSA key is shorter than 2048 bits")]
    WeakRsaKey,
    /// A private key was given where a public key belongs. The proxy only verifies; its
    /// config should never hold the issuer's signing key.
    #[error("a private key was given; configure the issuer's public key")]
    PrivateKeyGiven,
    /// A JWK whose `kty`/`crv` bulwark does not verify with.
    #[error("unsupported JWK key type or curve")]
    UnsupportedJwk,
}

/// A public key (or HMAC secret) ready to verify signatures.
#[derive(Clone)]
pub struct VerifyKey {
    kind: KeyKind,
    /// The JWK's own `alg`, when it names one: then only that algorithm may use the key.
    pinned_alg: Option<JwtAlgorithm>,
    key: DecodingKey,
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key bytes: an HMAC secret is a secret.
        f.debug_struct("VerifyKey")
            .field("kind", &self.kind)
            .field("pinned_alg", &self.pinned_alg)
            .finish_non_exhaustive()
    }
}

impl VerifyKey {
    /// An HMAC secret.
    pub fn hmac(secret: &[u8]) -> Self {
        Self {
            kind: KeyKind::Hmac,
            pinned_alg: None,
            key: DecodingKey::from_secret(secret),
        }
    }

    /// A PEM public key (`-----BEGIN PUBLIC KEY-----` SPKI, or `BEGIN RSA PUBLIC KEY`):
    /// RSA, EC P-256/P-384 or Ed25519, recognised from the key itself.
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        if pem.windows(11).any(|w| w == b"PRIVATE KEY") {
            return Err(KeyError::PrivateKeyGiven);
        }
        if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            return Ok(Self {
                kind: KeyKind::Rsa,
                pinned_alg: None,
                key,
            });
        }
        if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            // The backend gets the uncompressed point 0x04 || x || y: its length says the curve.
            let kind = match key.kind() {
                DecodingKeyKind::SecretOrDer(point) if point.len() == 65 => KeyKind::EcP256,
                DecodingKeyKind::SecretOrDer(point) if point.len() == 97 => KeyKind::EcP384,
                _ => return Err(KeyError::UnsupportedPem),
            };
            return Ok(Self {
                kind,
                pinned_alg: None,
                key,
            });
        }
        if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            return Ok(Self {
                kind: KeyKind::Ed25519,
                pinned_alg: None,
                key,
            });
        }
        Err(KeyError::UnsupportedPem)
    }

    /// A public JWK (RFC 7517) as JSON: `RSA`, `EC` on P-256/P-384, or `OKP` Ed25519.
    /// Symmetric `oct` keys are refused: a shared secret has no business in a key set
    /// fetched over the network.
    pub fn from_jwk(jwk: &serde_json::Map<String, serde_json::Value>) -> Result<Self, KeyError> {
        let text = |name: &'static str| -> Result<&str, KeyError> {
            jwk.get(name)
                .and_then(|v| v.as_str())
                .ok_or(KeyError::BadJwkParameter(name))
        };
        let bytes = |name: &'static str| -> Result<Vec<u8>, KeyError> {
            URL_SAFE_NO_PAD
                .decode(text(name)?)
                .map_err(|_| KeyError::BadJwkParameter(name))
        };
        let pinned_alg = match jwk.get("alg") {
            None => None,
            Some(serde_json::Value::String(name)) => {
                Some(name.parse().map_err(|_| KeyError::UnsupportedJwk)?)
            }
            Some(_) => return Err(KeyError::BadJwkParameter("alg")),
        };
        let (kind, key) = match text("kty")? {
            "RSA" => {
                let n = bytes("n")?;
                let e = bytes("e")?;
                let significant = n.iter().skip_while(|b| **b == 0).count();
                if significant < 256 {
                    return Err(KeyError::WeakRsaKey);
                }
                if e.is_empty() {
                    return Err(KeyError::BadJwkParameter("e"));
                }
                (KeyKind::Rsa, DecodingKey::from_rsa_raw_components(&n, &e))
            }
            "EC" => {
                let (kind, len) = match text("crv")? {
                    "P-256" => (KeyKind::EcP256, 32),
                    "P-384" => (KeyKind::EcP384, 48),
                    _ => return Err(KeyError::UnsupportedJwk),
                };
                let x = bytes("x")?;
                let y = bytes("y")?;
                if x.len() != len {
                    return Err(KeyError::BadJwkParameter("x"));
                }
                if y.len() != len {
                    return Err(KeyError::BadJwkParameter("y"));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (kind, DecodingKey::from_ec_der(&point))
            }
            "OKP" => {
                if text("crv")? != "Ed25519" {
                    return Err(KeyError::UnsupportedJwk);
                }
                let x = bytes("x")?;
                if x.len() != 32 {
                    return Err(KeyError::BadJwkParameter("x"));
                }
                (KeyKind::Ed25519, DecodingKey::from_ed_der(&x))
            }
            _ => return Err(KeyError::UnsupportedJwk),
        };
        if let Some(alg) = pinned_alg
            && !kind.fits(alg)
        {
            return Err(KeyError::UnsupportedJwk);
        }
        Ok(Self {
            kind,
            pinned_alg,
            key,
        })
    }

    /// What this key is.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// True when this key may verify a token signed with `alg`.
    pub fn fits(&self, alg: JwtAlgorithm) -> bool {
        self.kind.fits(alg) && self.pinned_alg.is_none_or(|pinned| pinned == alg)
    }

    /// Checks `signature` over `message` with `alg`. False on any mismatch, including a key
    /// that does not fit the algorithm.
    ///
    /// The aws-lc-rs provider of jsonwebtoken is called directly rather than through its
    /// process-wide default: the default is chosen from cargo features at first use and
    /// panics if a second backend gets unified in by another crate; naming the provider makes
    /// a missing `aws_lc_rs` feature a compile error instead.
    pub fn verify(&self, alg: JwtAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        let provider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
        match (provider.verifier_factory)(&alg.to_jsonwebtoken(), &self.key) {
            Ok(verifier) => verifier.verify(message, &signature.to_vec()).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_is_refused_in_every_spelling() {
        for name in ["none", "None", "NONE", "nOnE"] {
            assert_eq!(name.parse::<JwtAlgorithm>(), Err(AlgorithmError::None));
        }
        assert_eq!(
            "hs256".parse::<JwtAlgorithm>(),
            Err(AlgorithmError::Unsupported)
        );
        for alg in JwtAlgorithm::ALL {
            assert_eq!(alg.as_str().parse::<JwtAlgorithm>(), Ok(alg));
        }
    }

    #[test]
    fn kinds_fit_only_their_algorithms() {
        assert!(KeyKind::Rsa.fits(JwtAlgorithm::PS256));
        assert!(!KeyKind::Rsa.fits(JwtAlgorithm::HS256));
        assert!(!KeyKind::Hmac.fits(JwtAlgorithm::RS256));
        assert!(!KeyKind::EcP256.fits(JwtAlgorithm::ES384));
        assert!(!KeyKind::Ed25519.fits(JwtAlgorithm::ES256));
    }
}
