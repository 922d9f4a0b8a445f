//! A circuit breaker per destination, pure. Words as everyone uses them: **closed** =
//! deliveries flow, **open** = failing fast (claims skip the destination, so waiting
//! messages keep their attempts), **half-open** = on probation, a few probe deliveries
//! decide.
//!
//! It opens after `consecutive_failures` failures in a row, or when the failure ratio in
//! the current window reaches `failure_ratio` with at least `min_volume` attempts. After
//! `open_for` it lets `half_open_probes` deliveries through; one success closes it, one
//! failure opens it again. The window is tumbling (reset every `window`), which is
//! enough to tell a flapping destination from a healthy one without keeping samples.

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerConfig {
    pub consecutive_failures: u32,
    pub failure_ratio: f64,
    pub min_volume: u32,
    pub window: Duration,
    pub open_for: Duration,
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            failure_ratio: 0.5,
            min_volume: 20,
            window: Duration::from_secs(60),
            open_for: Duration::from_secs(30),
            half_open_probes: 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// The value of `circuit_breaker_state{destination}`: 0 closed, 1 half-open, 2 open.
    pub fn gauge_value(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

/// A state change, for the bus and the transitions counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
}

#[derive(Clone, Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
    consecutive_failures: u32,
    window_start: Instant,
    window_attempts: u32,
    window_failures: u32,
    open_until: Option<Instant>,
    probes_in_flight: u32,
}

impl Breaker {
    pub fn new(config: BreakerConfig, now: Instant) -> Self {
        Self {
            config,
            state: BreakerState::Closed,
            consecutive_failures: 0,
            window_start: now,
            window_attempts: 0,
            window_failures: 0,
            open_until: None,
            probes_in_flight: 0,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a delivery may start now. In half-open, a `true` reserves a probe slot,
    /// which the delivery's `on_success`/`on_failure` gives back.
    pub fn try_acquire(&mut self, now: Instant) -> (bool, Option<Transition>) {
        let mut transition = None;
        if self.state == BreakerState::Open && self.open_until.is_some_and(|until| now >= until) {
            transition = self.move_to(BreakerState::HalfOpen);
            self.probes_in_flight = 0;
        }
        let allowed = match self.state {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen if self.probes_in_flight < self.config.half_open_probes => {
                self.probes_in_flight += 1;
                true
            }
            BreakerState::HalfOpen => false,
        };
        (allowed, transition)
    }

    /// Whether claims should skip this destination right now (open and not yet due for a
    /// probe). Does not change state.
    pub fn is_open(&self, now: Instant) -> bool {
        self.state == BreakerState::Open && self.open_until.is_some_and(|until| now < until)
    }

    pub fn on_success(&mut self, now: Instant) -> Option<Transition> {
        self.roll_window(now);
        self.window_attempts += 1;
        self.consecutive_failures = 0;
        match self.state {
            BreakerState::HalfOpen => {
                self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
                self.reset_window(now);
                self.move_to(BreakerState::Closed)
            }
            _ => None,
        }
    }

    pub fn on_failure(&mut self, now: Instant) -> Option<Transition> {
        self.roll_window(now);
        self.window_attempts += 1;
        self.window_failures += 1;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        match self.state {
            BreakerState::HalfOpen => {
                self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
                self.open(now)
            }
            BreakerState::Closed if self.should_open() => self.open(now),
            _ => None,
        }
    }

    fn should_open(&self) -> bool {
        let ratio_tripped = self.window_attempts >= self.config.min_volume
            && f64::from(self.window_failures)
                >= self.config.failure_ratio * f64::from(self.window_attempts);
        self.consecutive_failures >= self.config.consecutive_failures || ratio_tripped
    }

    fn open(&mut self, now: Instant) -> Option<Transition> {
        self.open_until = Some(now + self.config.open_for);
        self.consecutive_failures = 0;
        self.reset_window(now);
        self.move_to(BreakerState::Open)
    }

    fn roll_window(&mut self, now: Instant) {
        if now.duration_since(self.window_start) >= self.config.window {
            self.reset_window(now);
        }
    }

    fn reset_window(&mut self, now: Instant) {
        self.window_start = now;
        self.window_attempts = 0;
        self.window_failures = 0;
    }

    fn move_to(&mut self, to: BreakerState) -> Option<Transition> {
        let from = self.state;
        self.state = to;
        (from != to).then_some(Transition { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn breaker(now: Instant) -> Breaker {
        Breaker::new(BreakerConfig::default(), now)
    }

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn opens_after_consecutive_failures_and_fails_fast() {
        let t0 = Instant::now();
        let mut b = breaker(t0);
        for _ in 0..4 {
            assert_eq!(b.on_failure(t0), None);
        }
        assert_eq!(
            b.on_failure(t0),
            Some(Transition {
                from: BreakerState::Closed,
                to: BreakerState::Open
            })
        );
        assert!(b.is_open(t0 + 29 * SEC));
        assert_eq!(b.try_acquire(t0 + 29 * SEC), (false, None));
    }

    #[test]
    fn half_open_lets_one_probe_through_and_its_result_decides() {
        let t0 = Instant::now();
        let mut b = breaker(t0);
        for _ in 0..5 {
            b.on_failure(t0);
        }
        let later = t0 + 30 * SEC;
        assert!(!b.is_open(later), "due for a probe");
        let (allowed, t) = b.try_acquire(later);
        assert!(allowed);
        assert_eq!(
            t,
            Some(Transition {
                from: BreakerState::Open,
                to: BreakerState::HalfOpen
            })
        );
        assert_eq!(
            b.try_acquire(later),
            (false, None),
            "only one probe at a time"
        );
        assert_eq!(
            b.on_failure(later),
            Some(Transition {
                from: BreakerState::HalfOpen,
                to: BreakerState::Open
            })
        );
        let again = later + 30 * SEC;
        assert!(b.try_acquire(again).0);
        assert_eq!(
            b.on_success(again),
            Some(Transition {
                from: BreakerState::HalfOpen,
                to: BreakerState::Closed
            })
        );
        assert!(b.try_acquire(again).0);
        assert_eq!(b.state().gauge_value(), 0.0);
    }

    #[test]
    fn a_high_failure_ratio_opens_without_a_streak() {
        let t0 = Instant::now();
        let mut b = breaker(t0);
        // Alternating: never 5 in a row, but the 20th attempt makes half of them failures.
        let mut opened = None;
        for i in 0..20 {
            let t = if i % 2 == 1 {
                b.on_failure(t0)
            } else {
                b.on_success(t0)
            };
            opened = opened.or(t);
        }
        assert_eq!(opened.map(|t| t.to), Some(BreakerState::Open));
    }

    #[test]
    fn the_window_forgets_old_failures() {
        let t0 = Instant::now();
        let mut b = breaker(t0);
        for i in 0..19 {
            if i % 2 == 0 {
                b.on_failure(t0);
            } else {
                b.on_success(t0);
            }
        }
        // A minute later the window starts over: one more failure is not a ratio.
        assert_eq!(b.on_failure(t0 + 60 * SEC), None);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    proptest! {
        #[test]
        fn an_open_breaker_never_lets_a_delivery_through_before_its_time(
            steps in proptest::collection::vec((0u8..3, 0u64..40_000), 1..200)
        ) {
            let t0 = Instant::now();
            let mut b = breaker(t0);
            let mut now = t0;
            for (op, advance_ms) in steps {
                now += Duration::from_millis(advance_ms);
                let open_before = b.is_open(now);
                match op {
                    0 => {
                        let (allowed, _) = b.try_acquire(now);
                        prop_assert!(!(open_before && allowed));
                    }
                    1 => { b.on_success(now); }
                    _ => { b.on_failure(now); }
                }
                prop_assert!(b.probes_in_flight <= b.config.half_open_probes);
            }
        }
    }
}
