//! Who is calling: bulwark's authenticators and role checks.
//!
//! - [`jwt`]: bearer tokens from trusted issuers (HMAC secret, PEM public key or JWKS URL).
//! - [`apikey`]: API keys configured only as SHA-256 hashes.
//! - [`roles`]: per-route "any of" / "all of" role requirements.
//!
//! Both authenticators produce the same [`Identity`]. Pure logic takes `now` (unix
//! seconds) as an argument; the only I/O is the JWKS fetcher. Errors never contain a
//! token, a secret or a key. Wiring into the proxy (headers, 401/403 problem bodies,
//! policy order) lives in `bulwark-proxy`; config parsing in `bulwark-config`.

pub mod apikey;
mod identity;
pub mod jwt;
pub mod roles;

pub use apikey::{ApiKeyEntry, ApiKeyError, ApiKeys};
pub use identity::Identity;
pub use jwt::{Issuer, IssuerSettings, JwksCache, JwksSettings, JwtAlgorithm, JwtError, KeySource};
pub use roles::{RoleDecision, RoleRequirement};
