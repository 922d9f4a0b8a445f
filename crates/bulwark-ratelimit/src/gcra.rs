//! Pure GCRA (generic cell rate algorithm) decisions: `(quota, state, now, cost) -> decision`.
//!
//! No clock and no I/O in here (DESIGN.md, "Pure logic apart from I/O"): the caller passes
//! `now` and keeps the state, a single theoretical arrival time (TAT) per key. The memory
//! backend calls [`decide`] directly; the Redis backend runs the same arithmetic in Lua
//! (`gcra.lua`), and the shared conformance suite plus a differential test keep the two equal.
//!
//! Time is integer microseconds. Why micros: Redis's `TIME` has microsecond resolution, and
//! Lua numbers are doubles, exact only below 2^53 — microseconds since the Unix epoch
//! (~2^51) fit, nanoseconds (~2^61) would not. Integers everywhere so that Rust and Lua
//! round the same way.

use std::time::Duration;

/// Upper bound of a quota's tolerance (`burst` emission intervals), about 8.9 years.
///
/// Keeps every intermediate value of the Lua twin (`now` ~2^51 µs + tolerance + cost
/// intervals) below 2^53, where doubles stop being exact integers.
pub const MAX_TOLERANCE: Duration = Duration::from_micros(1 << 48);

/// A validated rate: `limit` units per `period`, of which up to `burst` may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    limit: u32,
    period: Duration,
    burst: u32,
    /// Emission interval T: one unit frees up every T µs.
    interval_us: u64,
    /// `burst * T` µs: how far the TAT may run ahead of now.
    tolerance_us: u64,
}

/// Why a quota is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error("the limit must be at least 1")]
    ZeroLimit,
    #[error("the burst must be at least 1")]
    ZeroBurst,
    #[error("the period must be at least 1 µs")]
    ZeroPeriod,
    #[error("the period or burst is too long: burst x (period / limit) must not exceed {max:?}")]
    TooLong { max: Duration },
}

impl Quota {
    /// `limit` units per `period`, all of which may come at once (burst = limit).
    pub fn new(limit: u32, period: Duration) -> Result<Quota, QuotaError> {
        Quota::with_burst(limit, period, limit)
    }

    /// `limit` units per `period`, at most `burst` at once.
    pub fn with_burst(limit: u32, period: Duration, burst: u32) -> Result<Quota, QuotaError> {
        if limit == 0 {
            return Err(QuotaError::ZeroLimit);
        }
        if burst == 0 {
            return Err(QuotaError::ZeroBurst);
        }
        let period_us = period.as_micros();
        if period_us == 0 {
            return Err(QuotaError::ZeroPeriod);
        }
        // Rounded up, so integer rounding can only make the limiter stricter than the
        // configured rate, never looser: 7 per minute lets 6, not 7, through in the minute
        // after the burst (7 intervals are 60.000003 s).
        let interval_us = period_us.div_ceil(u128::from(limit));
        let tolerance_us = interval_us * u128::from(burst);
        let max = MAX_TOLERANCE.as_micros();
        if tolerance_us > max || period_us > max {
            return Err(QuotaError::TooLong { max: MAX_TOLERANCE });
        }
        Ok(Quota {
            limit,
            period,
            burst,
            // Both fit: checked against MAX_TOLERANCE (2^48) above.
            interval_us: interval_us as u64,
            tolerance_us: tolerance_us as u64,
        })
    }

    /// Units per period (the sustained rate).
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The period `limit` is counted over.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// How many units may come at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// One unit frees up every emission interval (period / limit, rounded up to a µs).
    pub fn emission_interval(&self) -> Duration {
        Duration::from_micros(self.interval_us)
    }

    /// Time for an empty bucket to fill up again: `burst` emission intervals.
    pub fn refill_time(&self) -> Duration {
        Duration::from_micros(self.tolerance_us)
    }

    /// Emission interval in µs, as the Redis script takes it.
    pub(crate) fn interval_us(&self) -> u64 {
        self.interval_us
    }

    /// Tolerance (`burst` intervals) in µs, as the Redis script takes it.
    pub(crate) fn tolerance_us(&self) -> u64 {
        self.tolerance_us
    }
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may pass (its cost has been counted if so).
    pub allowed: bool,
    /// Units of cost 1 that would pass right now, after this decision.
    pub remaining: u32,
    /// Until the bucket is full again (`burst` units available); zero when it is.
    pub reset_after: Duration,
    /// When refused: the wait after which the same request would pass. `None` when allowed,
    /// and when the cost exceeds the burst (it never passes).
    pub retry_after: Option<Duration>,
}

/// Decides one request of `cost` units at `now` (µs, any monotonic origin shared with
/// `tat`), given the key's stored TAT (`None` for an unknown key).
///
/// Returns the decision and the TAT to keep: advanced by `cost` intervals when allowed,
/// otherwise unchanged (`max(tat, now)`). A TAT at or before `now` means a full bucket, so
/// the caller may drop the key instead of storing it.
///
/// The rule: the request's TAT would be `max(tat, now) + cost * T`; it passes when that is
/// at most `burst * T` ahead of now.
pub fn decide(quota: &Quota, tat: Option<u64>, now: u64, cost: u32) -> (Decision, u64) {
    let interval = quota.interval_us;
    let tolerance = quota.tolerance_us;
    let base = tat.map_or(now, |tat| tat.max(now));
    let new_tat = base.saturating_add(interval.saturating_mul(u64::from(cost)));

    let (allowed, state, retry_after) = if new_tat - now <= tolerance {
        (true, new_tat, None)
    } else if cost > quota.burst {
        (false, base, None)
    } else {
        // The instant at which `new_tat` is exactly `tolerance` ahead.
        let wait = new_tat - tolerance - now;
        (false, base, Some(Duration::from_micros(wait)))
    };

    // A stored TAT further ahead than the tolerance (left by an earlier, larger quota under
    // the same key) just means nothing remains: saturate instead of underflowing.
    let ahead = state - now;
    let remaining = tolerance.saturating_sub(ahead) / interval;
    let decision = Decision {
        allowed,
        // At most `burst`, a u32.
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        reset_after: Duration::from_micros(ahead),
        retry_after,
    };
    (decision, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEC: u64 = 1_000_000;

    fn quota(limit: u32, period_s: u64, burst: u32) -> Quota {
        Quota::with_burst(limit, Duration::from_secs(period_s), burst).unwrap()
    }

    #[test]
    fn rejects_degenerate_quotas() {
        let minute = Duration::from_secs(60);
        assert_eq!(Quota::new(0, minute), Err(QuotaError::ZeroLimit));
        assert_eq!(Quota::with_burst(1, minute, 0), Err(QuotaError::ZeroBurst));
        assert_eq!(Quota::new(1, Duration::ZERO), Err(QuotaError::ZeroPeriod));
        assert_eq!(
            Quota::new(1, Duration::from_secs(10 * 365 * 86_400)),
            Err(QuotaError::TooLong { max: MAX_TOLERANCE })
        );
        assert!(Quota::new(1, Duration::from_secs(365 * 86_400)).is_ok());
    }

    #[test]
    fn interval_rounds_up() {
        // 60 s / 7 = 8.5714285... s: rounded up to the next µs.
        let q = Quota::new(7, Duration::from_secs(60)).unwrap();
        assert_eq!(q.emission_interval(), Duration::from_micros(8_571_429));
        assert_eq!(q.refill_time(), Duration::from_micros(7 * 8_571_429));
    }

    /// limit 5 per 60 s: 5 at once, then refused, then exactly one per 12 s.
    #[test]
    fn burst_then_one_per_interval() {
        let q = quota(5, 60, 5);
        let now = 1_000 * SEC;
        let mut tat = None;
        for expected_remaining in (0..5).rev() {
            let (d, t) = decide(&q, tat, now, 1);
            assert!(d.allowed);
            assert_eq!(d.remaining, expected_remaining);
            assert_eq!(d.retry_after, None);
            tat = Some(t);
        }
        let (d, t) = decide(&q, tat, now, 1);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.retry_after, Some(Duration::from_secs(12)));
        assert_eq!(d.reset_after, Duration::from_secs(60));
        assert_eq!(Some(t), tat, "a refusal leaves the state unchanged");

        // One µs early: still refused, 1 µs to go.
        let (d, _) = decide(&q, tat, now + 12 * SEC - 1, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(Duration::from_micros(1)));

        // Exactly one emission interval later: one passes, the next does not.
        let (d, t) = decide(&q, tat, now + 12 * SEC, 1);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let (d, _) = decide(&q, Some(t), now + 12 * SEC, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(Duration::from_secs(12)));
    }

    #[test]
    fn full_again_after_reset_after() {
        let q = quota(5, 60, 5);
        let mut tat = None;
        for _ in 0..5 {
            tat = Some(decide(&q, tat, 0, 1).1);
        }
        let (d, _) = decide(&q, tat, 0, 0);
        let later = d.reset_after.as_micros() as u64;
        let (d, t) = decide(&q, tat, later, 0);
        assert!(d.allowed);
        assert_eq!(d.remaining, 5);
        assert_eq!(d.reset_after, Duration::ZERO);
        assert!(
            t <= later,
            "a full bucket's TAT is not ahead of now, so it can be dropped"
        );
    }

    #[test]
    fn burst_smaller_than_limit() {
        // 10 per 10 s, at most 2 at once.
        let q = quota(10, 10, 2);
        let (d, t) = decide(&q, None, 0, 1);
        assert_eq!((d.allowed, d.remaining), (true, 1));
        let (d, t) = decide(&q, Some(t), 0, 1);
        assert_eq!((d.allowed, d.remaining), (true, 0));
        let (d, _) = decide(&q, Some(t), 0, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(Duration::from_secs(1)));
        assert_eq!(d.reset_after, Duration::from_secs(2));
    }

    #[test]
    fn cost_counts_units() {
        let q = quota(10, 10, 10);
        let (d, t) = decide(&q, None, 0, 4);
        assert_eq!((d.allowed, d.remaining), (true, 6));
        let (d, t) = decide(&q, Some(t), 0, 4);
        assert_eq!((d.allowed, d.remaining), (true, 2));
        let (d, t2) = decide(&q, Some(t), 0, 4);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 2);
        assert_eq!(d.retry_after, Some(Duration::from_secs(2)));
        assert_eq!(t2, t);
        let (d, _) = decide(&q, Some(t), 0, 2);
        assert_eq!((d.allowed, d.remaining), (true, 0));
    }

    #[test]
    fn cost_above_burst_never_passes() {
        let q = quota(10, 10, 3);
        let (d, t) = decide(&q, None, 5 * SEC, 4);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, None);
        assert_eq!(d.remaining, 3);
        assert_eq!(t, 5 * SEC);
    }

    #[test]
    fn cost_zero_peeks() {
        let q = quota(10, 10, 10);
        let (_, t) = decide(&q, None, 0, 3);
        let (d, t2) = decide(&q, Some(t), 0, 0);
        assert_eq!((d.allowed, d.remaining), (true, 7));
        assert_eq!(t2, t);
    }

    #[test]
    fn tat_beyond_tolerance_saturates() {
        // Left by a larger quota under the same key.
        let q = quota(1, 1, 1);
        let (d, t) = decide(&q, Some(100 * SEC), 0, 1);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset_after, Duration::from_secs(100));
        assert_eq!(d.retry_after, Some(Duration::from_secs(100)));
        assert_eq!(t, 100 * SEC);
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let q = Quota::with_burst(1, Duration::from_secs(86_400), u32::MAX);
        assert_eq!(q, Err(QuotaError::TooLong { max: MAX_TOLERANCE }));
        assert!(Quota::with_burst(u32::MAX, Duration::from_micros(1), u32::MAX).is_ok());
        // No panic at the ends of the ranges (times that far out never occur: u64 µs
        // is 584,000 years).
        let q = Quota::with_burst(1, MAX_TOLERANCE, 1).unwrap();
        let _ = decide(&q, Some(u64::MAX), u64::MAX - 1, u32::MAX);
        let _ = decide(&q, None, u64::MAX, u32::MAX);
        let _ = decide(&q, Some(u64::MAX), 0, u32::MAX);
    }

    proptest! {
        /// Over any arrival sequence, the units passed up to time t never exceed
        /// burst + (t - first arrival) / T — the GCRA bound.
        #[test]
        fn never_more_than_burst_plus_rate(
            limit in 1u32..50,
            period_ms in 1u64..10_000,
            burst in 1u32..50,
            arrivals in proptest::collection::vec((0u64..2_000_000, 0u32..5), 1..200),
        ) {
            let q = Quota::with_burst(limit, Duration::from_millis(period_ms), burst).unwrap();
            let interval = q.interval_us;
            let start = 7 * SEC;
            let mut now = start;
            let mut tat = None;
            let mut passed: u64 = 0;
            for (gap, cost) in arrivals {
                now += gap;
                let (d, t) = decide(&q, tat, now, cost);
                if d.allowed {
                    passed += u64::from(cost);
                    tat = Some(t);
                } else {
                    prop_assert_eq!(Some(t), tat.map(|tat| tat.max(now)).or(Some(now)));
                    if cost <= burst {
                        // Waiting retry_after makes the same request pass, one µs less does not.
                        let wait = d.retry_after.unwrap().as_micros() as u64;
                        prop_assert!(wait > 0);
                        prop_assert!(decide(&q, tat, now + wait, cost).0.allowed);
                        prop_assert!(!decide(&q, tat, now + wait - 1, cost).0.allowed);
                    }
                }
                let bound = u64::from(burst) + (now - start) / interval;
                prop_assert!(passed <= bound, "{} passed, bound {}", passed, bound);
                prop_assert!(d.remaining <= burst);
            }
        }

        /// From an empty bucket, exactly `burst` units of cost 1 pass at one instant.
        #[test]
        fn exactly_burst_at_once(limit in 1u32..1000, burst in 1u32..1000, period_ms in 1u64..100_000) {
            let q = Quota::with_burst(limit, Duration::from_millis(period_ms), burst).unwrap();
            let mut tat = None;
            let mut passed = 0;
            for _ in 0..burst + 5 {
                let (d, t) = decide(&q, tat, SEC, 1);
                if d.allowed {
                    passed += 1;
                    tat = Some(t);
                }
            }
            prop_assert_eq!(passed, burst);
        }
    }
}
