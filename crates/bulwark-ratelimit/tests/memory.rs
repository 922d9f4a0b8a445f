//! The conformance suite on the memory backend, with a manual clock (exact durations).

mod suite;

use std::sync::Arc;
use std::time::Duration;

use bulwark_ratelimit::{ManualClock, MemoryConfig, MemoryLimiter};

struct MemoryHarness {
    limiter: Arc<MemoryLimiter<ManualClock>>,
    clock: ManualClock,
}

impl MemoryHarness {
    fn new() -> MemoryHarness {
        let clock = ManualClock::new(Duration::from_secs(1_000));
        let limiter = MemoryLimiter::with_clock(MemoryConfig::default(), clock.clone());
        MemoryHarness {
            limiter: Arc::new(limiter),
            clock,
        }
    }
}

impl suite::Harness for MemoryHarness {
    type Limiter = MemoryLimiter<ManualClock>;

    fn limiter(&self) -> Arc<Self::Limiter> {
        self.limiter.clone()
    }

    async fn wait(&self, duration: Duration) {
        self.clock.advance(duration);
    }

    fn exact_clock(&self) -> bool {
        true
    }
}

conformance_tests!(MemoryHarness::new());
