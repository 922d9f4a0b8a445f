//! Why a token was refused, and why an issuer could not be set up.
//!
//! No variant carries a token, a secret, a key, or attacker-chosen header values such as
//! `kid` or `jku`: these errors go to logs and security events.

use super::jwks::JwksError;
use super::keys::{JwtAlgorithm, KeyError};
use super::parse::ParseError;

/// A token was refused. Every variant maps to 401 at the edge; [`JwtError::reason`] gives a
/// stable label for metrics and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// The token could not be parsed.
    #[error(transparent)]
    Malformed(#[from] ParseError),
    /// `alg` is `none` in some capitalisation.
    #[error("unsecured token (alg \"none\") refused")]
    AlgorithmNone,
    /// `alg` is not a name bulwark knows.
    #[error("unsupported token algorithm")]
    UnsupportedAlgorithm,
    /// `alg` is known but not in this issuer's allow-list.
    #[error("token algorithm {0} is not allowed for this issuer")]
    AlgorithmNotAllowed(JwtAlgorithm),
    /// The header has `crit`: bulwark understands no extension, so RFC 7515 section 4.1.11
    /// requires rejecting the token.
    #[error("token header has \"crit\"; no critical extension is supported")]
    CriticalHeader,
    /// The header names or embeds a key (`jku`, `x5u`, `jwk`, `x5c`). Keys come only from
    /// configuration; a token that tries to bring its own is refused rather than silently
    /// trusted or ignored.
    #[error("token header carries \"{0}\"; keys come only from configuration")]
    EmbeddedKeyReference(&'static str),
    /// The issuer has several keys for this algorithm and the token has no `kid`.
    #[error("token has no \"kid\" and the key set has more than one candidate key")]
    MissingKid,
    /// No key with this `kid` (after the one rate-limited refetch).
    #[error("token \"kid\" matches no key")]
    UnknownKid,
    /// The key set is empty (the JWKS was never fetched successfully).
    #[error("no verification keys are available for this issuer")]
    NoKeys,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    InvalidSignature,
    /// A required claim is absent.
    #[error("token has no \"{0}\" claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or an unusable value.
    #[error("token claim \"{0}\" is invalid")]
    InvalidClaim(&'static str),
    /// `exp` (plus leeway) has passed.
    #[error("token has expired")]
    Expired,
    /// `nbf` (minus leeway) is still ahead.
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    /// `iat` (minus leeway) is in the future.
    #[error("token was issued in the future (iat)")]
    IssuedInFuture,
    /// `iss` is not this issuer.
    #[error("token issuer does not match")]
    WrongIssuer,
    /// No `aud` value is one of the configured audiences.
    #[error("token audience does not match")]
    WrongAudience,
}

impl JwtError {
    /// A short, stable, low-cardinality label (metrics, audit log).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(ParseError::TooLarge { .. }) => "too_large",
            Self::Malformed(_) => "malformed",
            Self::AlgorithmNone => "alg_none",
            Self::UnsupportedAlgorithm | Self::AlgorithmNotAllowed(_) => "alg_not_allowed",
            Self::CriticalHeader => "crit",
            Self::EmbeddedKeyReference(_) => "embedded_key",
            Self::MissingKid | Self::UnknownKid => "unknown_key",
            Self::NoKeys => "no_keys",
            Self::InvalidSignature => "bad_signature",
            Self::MissingClaim(_) | Self::InvalidClaim(_) => "bad_claims",
            Self::Expired => "expired",
            Self::NotYetValid | Self::IssuedInFuture => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
        }
    }
}

/// An issuer's settings are unusable. Raised once, at start-up or reload.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    /// `issuer` is empty.
    #[error("issuer must not be empty")]
    EmptyIssuer,
    /// No audience configured (`aud` is required).
    #[error("at least one audience is required")]
    NoAudience,
    /// The allow-list is empty.
    #[error("at least one algorithm must be allowed")]
    NoAlgorithms,
    /// An allowed algorithm cannot be used with the key source (HMAC with a public key or a
    /// JWKS, an asymmetric algorithm with a secret, ES384 with a P-256 key, ...).
    #[error("algorithm {alg} cannot be used with this key source ({source_kind})")]
    AlgorithmKeyMismatch {
        /// The offending algorithm.
        alg: JwtAlgorithm,
        /// `secret`, `pem` or `jwks`.
        source_kind: &'static str,
    },
    /// The HMAC secret is shorter than 32 bytes (DESIGN.md: secrets bulwark owns).
    #[error("HMAC secret must be at least 32 bytes (e.g. `openssl rand -base64 48`)")]
    WeakSecret,
    /// The PEM key could not be used.
    #[error("PEM public key unusable")]
    Key(#[source] KeyError),
    /// The JWKS client could not be built.
    #[error("JWKS client unusable")]
    Jwks(#[source] JwksError),
}
