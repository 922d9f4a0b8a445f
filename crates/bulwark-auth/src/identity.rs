//! Who a request is from, once an authenticator has vouched for it.

/// The authenticated caller, the same shape for JWT and API keys, so that role checks and
/// per-user / per-plan limits do not care how the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's `sub`, or the API key's configured name.
    pub subject: String,
    /// Roles from the configured claim (JWT) or from configuration (API key).
    pub roles: Vec<String>,
    /// The plan (e.g. `free`, `pro`) that selects plan-based rate limits, when known.
    pub plan: Option<String>,
    /// The token's `exp` (unix seconds); `None` for API keys, which do not expire.
    pub expires_at: Option<u64>,
}
