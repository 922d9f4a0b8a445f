//! One trusted token issuer: its keys, algorithms and claim rules, and the verification
//! order.
//!
//! Order, cheapest and least trusting first: size cap -> verified-token cache -> parse ->
//! header (`alg` allowed, no `crit`, no `jku`/`x5u`/`jwk`/`x5c`) -> key lookup (`kid` as a
//! map key only) -> signature -> claims (`exp`, `nbf`, `iat`, `iss`, `aud`, `sub`) with the
//! caller's `now`. Claims are not looked at before the signature has been verified.

use std::fmt;
use std::sync::Arc;

use super::cache::{DEFAULT_CACHE_CAPACITY, VerifiedCache, token_digest};
use super::claims::{ClaimRules, check_claims};
use super::error::{IssuerError, JwtError};
use super::jwks::{JwksCache, KeySet, Selection};
use super::keys::{AlgorithmError, JwtAlgorithm, VerifyKey};
use super::parse::{JoseHeader, MAX_TOKEN_BYTES, ParseError, UnverifiedToken, parse_unverified};
use crate::Identity;

/// Default clock-skew leeway: 30 s. Servers synced by NTP agree to milliseconds; 30 s
/// absorbs an IdP with a drifting clock while giving an expired token little extra life
/// (jsonwebtoken's default of 60 s is more than needed).
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// The smallest HMAC secret accepted (DESIGN.md: secrets bulwark owns need 32 bytes).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// Where an issuer's keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// A shared HMAC secret (raw bytes, already decoded): only HS* algorithms.
    Secret(Vec<u8>),
    /// The content of a PEM public key file: RSA, EC P-256/P-384 or Ed25519.
    PemPublicKey(Vec<u8>),
    /// A JWKS URL's keys, fetched and refreshed by a [`JwksCache`] (which the caller
    /// creates and whose [`JwksCache::run`] loop it spawns).
    Jwks(Arc<JwksCache>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Never the secret.
            Self::Secret(_) => f.write_str("Secret(***)"),
            Self::PemPublicKey(_) => f.write_str("PemPublicKey(..)"),
            Self::Jwks(cache) => f.debug_tuple("Jwks").field(&cache.settings().url).finish(),
        }
    }
}

impl KeySource {
    fn kind_name(&self) -> &'static str {
        match self {
            Self::Secret(_) => "secret",
            Self::PemPublicKey(_) => "pem",
            Self::Jwks(_) => "jwks",
        }
    }
}

/// The validated settings of one issuer.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// Required exact `iss`.
    pub issuer: String,
    /// `aud` must contain one of these (at least one is required).
    pub audiences: Vec<String>,
    /// The algorithm allow-list. Must fit the key source: HMAC only with a secret,
    /// asymmetric only with a PEM key or JWKS.
    pub algorithms: Vec<JwtAlgorithm>,
    /// Clock-skew leeway in seconds; default [`DEFAULT_LEEWAY_SECS`].
    pub leeway_secs: u64,
    /// Claim name or dotted path holding the roles (string or array); `None`: no roles.
    pub roles_claim: Option<String>,
    /// Claim name or dotted path holding the plan; `None`: no plan.
    pub plan_claim: Option<String>,
    /// Verified-token cache size; default [`DEFAULT_CACHE_CAPACITY`], 0 disables it.
    pub cache_capacity: usize,
    /// Where the keys come from.
    pub key_source: KeySource,
}

impl IssuerSettings {
    /// Settings with default leeway and cache size, and no roles or plan claim.
    pub fn new(
        issuer: impl Into<String>,
        audiences: Vec<String>,
        algorithms: Vec<JwtAlgorithm>,
        key_source: KeySource,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audiences,
            algorithms,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            roles_claim: None,
            plan_claim: None,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            key_source,
        }
    }
}

enum Keys {
    Static(VerifyKey),
    Jwks(Arc<JwksCache>),
}

/// A token verifier for one issuer. Cheap to share behind an `Arc`.
pub struct Issuer {
    rules: ClaimRules,
    algorithms: Vec<JwtAlgorithm>,
    keys: Keys,
    cache: VerifiedCache,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.rules.issuer)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// Checks the settings (non-empty issuer, audiences and allow-list; every allowed
    /// algorithm fits the key source; HMAC secret of at least 32 bytes; PEM parses).
    pub fn new(settings: IssuerSettings) -> Result<Self, IssuerError> {
        if settings.issuer.is_empty() {
            return Err(IssuerError::EmptyIssuer);
        }
        if settings.audiences.iter().all(String::is_empty) {
            return Err(IssuerError::NoAudience);
        }
        if settings.algorithms.is_empty() {
            return Err(IssuerError::NoAlgorithms);
        }
        let source_kind = settings.key_source.kind_name();
        let keys = match &settings.key_source {
            KeySource::Secret(secret) => {
                if secret.len() < MIN_HMAC_SECRET_BYTES {
                    return Err(IssuerError::WeakSecret);
                }
                Keys::Static(VerifyKey::hmac(secret))
            }
            KeySource::PemPublicKey(pem) => {
                Keys::Static(VerifyKey::from_pem(pem).map_err(IssuerError::Key)?)
            }
            KeySource::Jwks(cache) => Keys::Jwks(cache.clone()),
        };
        // The key-confusion guard at configuration time: HMAC never with a public key, and
        // no asymmetric algorithm with a secret. (Checked again per token by the key.)
        for &alg in &settings.algorithms {
            let fits = match &keys {
                Keys::Static(key) => key.fits(alg),
                Keys::Jwks(_) => !alg.is_hmac(),
            };
            if !fits {
                return Err(IssuerError::AlgorithmKeyMismatch { alg, source_kind });
            }
        }
        let mut algorithms = settings.algorithms;
        algorithms.dedup();
        Ok(Self {
            rules: ClaimRules {
                issuer: settings.issuer,
                audiences: settings.audiences,
                leeway_secs: settings.leeway_secs,
                roles_claim: settings.roles_claim,
                plan_claim: settings.plan_claim,
            },
            algorithms,
            keys,
            cache: VerifiedCache::new(settings.cache_capacity),
        })
    }

    /// The `iss` this issuer accepts.
    pub fn issuer(&self) -> &str {
        &self.rules.issuer
    }

    /// Number of tokens in the verified-token cache.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    /// Verifies `token` at `now` (unix seconds). With a JWKS, a token whose `kid` is
    /// unknown may wait for the one rate-limited refetch ([`JwksCache`]); otherwise this
    /// does no I/O.
    pub async fn verify(&self, token: &str, now: u64) -> Result<Identity, JwtError> {
        // The generation is read before looking, so that keys replaced between the look
        // and the refetch count as "changed" and are looked at again.
        let seen = match &self.keys {
            Keys::Jwks(jwks) => jwks.keys().generation(),
            Keys::Static(_) => 0,
        };
        let first = match self.verify_offline(token, now) {
            Err(error @ (JwtError::UnknownKid | JwtError::NoKeys)) => error,
            other => return other,
        };
        let Keys::Jwks(jwks) = &self.keys else {
            return Err(first);
        };
        if jwks.refetch_for_unknown_kid(seen).await {
            self.verify_offline(token, now)
        } else {
            Err(first)
        }
    }

    /// Verifies `token` at `now` with the keys at hand, never fetching. An unknown `kid`
    /// gives [`JwtError::UnknownKid`].
    pub fn verify_offline(&self, token: &str, now: u64) -> Result<Identity, JwtError> {
        // Cap before hashing too: the cache must not make us hash megabytes.
        if token.len() > MAX_TOKEN_BYTES {
            return Err(ParseError::TooLarge {
                len: token.len(),
                max: MAX_TOKEN_BYTES,
            }
            .into());
        }
        let key_set = match &self.keys {
            Keys::Static(_) => None,
            Keys::Jwks(jwks) => Some(jwks.keys()),
        };
        let generation = key_set.as_ref().map_or(0, |set| set.generation());
        let digest = token_digest(token);
        if let Some(identity) = self.cache.get(&digest, now, generation) {
            return Ok(identity);
        }

        let parsed = parse_unverified(token)?;
        let alg = check_header(&parsed.header, &self.algorithms)?;
        let key = match (&self.keys, &key_set) {
            (Keys::Static(key), _) => key,
            (Keys::Jwks(_), Some(set)) => select(set, parsed.header.kid.as_deref(), alg)?,
            (Keys::Jwks(_), None) => return Err(JwtError::NoKeys),
        };
        check_signature(&parsed, key, alg)?;
        let identity = check_claims(&parsed.claims, &self.rules, now)?;
        if let Some(exp) = identity.expires_at {
            let valid_until = exp.saturating_add(self.rules.leeway_secs);
            self.cache
                .insert(digest, identity.clone(), valid_until, now, generation);
        }
        Ok(identity)
    }
}

fn select<'a>(
    set: &'a KeySet,
    kid: Option<&str>,
    alg: JwtAlgorithm,
) -> Result<&'a VerifyKey, JwtError> {
    match set.select(kid, alg) {
        Selection::Found(key) => Ok(key),
        Selection::UnknownKid => Err(JwtError::UnknownKid),
        Selection::MissingKid => Err(JwtError::MissingKid),
        Selection::NoKeys => Err(JwtError::NoKeys),
    }
}

/// The header rules, before any key is touched. Returns the (allowed) algorithm.
///
/// - `alg`: `none` in any case is refused outright; otherwise it must be in `allowed`.
/// - `crit`: we implement no extension, so any `crit` means "you do not understand this
///   token" (RFC 7515 section 4.1.11); an empty `crit` is itself invalid.
/// - `jku`, `x5u` (URLs) and `jwk`, `x5c` (embedded keys): refused rather than ignored.
///   Keys come only from configuration, and a token that asks us to use its own key is
///   either an attack or a misconfigured issuer: either way the operator should hear about
///   it (as a refusal) instead of it half-working.
pub fn check_header(
    header: &JoseHeader,
    allowed: &[JwtAlgorithm],
) -> Result<JwtAlgorithm, JwtError> {
    let alg: JwtAlgorithm = header.alg.parse().map_err(|e| match e {
        AlgorithmError::None => JwtError::AlgorithmNone,
        AlgorithmError::Unsupported => JwtError::UnsupportedAlgorithm,
    })?;
    if !allowed.contains(&alg) {
        return Err(JwtError::AlgorithmNotAllowed(alg));
    }
    if header.has_crit {
        return Err(JwtError::CriticalHeader);
    }
    for (present, name) in [
        (header.has_jku, "jku"),
        (header.has_x5u, "x5u"),
        (header.has_jwk, "jwk"),
        (header.has_x5c, "x5c"),
    ] {
        if present {
            return Err(JwtError::EmbeddedKeyReference(name));
        }
    }
    Ok(alg)
}

fn check_signature(
    parsed: &UnverifiedToken<'_>,
    key: &VerifyKey,
    alg: JwtAlgorithm,
) -> Result<(), JwtError> {
    // `fits` again here: even if an allow-list were built wrong, an RSA public key never
    // reaches the HMAC code (the RS256 -> HS256 key-confusion attack).
    if !key.fits(alg) {
        return Err(JwtError::AlgorithmNotAllowed(alg));
    }
    if key.verify(alg, parsed.signing_input.as_bytes(), &parsed.signature) {
        Ok(())
    } else {
        Err(JwtError::InvalidSignature)
    }
}

/// Header rules and signature only, no claims: for tokens that are not access tokens for
/// us (the RFC 7515 appendix A examples have no `aud`), and for tests. Returns the parsed
/// token; its claims are authentic but **not validated** (no `exp`, `iss`, `aud` check).
pub fn verify_signature_only<'a>(
    token: &'a str,
    key: &VerifyKey,
    allowed: &[JwtAlgorithm],
) -> Result<UnverifiedToken<'a>, JwtError> {
    let parsed = parse_unverified(token)?;
    let alg = check_header(&parsed.header, allowed)?;
    check_signature(&parsed, key, alg)?;
    Ok(parsed)
}
