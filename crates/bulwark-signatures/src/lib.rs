//! Webhook signature schemes: is this request really from the provider?
//!
//! Pure functions, no I/O: the caller hands over the raw body bytes, a header lookup, the
//! full URL and form parameters where a scheme needs them, the configured secrets and the
//! current time. Everything that compares a secret-derived value does so in constant time,
//! and no error message carries a secret or an expected signature (they end up in logs and
//! in security events).
//!
//! One [`Scheme`] per provider, each in its own file under `schemes/`; [`Scheme::verify`]
//! tries every configured secret so that a secret can be rotated without downtime.

mod crypto;
mod error;
mod request;
pub mod schemes;

pub use error::{SchemeError, SignatureError};
pub use request::{Headers, SignedRequest};
pub use schemes::hmac::{Algorithm, Encoding, HmacParams, HmacScheme};
pub use schemes::slack::Slack;
pub use schemes::standard::{self as standard, Standard};
pub use schemes::stripe::Stripe;
pub use schemes::token::TokenScheme;
pub use schemes::twilio::Twilio;

/// The tolerance, in seconds, between a signed timestamp and `now`, both ways: Stripe,
/// Slack and Standard Webhooks all use five minutes.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// A verified request: what the scheme learned while checking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The provider's own id for this event, where the scheme defines one (for dedup).
    pub event_id: Option<String>,
    /// The signed timestamp, where the scheme has one.
    pub timestamp: Option<u64>,
    /// Which of the configured secrets matched (0 = the first); tells an operator when an
    /// old secret is no longer used and can be removed.
    pub secret_index: usize,
}

/// A provider's signature scheme, built from validated parameters.
#[derive(Debug, Clone)]
pub enum Scheme {
    Stripe(Stripe),
    Github,
    Slack(Slack),
    Standard(Standard),
    Shopify,
    Twilio(Twilio),
    Hmac(HmacScheme),
    Token(TokenScheme),
}

impl Scheme {
    /// The scheme's name as written in the config file.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Stripe(_) => "stripe",
            Scheme::Github => "github",
            Scheme::Slack(_) => "slack",
            Scheme::Standard(_) => "standard",
            Scheme::Shopify => "shopify",
            Scheme::Twilio(_) => "twilio",
            Scheme::Hmac(_) => "hmac",
            Scheme::Token(_) => "token",
        }
    }

    /// Checks that `request` was signed with one of `secrets` at a time close enough to
    /// `now` (unix seconds). Empty secrets never match.
    pub fn verify<S: AsRef<[u8]>>(
        &self,
        request: &SignedRequest<'_>,
        secrets: &[S],
        now: u64,
    ) -> Result<Verified, SignatureError> {
        let secrets: Vec<&[u8]> = secrets.iter().map(AsRef::as_ref).collect();
        if secrets.iter().all(|s| s.is_empty()) {
            return Err(SignatureError::NoSecrets);
        }
        match self {
            Scheme::Stripe(s) => s.verify(request, &secrets, now),
            Scheme::Github => schemes::github::verify(request, &secrets),
            Scheme::Slack(s) => s.verify(request, &secrets, now),
            Scheme::Standard(s) => s.verify(request, &secrets, now),
            Scheme::Shopify => schemes::shopify::verify(request, &secrets),
            Scheme::Twilio(s) => s.verify(request, &secrets),
            Scheme::Hmac(s) => s.verify(request, &secrets, now),
            Scheme::Token(s) => s.verify(request, &secrets),
        }
    }

    /// Checks a configured secret once, at config load, so that a typo is reported at
    /// start rather than as a stream of 401s.
    pub fn check_secret(&self, secret: &[u8]) -> Result<(), SchemeError> {
        if secret.is_empty() {
            return Err(SchemeError::EmptySecret);
        }
        match self {
            Scheme::Standard(_) => standard::Key::parse(secret).map(|_| ()),
            _ => Ok(()),
        }
    }
}
