//! Rate limiting for bulwark: GCRA decisions, a memory and a Redis backend, and the
//! `RateLimit` / `RateLimit-Policy` / `Retry-After` response fields.
//!
//! What it does: given a key (a route plus a client IP, user, API key, ...), a [`Quota`]
//! and a cost, [`Limiter::check`] says whether the request may pass and what to tell the
//! client. The proxy picks a backend by config ([`RateLimiter`], a closed enum, because
//! this is on every request's path); both backends pass one conformance suite
//! (`tests/suite/`). Config and the proxy's policy wiring live elsewhere.
//!
//! GCRA in five lines:
//! 1. A quota of `limit` per `period` frees one unit every emission interval T = period / limit.
//! 2. Each key keeps one number, its theoretical arrival time (TAT): when its bucket is full again.
//! 3. A request of cost c would move the TAT to `max(TAT, now) + c·T`.
//! 4. It passes if that is at most `burst·T` ahead of now (then the TAT is stored), else it is refused.
//! 5. Refused: retry after `new TAT − burst·T − now`; remaining = `(burst·T − (TAT − now)) / T`.
//!
//! Why Redis's clock: with N bulwark instances sharing one limit, each instance's clock
//! differs by skew and drift; a TAT written with one clock and read with another would
//! grant or withhold whole intervals. The Lua script reads `TIME` inside the same atomic
//! script that reads and writes the TAT, so there is exactly one clock and no
//! read-modify-write race between instances.
//!
//! Keys are the caller's: the same key under two different quotas shares one TAT, so the
//! caller puts the policy into the key (`login:ip:203.0.113.7`).

mod clock;
mod error;
pub mod gcra;
pub mod headers;
pub mod memory;
pub mod redis;

use std::future::Future;

pub use clock::{Clock, ManualClock, MonotonicClock};
pub use error::{BackendError, LimiterError};
pub use gcra::{Decision, Quota, QuotaError, decide};
pub use memory::{MemoryConfig, MemoryLimiter};
pub use redis::{RedisConfig, RedisLimiter};

/// One decision per call, whatever the backend.
pub trait Limiter: Send + Sync {
    /// Decides one request of `cost` units for `key` under `quota`, and counts it if it
    /// passes. A cost above the quota's burst can never pass and is an error.
    fn check(
        &self,
        key: &str,
        quota: &Quota,
        cost: u32,
    ) -> impl Future<Output = Result<Decision, LimiterError>> + Send;
}

/// The backend chosen by config. A closed enum rather than a boxed trait object: no
/// allocation or dynamic dispatch per request (STYLE.md, "Traits where a backend varies").
pub enum RateLimiter {
    Memory(MemoryLimiter),
    Redis(RedisLimiter),
}

impl Limiter for RateLimiter {
    async fn check(&self, key: &str, quota: &Quota, cost: u32) -> Result<Decision, LimiterError> {
        match self {
            RateLimiter::Memory(limiter) => limiter.check(key, quota, cost).await,
            RateLimiter::Redis(limiter) => limiter.check(key, quota, cost).await,
        }
    }
}

/// Refuses a cost that no amount of waiting would let through.
fn check_cost(quota: &Quota, cost: u32) -> Result<(), LimiterError> {
    if cost > quota.burst() {
        return Err(LimiterError::CostExceedsBurst {
            cost,
            burst: quota.burst(),
        });
    }
    Ok(())
}
