//! Memory-limiter decisions: the per-request cost of a rate limit on the proxy's hot path.
//!
//! `cargo bench -p bulwark-ratelimit --bench memory`. Two shapes: one hot key (every
//! request from one client: lock and map entry always warm) and 10,000 keys (per-IP limits
//! under many clients: spread over shards, cache misses).

use std::hint::black_box;
use std::time::Duration;

use bulwark_ratelimit::{Clock, MemoryConfig, MemoryLimiter, MonotonicClock, Quota};
use criterion::{Criterion, criterion_group, criterion_main};

fn decisions(c: &mut Criterion) {
    // Limits that never trip, so the numbers measure the work, not cheap refusals.
    let quota = Quota::new(1_000_000_000, Duration::from_secs(1)).expect("a valid quota");
    let clock = MonotonicClock::new();

    let limiter = MemoryLimiter::new(MemoryConfig::default());
    c.bench_function("memory/one_hot_key", |b| {
        b.iter(|| limiter.check_at(black_box("ip:203.0.113.7"), &quota, 1, clock.now_us()))
    });

    let limiter = MemoryLimiter::new(MemoryConfig::default());
    let keys: Vec<String> = (0..10_000)
        .map(|i| format!("ip:10.0.{}.{}", i / 256, i % 256))
        .collect();
    let mut next = 0;
    c.bench_function("memory/10k_keys", |b| {
        b.iter(|| {
            next = (next + 1) % keys.len();
            limiter.check_at(black_box(&keys[next]), &quota, 1, clock.now_us())
        })
    });
}

criterion_group!(benches, decisions);
criterion_main!(benches);
