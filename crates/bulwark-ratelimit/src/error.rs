//! Errors of a limiter call.

use std::time::Duration;

/// Why a limiter could not decide.
#[derive(Debug, thiserror::Error)]
pub enum LimiterError {
    /// The backend (Redis) failed or did not answer in time. The caller applies the
    /// route's `on_backend_error` choice (local limits or deny).
    #[error("rate-limit backend unavailable")]
    Backend(#[source] BackendError),
    /// The request costs more than the burst, so it could never pass.
    #[error("cost {cost} exceeds the quota's burst of {burst}")]
    CostExceedsBurst { cost: u32, burst: u32 },
}

/// What went wrong inside a backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("Redis command failed")]
    Redis(#[source] ::redis::RedisError),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the rate-limit script returned an unexpected reply")]
    UnexpectedReply,
}

impl From<BackendError> for LimiterError {
    fn from(error: BackendError) -> Self {
        LimiterError::Backend(error)
    }
}
