//! Monotonic time for the memory backend, as a trait so tests can set it exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic clock in microseconds from an arbitrary origin.
pub trait Clock: Send + Sync + 'static {
    fn now_us(&self) -> u64;
}

/// The process's monotonic clock (`Instant`), counted from the limiter's creation.
///
/// Monotonic rather than wall time: a wall clock stepped back by NTP would hand every key
/// a fresh burst, stepped forward it would lock them out.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    pub fn new() -> MonotonicClock {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

impl Clock for MonotonicClock {
    fn now_us(&self) -> u64 {
        // u64 µs overflow after 584,000 years of uptime.
        self.origin.elapsed().as_micros() as u64
    }
}

/// A clock that moves only when told to; clones share one time. For tests.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now_us: Arc<AtomicU64>,
}

impl ManualClock {
    pub fn new(now: Duration) -> ManualClock {
        ManualClock {
            now_us: Arc::new(AtomicU64::new(now.as_micros() as u64)),
        }
    }

    pub fn advance(&self, by: Duration) {
        self.now_us
            .fetch_add(by.as_micros() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_us(&self) -> u64 {
        self.now_us.load(Ordering::SeqCst)
    }
}
