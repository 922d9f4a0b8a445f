//! Passive health of one target, pure: consecutive transport failures eject it for a
//! cool-down (nginx `max_fails` / `fail_timeout`, counted consecutively). After the
//! cool-down the target is on probation: it takes traffic, its first success restores
//! it, and a single failure ejects it again. Results of requests that started before the
//! last ejection say nothing about the target now and are ignored.

use std::time::{Duration, Instant};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassiveHealth {
    consecutive_failures: u32,
    ejected_at: Option<Instant>,
    ejected_until: Option<Instant>,
    /// Ejected since the last success: the next success is a recovery and the next
    /// failure, once the cool-down is over, ejects again at once.
    on_probation: bool,
}

/// A change worth telling the bus about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Ejected,
    Restored,
}

impl PassiveHealth {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_available(&self, now: Instant) -> bool {
        self.ejected_until.is_none_or(|until| now >= until)
    }

    fn is_stale(&self, started: Instant) -> bool {
        self.ejected_at.is_some_and(|at| started < at)
    }

    /// `started` is when the request that succeeded was sent.
    pub fn record_success(&mut self, started: Instant) -> Option<Transition> {
        if self.is_stale(started) {
            return None;
        }
        self.consecutive_failures = 0;
        self.ejected_until = None;
        std::mem::take(&mut self.on_probation).then_some(Transition::Restored)
    }

    /// `started` is when the failed request was sent; `now` is when it failed.
    pub fn record_failure(
        &mut self,
        started: Instant,
        now: Instant,
        max_failures: u32,
        cooldown: Duration,
    ) -> Option<Transition> {
        if self.is_stale(started) || !self.is_available(now) {
            return None;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.consecutive_failures < max_failures && !self.on_probation {
            return None;
        }
        self.consecutive_failures = 0;
        self.ejected_at = Some(now);
        self.ejected_until = Some(now + cooldown);
        self.on_probation = true;
        Some(Transition::Ejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(10);
    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ejects_after_consecutive_failures_only() {
        let t0 = Instant::now();
        let mut h = PassiveHealth::new();
        assert_eq!(h.record_failure(t0, t0, 3, COOL), None);
        assert_eq!(h.record_failure(t0, t0, 3, COOL), None);
        assert_eq!(h.record_success(t0), None);
        assert_eq!(h.record_failure(t0, t0, 3, COOL), None);
        assert_eq!(h.record_failure(t0, t0, 3, COOL), None);
        assert_eq!(h.record_failure(t0, t0, 3, COOL), Some(Transition::Ejected));
        assert!(!h.is_available(t0 + Duration::from_secs(9)));
        assert!(h.is_available(t0 + COOL));
    }

    #[test]
    fn first_success_after_cooldown_restores() {
        let t0 = Instant::now();
        let mut h = PassiveHealth::new();
        h.record_failure(t0, t0, 1, COOL);
        let later = t0 + COOL;
        assert!(h.is_available(later));
        assert_eq!(h.record_success(later), Some(Transition::Restored));
        assert_eq!(h.record_success(later), None);
    }

    #[test]
    fn one_failure_on_probation_ejects_again_whatever_the_threshold() {
        let t0 = Instant::now();
        let mut h = PassiveHealth::new();
        for _ in 0..3 {
            h.record_failure(t0, t0, 3, COOL);
        }
        let later = t0 + COOL;
        assert_eq!(
            h.record_failure(later, later, 3, COOL),
            Some(Transition::Ejected)
        );
        assert!(!h.is_available(later + MS));
    }

    #[test]
    fn results_of_requests_sent_before_the_ejection_are_ignored() {
        let t0 = Instant::now();
        let mut h = PassiveHealth::new();
        let early = t0;
        let ejected = t0 + MS;
        assert_eq!(
            h.record_failure(ejected, ejected, 1, COOL),
            Some(Transition::Ejected)
        );
        // A slow request sent before the ejection succeeds: still ejected.
        assert_eq!(h.record_success(early), None);
        assert!(!h.is_available(ejected + MS));
        // Late failures while already out do not extend or repeat the ejection.
        assert_eq!(h.record_failure(early, ejected + MS, 1, COOL), None);
        assert_eq!(h.record_failure(ejected + MS, ejected + MS, 1, COOL), None);
        assert!(h.is_available(ejected + COOL));
    }
}
