//! The shared backend: one Lua script per decision on Redis, so that N bulwark instances
//! enforce one limit, not N.
//!
//! The script (`gcra.lua`) reads Redis's `TIME`, the key's TAT, decides and writes in one
//! atomic step; see the crate doc for why Redis's clock. It is sent with `EVALSHA` and
//! re-sent with `EVAL` when Redis does not know it (after a restart or `SCRIPT FLUSH`),
//! which `redis::Script` does by itself. Keys carry a prefix and a `PX` expiry at the
//! moment their bucket is full again.
//!
//! A dead or slow Redis must never hang a request: every call is bounded by
//! `response_timeout` and fails with [`LimiterError::Backend`]; the proxy then applies the
//! route's `on_backend_error`. The connection manager reconnects in the background.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Script};

use crate::error::BackendError;
use crate::gcra::{Decision, Quota};
use crate::{Limiter, LimiterError, check_cost};

/// The GCRA script's source. Public (hidden) so the differential test can run it with a
/// pinned clock; production code only uses it through [`RedisLimiter`].
#[doc(hidden)]
pub const GCRA_LUA: &str = include_str!("gcra.lua");

/// Connection settings of a [`RedisLimiter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// Put before every key, so that several deployments or tests can share one Redis.
    pub key_prefix: String,
    /// Longest wait for one decision, connecting included, before it fails.
    pub response_timeout: Duration,
    /// Longest wait for one connection attempt.
    pub connection_timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        // 250 ms: a loopback or same-zone Redis answers in well under 1 ms; anything slower
        // is an outage, and a request should learn it before a client gives up.
        RedisConfig {
            key_prefix: "bulwark:rl:".to_owned(),
            response_timeout: Duration::from_millis(250),
            connection_timeout: Duration::from_millis(250),
        }
    }
}

/// GCRA on a Redis server shared by every instance.
#[derive(Clone)]
pub struct RedisLimiter {
    connection: ConnectionManager,
    script: Script,
    key_prefix: String,
    response_timeout: Duration,
}

impl RedisLimiter {
    /// A limiter for the Redis at `url` (`redis://host:port/db`). Connects lazily, on the
    /// first check, so that bulwark starts while Redis is down. Fails only on a bad URL.
    /// Must be called inside a Tokio runtime.
    pub fn new(url: &str, config: RedisConfig) -> Result<RedisLimiter, LimiterError> {
        let client = Client::open(url).map_err(BackendError::Redis)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(config.response_timeout))
            .set_connection_timeout(Some(config.connection_timeout));
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(BackendError::Redis)?;
        Ok(RedisLimiter {
            connection,
            script: Script::new(GCRA_LUA),
            key_prefix: config.key_prefix,
            response_timeout: config.response_timeout,
        })
    }

    async fn run(&self, key: &str, quota: &Quota, cost: u32) -> Result<Decision, BackendError> {
        let mut connection = self.connection.clone();
        let mut invocation = self.script.key(format!("{}{key}", self.key_prefix));
        invocation
            .arg(quota.interval_us())
            .arg(quota.tolerance_us())
            .arg(cost);
        // The manager has its own response timeout, but not around reconnecting; this
        // bounds the whole call.
        let reply: Vec<i64> = tokio::time::timeout(
            self.response_timeout,
            invocation.invoke_async(&mut connection),
        )
        .await
        .map_err(|_| BackendError::Timeout(self.response_timeout))?
        .map_err(BackendError::Redis)?;
        decision_from_reply(&reply)
    }
}

impl Limiter for RedisLimiter {
    async fn check(&self, key: &str, quota: &Quota, cost: u32) -> Result<Decision, LimiterError> {
        check_cost(quota, cost)?;
        Ok(self.run(key, quota, cost).await?)
    }
}

/// `{ allowed, remaining, reset_after µs, retry_after µs or -1 }` from the script.
fn decision_from_reply(reply: &[i64]) -> Result<Decision, BackendError> {
    let &[allowed, remaining, reset_after, retry_after] = reply else {
        return Err(BackendError::UnexpectedReply);
    };
    let micros = |value: i64| u64::try_from(value).map(Duration::from_micros);
    Ok(Decision {
        allowed: match allowed {
            0 => false,
            1 => true,
            _ => return Err(BackendError::UnexpectedReply),
        },
        remaining: u32::try_from(remaining).map_err(|_| BackendError::UnexpectedReply)?,
        reset_after: micros(reset_after).map_err(|_| BackendError::UnexpectedReply)?,
        retry_after: (retry_after >= 0)
            .then(|| micros(retry_after))
            .transpose()
            .map_err(|_| BackendError::UnexpectedReply)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_is_parsed_strictly() {
        assert_eq!(
            decision_from_reply(&[0, 0, 60_000_000, 12_000_000]).unwrap(),
            Decision {
                allowed: false,
                remaining: 0,
                reset_after: Duration::from_secs(60),
                retry_after: Some(Duration::from_secs(12)),
            }
        );
        assert_eq!(
            decision_from_reply(&[1, 4, 12_000_000, -1])
                .unwrap()
                .retry_after,
            None
        );
        for bad in [
            &[1, 4, 12][..],
            &[2, 4, 12, -1],
            &[1, -4, 12, -1],
            &[1, 4, -12, -1],
        ] {
            assert!(matches!(
                decision_from_reply(bad),
                Err(BackendError::UnexpectedReply)
            ));
        }
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_at_creation() {
        let error = RedisLimiter::new("http://nope", RedisConfig::default()).err();
        assert!(matches!(
            error,
            Some(LimiterError::Backend(BackendError::Redis(_)))
        ));
    }
}
