//! The conformance suite every limiter backend passes (STYLE.md: one suite per backend
//! trait). Each test file supplies a [`Harness`] and instantiates the cases with
//! [`conformance_tests!`].
//!
//! Quotas are chosen so the cases hold on a real clock too (Redis): emission intervals of
//! a second or more, so a unit cannot free up between a test's back-to-back requests, and
//! every wait is the one the limiter returned (`retry_after`, `reset_after`), never a
//! guessed sleep.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bulwark_ratelimit::{Decision, Limiter, LimiterError, Quota};

pub trait Harness: Send + Sync + 'static {
    type Limiter: Limiter + 'static;

    fn limiter(&self) -> Arc<Self::Limiter>;

    /// Lets `duration` pass on the limiter's clock.
    fn wait(&self, duration: Duration) -> impl Future<Output = ()> + Send;

    /// Whether the clock only moves in [`Harness::wait`], so that durations returned by the
    /// limiter are exact rather than upper bounds.
    fn exact_clock(&self) -> bool;
}

/// One `#[tokio::test]` per case, each with a fresh harness from `$make`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@cases $make;
            burst_then_one_per_interval,
            concurrent_checks_are_exact,
            keys_are_independent,
            cost_counts_units,
            cost_above_burst_is_an_error,
            burst_below_limit,
            full_again_after_reset_after,
        );
    };
    (@cases $make:expr; $($case:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = $make;
                suite::$case(&harness).await;
            }
        )*
    };
}

const SEC: Duration = Duration::from_secs(1);

async fn check<H: Harness>(harness: &H, key: &str, quota: &Quota, cost: u32) -> Decision {
    harness
        .limiter()
        .check(key, quota, cost)
        .await
        .unwrap_or_else(|error| panic!("check {key} failed: {error:?}"))
}

fn assert_at_most_or_exact<H: Harness>(harness: &H, actual: Duration, expected: Duration) {
    if harness.exact_clock() {
        assert_eq!(actual, expected);
    } else {
        assert!(
            actual > Duration::ZERO && actual <= expected,
            "{actual:?} not in (0, {expected:?}]"
        );
    }
}

/// `limit` at once, then refused, then exactly one per emission interval.
pub async fn burst_then_one_per_interval<H: Harness>(harness: &H) {
    let quota = Quota::new(5, 5 * SEC).unwrap();
    for remaining in (0..5).rev() {
        let d = check(harness, "burst", &quota, 1).await;
        assert!(d.allowed);
        assert_eq!(d.remaining, remaining);
        assert_eq!(d.retry_after, None);
    }
    let refused = check(harness, "burst", &quota, 1).await;
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    let wait = refused.retry_after.expect("a refusal says when to retry");
    assert_at_most_or_exact(harness, wait, SEC);
    assert_at_most_or_exact(harness, refused.reset_after, 5 * SEC);

    harness.wait(wait).await;
    let d = check(harness, "burst", &quota, 1).await;
    assert!(d.allowed, "one more after the retry delay");
    assert_eq!(d.remaining, 0);
    let d = check(harness, "burst", &quota, 1).await;
    assert!(!d.allowed, "and only one");
    assert_at_most_or_exact(harness, d.retry_after.unwrap(), SEC);
}

/// 200 concurrent checks against a limit of 50: exactly 50 pass.
pub async fn concurrent_checks_are_exact<H: Harness>(harness: &H) {
    let quota = Quota::new(50, 60 * SEC).unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let limiter = harness.limiter();
            tokio::spawn(async move { limiter.check("crowd", &quota, 1).await })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 50);
}

pub async fn keys_are_independent<H: Harness>(harness: &H) {
    let quota = Quota::new(2, 60 * SEC).unwrap();
    for _ in 0..2 {
        assert!(check(harness, "ip:a", &quota, 1).await.allowed);
    }
    assert!(!check(harness, "ip:a", &quota, 1).await.allowed);
    let d = check(harness, "ip:b", &quota, 1).await;
    assert!(d.allowed);
    assert_eq!(d.remaining, 1);
    assert!(!check(harness, "ip:a", &quota, 1).await.allowed);
}

pub async fn cost_counts_units<H: Harness>(harness: &H) {
    let quota = Quota::new(10, 10 * SEC).unwrap();
    let d = check(harness, "cost", &quota, 4).await;
    assert_eq!((d.allowed, d.remaining), (true, 6));
    let d = check(harness, "cost", &quota, 4).await;
    assert_eq!((d.allowed, d.remaining), (true, 2));
    let d = check(harness, "cost", &quota, 4).await;
    assert_eq!((d.allowed, d.remaining), (false, 2));
    assert_at_most_or_exact(harness, d.retry_after.unwrap(), 2 * SEC);
    let d = check(harness, "cost", &quota, 2).await;
    assert_eq!((d.allowed, d.remaining), (true, 0));
}

pub async fn cost_above_burst_is_an_error<H: Harness>(harness: &H) {
    let quota = Quota::with_burst(10, 10 * SEC, 3).unwrap();
    let result = harness.limiter().check("big", &quota, 4).await;
    assert!(
        matches!(
            result,
            Err(LimiterError::CostExceedsBurst { cost: 4, burst: 3 })
        ),
        "{result:?}"
    );
    // Nothing was counted.
    assert_eq!(check(harness, "big", &quota, 3).await.remaining, 0);
}

pub async fn burst_below_limit<H: Harness>(harness: &H) {
    // 10 per 10 s, at most 2 at once.
    let quota = Quota::with_burst(10, 10 * SEC, 2).unwrap();
    assert!(check(harness, "small-burst", &quota, 1).await.allowed);
    assert!(check(harness, "small-burst", &quota, 1).await.allowed);
    let d = check(harness, "small-burst", &quota, 1).await;
    assert!(!d.allowed);
    assert_at_most_or_exact(harness, d.retry_after.unwrap(), SEC);
    assert_at_most_or_exact(harness, d.reset_after, 2 * SEC);
}

/// After `reset_after` the whole burst is available again (and the backend may forget
/// the key).
pub async fn full_again_after_reset_after<H: Harness>(harness: &H) {
    let quota = Quota::new(3, 900 * Duration::from_millis(1)).unwrap();
    let mut last = check(harness, "reset", &quota, 1).await;
    for _ in 0..10 {
        if !last.allowed {
            break;
        }
        last = check(harness, "reset", &quota, 1).await;
    }
    assert!(!last.allowed, "the burst of 3 runs out");
    harness.wait(last.reset_after).await;
    for remaining in (0..3).rev() {
        let d = check(harness, "reset", &quota, 1).await;
        assert!(d.allowed);
        // On a real clock a little more may have freed up meanwhile; never less.
        if harness.exact_clock() {
            assert_eq!(d.remaining, remaining);
        }
    }
}
