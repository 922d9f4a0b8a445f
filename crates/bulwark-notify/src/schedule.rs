//! When a failed notification is tried again: 0, 5, 15, 30 and 60 s after the first
//! attempt, then every 5 minutes, until it expires (DESIGN.md). Pure, so tests drive it.

use std::time::Duration;

/// Attempt times as offsets from the first attempt, then a fixed period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySchedule {
    /// When each attempt is due, counted from the first one; starts with zero.
    pub offsets: Vec<Duration>,
    /// The gap between attempts once `offsets` are used up.
    pub then_every: Duration,
}

impl Default for NotifySchedule {
    fn default() -> Self {
        Self {
            offsets: [0, 5, 15, 30, 60].map(Duration::from_secs).to_vec(),
            then_every: Duration::from_secs(5 * 60),
        }
    }
}

impl NotifySchedule {
    /// The wait before the next attempt, after `attempts` attempts (at least 1) failed.
    pub fn next_delay(&self, attempts: u32) -> Duration {
        let n = attempts.max(1) as usize;
        match (self.offsets.get(n - 1), self.offsets.get(n)) {
            (Some(previous), Some(next)) => next.saturating_sub(*previous),
            _ => self.then_every,
        }
    }
}

/// [`NotifySchedule::next_delay`] on the default schedule.
pub fn next_delay(attempts: u32) -> Duration {
    NotifySchedule::default().next_delay(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_matches_the_design() {
        // DESIGN.md: 0, 5, 15, 30, 60 s after the first attempt, then every 5 min.
        let gaps: Vec<u64> = (1..=8).map(|a| next_delay(a).as_secs()).collect();
        assert_eq!(gaps, [5, 10, 15, 30, 300, 300, 300, 300]);
        let mut at = 0;
        let mut times = vec![0];
        for attempt in 1..=6 {
            at += next_delay(attempt).as_secs();
            times.push(at);
        }
        assert_eq!(times, [0, 5, 15, 30, 60, 360, 660]);
    }

    #[test]
    fn zero_attempts_is_treated_as_one() {
        assert_eq!(next_delay(0), Duration::from_secs(5));
    }

    #[test]
    fn a_custom_schedule() {
        let s = NotifySchedule {
            offsets: vec![Duration::ZERO, Duration::from_millis(10)],
            then_every: Duration::from_millis(50),
        };
        assert_eq!(s.next_delay(1), Duration::from_millis(10));
        assert_eq!(s.next_delay(2), Duration::from_millis(50));
        assert_eq!(s.next_delay(40), Duration::from_millis(50));
    }
}
