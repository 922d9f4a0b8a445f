//! Rate limits of a route: the shared limiter backend (memory, or Redis shared by every
//! instance), a local memory limiter for when Redis is unreachable, and each limit
//! compiled from `[[routes.limits]]` with its quota, per-plan quotas and header name.

pub mod events;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bulwark_auth::Identity;
use bulwark_config::limits::{LimitKey, OnBackendError, Rate, RouteLimit};
use bulwark_events::{Bus, BusEvent};
use bulwark_ratelimit::headers::{self, PolicyName};
use bulwark_ratelimit::{Decision, Limiter, LimiterError, MemoryLimiter, Quota, RateLimiter};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Digest as _;

use super::Refusal;
use crate::problem::Problem;

/// The limiter backends, shared by every route and kept across reloads (a SIGHUP must
/// not hand everyone a fresh budget).
pub struct Limiters {
    pub shared: RateLimiter,
    /// Decides when the shared backend cannot, at `limit / instances`.
    pub local: MemoryLimiter,
    pub instances: u32,
    pub bus: Bus,
    backend_down: AtomicBool,
}

impl Limiters {
    pub fn new(shared: RateLimiter, local: MemoryLimiter, instances: u32, bus: Bus) -> Self {
        Limiters {
            shared,
            local,
            instances: instances.max(1),
            bus,
            backend_down: AtomicBool::new(false),
        }
    }

    /// Whether the last decision of the shared backend failed (for `/health`).
    pub fn backend_down(&self) -> bool {
        self.backend_down.load(Ordering::Relaxed)
    }

    fn backend_state(&self, down: bool) {
        if self.backend_down.swap(down, Ordering::Relaxed) != down {
            if down {
                tracing::warn!(
                    "Rate-limit backend unavailable; routes use their on_backend_error setting."
                );
                self.bus.publish(BusEvent::RateLimitBackendUnavailable);
            } else {
                tracing::info!("Rate-limit backend answers again.");
                self.bus.publish(BusEvent::RateLimitBackendRecovered);
            }
        }
    }
}

/// One limit of one route, ready to decide.
pub struct CompiledLimit {
    pub name: String,
    pub key: LimitKey,
    pub policy: PolicyName,
    pub quota: Quotas,
    pub plans: Vec<(String, Quotas)>,
    pub on_backend_error: OnBackendError,
    pub dry_run: bool,
    pub violations: metrics::Counter,
}

/// A quota as configured, and its share for one instance deciding alone.
#[derive(Clone, Copy, Debug)]
pub struct Quotas {
    pub shared: Quota,
    pub local: Quota,
}

pub enum Verdict {
    Allowed,
    Refused(Refusal),
    /// The shared backend failed and the limit says `deny`.
    BackendDown,
}

/// Why a route's limit could not be compiled (a quota out of range).
#[derive(Debug, thiserror::Error)]
#[error("route {route}, limit {limit}: {detail}")]
pub struct LimitSetupError {
    pub route: String,
    pub limit: String,
    pub detail: String,
}

impl CompiledLimit {
    pub fn compile(
        route: &str,
        limit: &RouteLimit,
        instances: u32,
    ) -> Result<Self, LimitSetupError> {
        let error = |detail: String| LimitSetupError {
            route: route.to_string(),
            limit: limit.name.clone(),
            detail,
        };
        let quotas = |rate: Rate| -> Result<Quotas, LimitSetupError> {
            let burst = limit.burst.unwrap_or(rate.count);
            let shared = Quota::with_burst(rate.count, rate.period, burst)
                .map_err(|e| error(e.to_string()))?;
            let local = Quota::with_burst(
                (rate.count / instances).max(1),
                rate.period,
                (burst / instances).max(1),
            )
            .map_err(|e| error(e.to_string()))?;
            Ok(Quotas { shared, local })
        };
        Ok(CompiledLimit {
            name: limit.name.clone(),
            key: limit.key.clone(),
            policy: PolicyName::new(&limit.name).map_err(|e| error(e.to_string()))?,
            quota: quotas(limit.rate)?,
            plans: limit
                .plans
                .iter()
                .map(|(plan, rate)| Ok((plan.clone(), quotas(*rate)?)))
                .collect::<Result<_, LimitSetupError>>()?,
            on_backend_error: limit.on_backend_error,
            dry_run: limit.dry_run,
            violations: events::violations(route, limit.key.label()),
        })
    }

    pub async fn check(
        &self,
        route: &str,
        headers: &HeaderMap,
        client_ip: IpAddr,
        identity: Option<&Identity>,
        limiters: &Limiters,
    ) -> Verdict {
        let value: String = match &self.key {
            LimitKey::Ip => ip_key(client_ip),
            LimitKey::Route => String::new(),
            LimitKey::User | LimitKey::ApiKey => match identity {
                Some(identity) => identity.subject.clone(),
                // Compiled after authentication only; nothing to count without a caller.
                None => return Verdict::Allowed,
            },
            LimitKey::Header(name) => match headers.get(name.as_str()) {
                Some(v) => short(v.as_bytes()),
                // A request without the header is not counted by this limit.
                None => return Verdict::Allowed,
            },
        };
        let plan = identity.and_then(|i| i.plan.as_deref());
        let (plan_label, quotas) = plan
            .and_then(|p| self.plans.iter().find(|(name, _)| name == p))
            .map_or(("", &self.quota), |(name, q)| (name.as_str(), q));
        // The plan is part of the key: GCRA state is per quota.
        let key = format!("{route}\u{1f}{}\u{1f}{plan_label}\u{1f}{value}", self.name);
        let (decision, quota) = match limiters.shared.check(&key, &quotas.shared, 1).await {
            Ok(decision) => {
                limiters.backend_state(false);
                (decision, &quotas.shared)
            }
            Err(LimiterError::Backend(error)) => {
                events::backend_error(&error);
                limiters.backend_state(true);
                match self.on_backend_error {
                    OnBackendError::Deny => return Verdict::BackendDown,
                    OnBackendError::Local => {
                        match limiters.local.check(&key, &quotas.local, 1).await {
                            Ok(decision) => (decision, &quotas.local),
                            Err(_) => return Verdict::BackendDown,
                        }
                    }
                }
            }
            // Cost 1 never exceeds a burst of at least 1.
            Err(LimiterError::CostExceedsBurst { .. }) => return Verdict::Allowed,
        };
        if decision.allowed {
            return Verdict::Allowed;
        }
        self.violations.increment(1);
        if self.dry_run {
            tracing::info!(route, limit = %self.name, "Rate limit exceeded (dry run: allowed).");
            return Verdict::Allowed;
        }
        Verdict::Refused(self.refusal(quota, &decision))
    }

    fn refusal(&self, quota: &Quota, decision: &Decision) -> Refusal {
        let mut out = Vec::with_capacity(3);
        let mut push = |name: HeaderName, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                out.push((name, v));
            }
        };
        if let Some(retry) = headers::retry_after(decision) {
            push(http::header::RETRY_AFTER, retry);
        }
        push(
            HeaderName::from_static("ratelimit-policy"),
            headers::policy_item(&self.policy, quota),
        );
        push(
            HeaderName::from_static("ratelimit"),
            headers::ratelimit_item(&self.policy, decision),
        );
        Refusal {
            problem: Problem::TooManyRequests,
            headers: out,
        }
    }
}

/// The key of a per-IP limit. An IPv6 client is counted per /64: one customer line gets
/// a whole /64, so per address it could rotate through 2^64 fresh budgets.
fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(ip.to_string(), |v4| v4.to_string()),
        IpAddr::V4(_) => ip.to_string(),
    }
}

/// A header value as a limiter key: as is when short, else its SHA-256, so a client
/// cannot grow the limiter's memory with huge values.
fn short(value: &[u8]) -> String {
    if value.len() <= 64 {
        String::from_utf8_lossy(value).into_owned()
    } else {
        hex::encode(sha2::Sha256::digest(value))
    }
}

/// Shares of the shared state for tests and wiring.
pub type SharedLimiters = Arc<Limiters>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_a_budget_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), "2001:db8:1:2::/64");
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(other));
        assert_eq!(ip_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(ip_key("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
    }
}
