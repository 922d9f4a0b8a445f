//! Wiring of route policies: the authenticators (with their JWKS refresh loops) and the
//! rate-limit backends, built once at start and kept across reloads.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bulwark_config::ValidatedConfig;
use bulwark_config::limits::RateLimitBackend;
use bulwark_events::Bus;
use bulwark_ops::health::Health;
use bulwark_proxy::policy::authn::Authenticators;
use bulwark_proxy::policy::limits::Limiters;
use bulwark_proxy::state::Policies;
use bulwark_ratelimit::{MemoryConfig, MemoryLimiter, RateLimiter, RedisConfig, RedisLimiter};
use tokio_util::sync::CancellationToken;

/// How often idle limiter entries are dropped and the shared backend's state is shown.
const UPKEEP: Duration = Duration::from_secs(5);

pub fn build(
    config: &ValidatedConfig,
    bus: Bus,
    health: &Health,
    cancel: &CancellationToken,
) -> anyhow::Result<Policies> {
    bulwark_proxy::policy::limits::events::describe();
    bulwark_proxy::policy::request::events::describe();
    let authenticators = Authenticators::build(&config.auth).context("cannot set up [auth]")?;
    for jwks in &authenticators.jwks {
        tokio::spawn(Arc::clone(jwks).run(cancel.clone()));
    }
    let rate_limit = &config.rate_limit;
    let shared = match &rate_limit.backend {
        RateLimitBackend::Memory => {
            RateLimiter::Memory(MemoryLimiter::new(MemoryConfig::default()))
        }
        RateLimitBackend::Redis { url } => {
            let redis = RedisLimiter::new(
                url.expose(),
                RedisConfig {
                    response_timeout: rate_limit.timeout,
                    connection_timeout: rate_limit.timeout,
                    ..RedisConfig::default()
                },
            )
            // The error names neither the URL nor its password.
            .map_err(|_| anyhow::anyhow!("rate_limit.redis_url is not a usable redis:// URL"))?;
            RateLimiter::Redis(redis)
        }
    };
    let redis = matches!(shared, RateLimiter::Redis(_));
    let limiters = Arc::new(Limiters::new(
        shared,
        MemoryLimiter::new(MemoryConfig::default()),
        rate_limit.instances,
        bus,
    ));
    spawn_upkeep(Arc::clone(&limiters), redis, health.clone(), cancel.clone());
    Ok(Policies {
        authenticators,
        limiters,
    })
}

/// Sweeps idle limiter entries and, with Redis, shows its state in `/health` as a
/// warning (bulwark keeps serving on `on_backend_error`).
fn spawn_upkeep(limiters: Arc<Limiters>, redis: bool, health: Health, cancel: CancellationToken) {
    let sweeper = Arc::clone(&limiters);
    let sweep_cancel = cancel.clone();
    tokio::spawn(async move { sweeper.local.run_sweeper(UPKEEP * 12, sweep_cancel).await });
    if let RateLimiter::Memory(_) = limiters.shared {
        let sweeper = Arc::clone(&limiters);
        let sweep_cancel = cancel.clone();
        tokio::spawn(async move {
            if let RateLimiter::Memory(memory) = &sweeper.shared {
                memory.run_sweeper(UPKEEP * 12, sweep_cancel).await;
            }
        });
    }
    if !redis {
        return;
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(UPKEEP);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let down = limiters.backend_down();
            health.set_builtin_warning(
                "rate_limit_backend",
                !down,
                down.then(|| "Redis unavailable: limits use on_backend_error".to_string()),
            );
        }
    });
}
