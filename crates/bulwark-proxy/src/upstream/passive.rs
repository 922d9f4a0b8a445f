//! Passive health of one target, pure: consecutive transport failures eject it for a
//! cool-down; after the cool-down it takes traffic again, and the first success
//! restores it fully (nginx `max_fails` / `fail_timeout`, counted consecutively).

use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassiveHealth {
    consecutive_failures: u32,
    ejected_until: Option<Instant>,
    /// Ejected at least once since the last success; the next success is a recovery.
    was_ejected: bool,
}

/// A change worth telling the bus about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Ejected,
    Restored,
}

impl Default for PassiveHealth {
    fn default() -> Self {
        Self::new()
    }
}

impl PassiveHealth {
    pub fn new() -> Self {
        Self {
            consecutive_failures: 0,
            ejected_until: None,
            was_ejected: false,
        }
    }

    pub fn is_available(&self, now: Instant) -> bool {
        self.ejected_until.is_none_or(|until| now >= until)
    }

    pub fn ejected_until(&self) -> Option<Instant> {
        self.ejected_until
    }

    pub fn record_success(&mut self) -> Option<Transition> {
        self.consecutive_failures = 0;
        self.ejected_until = None;
        std::mem::take(&mut self.was_ejected).then_some(Transition::Restored)
    }

    pub fn record_failure(
        &mut self,
        now: Instant,
        max_failures: u32,
        cooldown: Duration,
    ) -> Option<Transition> {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.consecutive_failures < max_failures {
            return None;
        }
        // A target on probation after its cool-down goes straight back out on failure.
        self.consecutive_failures = 0;
        self.ejected_until = Some(now + cooldown);
        self.was_ejected = true;
        Some(Transition::Ejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(10);

    #[test]
    fn ejects_after_consecutive_failures_only() {
        let t0 = Instant::now();
        let mut h = PassiveHealth::new();
        assert_eq!(h.record_failure(t0, 3, COOL), None);
        assert_eq!(h.record_failure(t0, 3, COOL), None);
        assert_eq!(h.record_success(), None);
        assert_eq!(h.record_failure(t0, 3, COOL), None);
        assert_eq!(h.record_failure(t0, 3, COOL), None);
        assert_eq!(h.record_failure(t0, 3, COOL), Some(Transition::Ejected));
        assert!(!h.is_available(t0 + Duration::from_secs(9)));
        assert!(h.is_available(t0 + COOL));
    }

    #[test]
    fn first_success_after_cooldown_restores() {
        let t0 = Instant::now();
        let mut h = PassiveHealth::new();
        h.record_failure(t0, 1, COOL);
        let later = t0 + COOL;
        assert!(h.is_available(later));
        assert_eq!(h.record_success(), Some(Transition::Restored));
        assert_eq!(h.record_success(), None);
    }

    #[test]
    fn failure_on_probation_ejects_again() {
        let t0 = Instant::now();
        let mut h = PassiveHealth::new();
        h.record_failure(t0, 1, COOL);
        let later = t0 + COOL;
        assert_eq!(h.record_failure(later, 1, COOL), Some(Transition::Ejected));
        assert!(!h.is_available(later + Duration::from_secs(1)));
    }
}
