//! JWT bearer-token authentication: one [`Issuer`] per trusted token issuer, keyed by an
//! HMAC secret, a PEM public key or a JWKS URL.
//!
//! - `parse.rs`: [`parse_unverified`], the total (never panicking) split-and-decode.
//! - `keys.rs`: algorithms, key kinds, and the only call into the crypto backend.
//! - `claims.rs`: `exp`/`nbf`/`iat`/`iss`/`aud`/`sub` with `now` passed in; roles and plan.
//! - `issuer.rs`: settings and the verification order.
//! - `cache.rs`: the verified-token cache.
//! - `jwks.rs`: JWKS parsing (pure) and [`JwksCache`] (fetching, refresh, refetch).
//!
//! The crypto backend is jsonwebtoken's `aws_lc_rs` feature: aws-lc-rs is already the
//! rustls provider of the binary (DESIGN.md: exactly one crypto provider), so no second
//! crypto library is linked, and it covers every algorithm listed in [`JwtAlgorithm`].
//! jsonwebtoken's `decode` is not used: it reads the system clock for `exp`/`nbf`, and its
//! header type cannot even represent the `crit`/`jku`/`none` cases we must refuse by name.

mod cache;
mod claims;
mod error;
mod issuer;
mod jwks;
mod keys;
mod parse;

pub use cache::{DEFAULT_CACHE_CAPACITY, VerifiedCache, token_digest};
pub use claims::{ClaimRules, check_claims, lookup_claim};
pub use error::{IssuerError, JwtError};
pub use issuer::{
    DEFAULT_LEEWAY_SECS, Issuer, IssuerSettings, KeySource, MIN_HMAC_SECRET_BYTES, check_header,
    verify_signature_only,
};
pub use jwks::{JwksCache, JwksError, JwksSettings, KeySet};
pub use keys::{AlgorithmError, JwtAlgorithm, KeyError, KeyKind, VerifyKey};
pub use parse::{JoseHeader, MAX_TOKEN_BYTES, ParseError, UnverifiedToken, parse_unverified};
