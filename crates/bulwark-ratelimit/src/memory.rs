//! The in-process backend: one TAT per key in a sharded map, bounded in size.
//!
//! Sharded so that concurrent requests for different keys rarely wait on the same lock;
//! a lock is held only for one map lookup and one [`decide`] call, never across an await.
//!
//! Memory stays bounded two ways:
//! - A key whose TAT is at or before now has a full bucket and carries no information, so
//!   it is dropped: by [`MemoryLimiter::sweep`] (run it periodically with
//!   [`MemoryLimiter::run_sweeper`]) and by a shard that is about to grow past its cap.
//! - At most `max_keys` keys (spread over the shards). When a shard is full of live keys,
//!   it evicts the sixteenth of its keys that are nearest to full (smallest TAT), and
//!   counts them ([`MemoryLimiter::evicted`]). An evicted key forgets its debt and may
//!   burst again. Chosen over the alternatives: refusing unknown keys would let a flood
//!   of new keys (spoofed users, many IPs) lock out everyone new; not tracking them would
//!   exempt every new key from limits. Evicting a batch rather than one key keeps the
//!   cost of a full shard amortised O(1) per new key.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, MonotonicClock};
use crate::gcra::{Decision, Quota, decide};
use crate::{Limiter, LimiterError, check_cost};

/// Sizing of a [`MemoryLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryConfig {
    /// Most keys kept at once (about 100 bytes each plus the key's length).
    pub max_keys: usize,
    /// Number of independently locked shards; rounded up to a power of two.
    pub shards: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        // 100k keys is ~10-15 MB; enough for the clients a small team's API sees within one
        // refill time, and eviction only forgets the keys closest to full anyway.
        MemoryConfig {
            max_keys: 100_000,
            shards: 64,
        }
    }
}

/// Key -> TAT (µs on the limiter's clock).
type Shard = HashMap<Box<str>, u64>;

/// In-process GCRA limiter. `C` is the time source; tests use [`crate::ManualClock`].
pub struct MemoryLimiter<C: Clock = MonotonicClock> {
    shards: Box<[Mutex<Shard>]>,
    /// `shards.len() - 1`; the length is a power of two.
    shard_mask: usize,
    shard_cap: usize,
    hasher: RandomState,
    clock: C,
    evicted: AtomicU64,
}

impl MemoryLimiter<MonotonicClock> {
    /// A limiter on the process's monotonic clock.
    pub fn new(config: MemoryConfig) -> MemoryLimiter<MonotonicClock> {
        MemoryLimiter::with_clock(config, MonotonicClock::new())
    }
}

impl<C: Clock> MemoryLimiter<C> {
    pub fn with_clock(config: MemoryConfig, clock: C) -> MemoryLimiter<C> {
        let shards = config.shards.clamp(1, 1 << 16).next_power_of_two();
        let max_keys = config.max_keys.max(1);
        MemoryLimiter {
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            shard_mask: shards - 1,
            // Rounded up: the total may exceed max_keys by less than one key per shard.
            shard_cap: max_keys.div_ceil(shards),
            hasher: RandomState::new(),
            clock,
            evicted: AtomicU64::new(0),
        }
    }

    /// Decides at the given time (µs on this limiter's clock). The pure core of
    /// [`Limiter::check`], public for benchmarks and callers that already read the clock.
    pub fn check_at(&self, key: &str, quota: &Quota, cost: u32, now: u64) -> Decision {
        let mut shard = self.shard(key);
        match shard.get_mut(key) {
            Some(tat) => {
                let (decision, new_tat) = decide(quota, Some(*tat), now, cost);
                if decision.allowed {
                    *tat = new_tat;
                }
                decision
            }
            None => {
                let (decision, new_tat) = decide(quota, None, now, cost);
                // A TAT not ahead of now is a full bucket: nothing worth storing.
                if decision.allowed && new_tat > now {
                    self.make_room(&mut shard, now);
                    shard.insert(key.into(), new_tat);
                }
                decision
            }
        }
    }

    /// Drops every key whose bucket is full again; returns how many.
    pub fn sweep(&self) -> usize {
        let now = self.clock.now_us();
        let mut dropped = 0;
        for shard in &self.shards {
            let mut shard = lock(shard);
            let before = shard.len();
            shard.retain(|_, tat| *tat > now);
            dropped += before - shard.len();
        }
        dropped
    }

    /// Sweeps every `every` until `shutdown` is cancelled.
    pub async fn run_sweeper(&self, every: Duration, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {
                    self.sweep();
                }
            }
        }
    }

    /// Keys currently stored (including expired ones not yet swept).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live keys evicted because their shard was full, since creation.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        let index = self.hasher.hash_one(key) as usize & self.shard_mask;
        lock(&self.shards[index])
    }

    /// Ensures one more key fits in `shard`: drop expired keys, then if it is still full
    /// evict the sixteenth nearest to full (see the module doc for why).
    fn make_room(&self, shard: &mut Shard, now: u64) {
        if shard.len() < self.shard_cap {
            return;
        }
        shard.retain(|_, tat| *tat > now);
        if shard.len() < self.shard_cap {
            return;
        }
        let mut tats: Vec<u64> = shard.values().copied().collect();
        let nth = (tats.len() / 16).max(1) - 1;
        let (_, &mut threshold, _) = tats.select_nth_unstable(nth);
        let before = shard.len();
        // Ties at the threshold go too; that only frees a little more room.
        shard.retain(|_, tat| *tat > threshold);
        self.evicted
            .fetch_add((before - shard.len()) as u64, Ordering::Relaxed);
    }
}

impl<C: Clock> Limiter for MemoryLimiter<C> {
    async fn check(&self, key: &str, quota: &Quota, cost: u32) -> Result<Decision, LimiterError> {
        check_cost(quota, cost)?;
        Ok(self.check_at(key, quota, cost, self.clock.now_us()))
    }
}

/// Locks a shard. A panic while it was held (there is no code that can panic between the
/// lookup and the single store) cannot leave a half-written entry, so poison is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    const SEC: Duration = Duration::from_secs(1);

    fn limiter(max_keys: usize, shards: usize) -> (MemoryLimiter<ManualClock>, ManualClock) {
        let clock = ManualClock::new(Duration::from_secs(1000));
        let limiter = MemoryLimiter::with_clock(MemoryConfig { max_keys, shards }, clock.clone());
        (limiter, clock)
    }

    #[test]
    fn full_buckets_are_not_stored_and_expired_are_swept() {
        let (limiter, clock) = limiter(100, 4);
        let quota = Quota::new(10, 10 * SEC).unwrap();
        let now = clock.now_us();
        // A cost-0 peek of an unknown key stores nothing.
        assert!(limiter.check_at("peek", &quota, 0, now).allowed);
        assert!(limiter.is_empty());
        for key in ["a", "b", "c"] {
            assert!(limiter.check_at(key, &quota, 1, now).allowed);
        }
        assert_eq!(limiter.len(), 3);
        assert_eq!(limiter.sweep(), 0, "one second to go: still live");
        clock.advance(SEC);
        assert_eq!(limiter.sweep(), 3, "bucket full again after one interval");
        assert!(limiter.is_empty());
    }

    #[test]
    fn a_full_shard_drops_expired_keys_before_evicting() {
        let (limiter, clock) = limiter(32, 1);
        let quota = Quota::new(10, 10 * SEC).unwrap();
        for i in 0..32 {
            limiter.check_at(&format!("k{i}"), &quota, 1, clock.now_us());
        }
        clock.advance(SEC);
        limiter.check_at("new", &quota, 1, clock.now_us());
        assert_eq!(limiter.len(), 1, "the 32 expired keys made room");
        assert_eq!(limiter.evicted(), 0);
    }

    #[test]
    fn a_full_shard_evicts_the_keys_nearest_to_full() {
        let (limiter, clock) = limiter(32, 1);
        let quota = Quota::new(100, 100 * SEC).unwrap();
        // Key i has used i + 1 units: key 0 is nearest to full.
        for i in 0..32u32 {
            let decision = limiter.check_at(&format!("k{i}"), &quota, i + 1, clock.now_us());
            assert!(decision.allowed);
        }
        assert_eq!(limiter.len(), 32);
        limiter.check_at("new", &quota, 1, clock.now_us());
        assert_eq!(limiter.evicted(), 2, "a sixteenth of 32");
        assert_eq!(limiter.len(), 31);
        let now = clock.now_us();
        // k0 and k1 were forgotten (full bucket again), k2 kept its debt.
        assert_eq!(limiter.check_at("k0", &quota, 0, now).remaining, 100);
        assert_eq!(limiter.check_at("k1", &quota, 0, now).remaining, 100);
        assert_eq!(limiter.check_at("k2", &quota, 0, now).remaining, 97);
    }

    #[test]
    fn many_keys_stay_within_the_cap() {
        let (limiter, clock) = limiter(1000, 8);
        let quota = Quota::new(5, 60 * SEC).unwrap();
        for i in 0..20_000 {
            limiter.check_at(&format!("ip{i}"), &quota, 1, clock.now_us());
        }
        // Each of the 8 shards holds at most 125.
        assert!(limiter.len() <= 1000, "{} keys", limiter.len());
        assert!(limiter.evicted() >= 19_000);
    }

    #[tokio::test(start_paused = true)]
    async fn sweeper_runs_until_cancelled() {
        let (limiter, clock) = limiter(100, 4);
        let limiter = std::sync::Arc::new(limiter);
        let quota = Quota::new(10, 10 * SEC).unwrap();
        limiter.check_at("a", &quota, 1, clock.now_us());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn({
            let limiter = limiter.clone();
            let shutdown = shutdown.clone();
            async move { limiter.run_sweeper(Duration::from_secs(5), shutdown).await }
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(limiter.len(), 1);
        clock.advance(SEC);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(limiter.is_empty());
        shutdown.cancel();
        task.await.unwrap();
    }
}
