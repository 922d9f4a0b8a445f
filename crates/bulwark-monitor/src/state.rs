//! Hysteresis: a monitor's state flips only after N consecutive results the other way,
//! so one lost packet does not page anyone.
//!
//! From `Unknown` (the state at start) the first success makes a monitor `Up` at once:
//! a healthy service should show as up after one check, not after `successes_before_up`
//! of them, and there is nothing to flap from yet. Going `Down` from `Unknown` still takes
//! `failures_before_down` failures, as from `Up`, so a restart during a blip pages no one.

use serde::Serialize;

/// What a monitor is believed to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorState {
    /// Not enough checks yet to say.
    Unknown,
    Up,
    Down,
}

impl MonitorState {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorState::Unknown => "unknown",
            MonitorState::Up => "up",
            MonitorState::Down => "down",
        }
    }
}

/// A state change, as returned by [`Hysteresis::observe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: MonitorState,
    pub to: MonitorState,
    pub at_ms: i64,
}

/// One monitor's state machine. Pure: time comes in as an argument.
#[derive(Clone, Debug)]
pub struct Hysteresis {
    state: MonitorState,
    since_ms: i64,
    failures_in_a_row: u32,
    successes_in_a_row: u32,
    failures_before_down: u32,
    successes_before_up: u32,
}

impl Hysteresis {
    /// Starts `Unknown` at `now_ms`. Thresholds of 0 count as 1.
    pub fn new(failures_before_down: u32, successes_before_up: u32, now_ms: i64) -> Self {
        Self {
            state: MonitorState::Unknown,
            since_ms: now_ms,
            failures_in_a_row: 0,
            successes_in_a_row: 0,
            failures_before_down: failures_before_down.max(1),
            successes_before_up: successes_before_up.max(1),
        }
    }

    pub fn state(&self) -> MonitorState {
        self.state
    }

    /// When the current state began (the start, for `Unknown`).
    pub fn since_ms(&self) -> i64 {
        self.since_ms
    }

    /// Consecutive failed checks so far (0 after a success).
    pub fn failures_in_a_row(&self) -> u32 {
        self.failures_in_a_row
    }

    /// Feeds one check's result; returns the transition it caused, if any.
    pub fn observe(&mut self, ok: bool, now_ms: i64) -> Option<Transition> {
        if ok {
            self.failures_in_a_row = 0;
            self.successes_in_a_row = self.successes_in_a_row.saturating_add(1);
        } else {
            self.successes_in_a_row = 0;
            self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        }
        let next = match self.state {
            MonitorState::Unknown if ok => MonitorState::Up,
            MonitorState::Down if self.successes_in_a_row >= self.successes_before_up => {
                MonitorState::Up
            }
            MonitorState::Unknown | MonitorState::Up
                if self.failures_in_a_row >= self.failures_before_down =>
            {
                MonitorState::Down
            }
            unchanged => unchanged,
        };
        if next == self.state {
            return None;
        }
        let transition = Transition {
            from: self.state,
            to: next,
            at_ms: now_ms,
        };
        self.state = next;
        self.since_ms = now_ms;
        Some(transition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(from: MonitorState, to: MonitorState, at_ms: i64) -> Option<Transition> {
        Some(Transition { from, to, at_ms })
    }

    #[test]
    fn first_success_from_unknown_is_up_at_once() {
        let mut h = Hysteresis::new(3, 2, 0);
        assert_eq!(h.state(), MonitorState::Unknown);
        assert_eq!(h.since_ms(), 0);
        assert_eq!(
            h.observe(true, 10),
            t(MonitorState::Unknown, MonitorState::Up, 10)
        );
        assert_eq!(h.since_ms(), 10);
    }

    #[test]
    fn down_after_exactly_three_consecutive_failures() {
        let mut h = Hysteresis::new(3, 2, 0);
        h.observe(true, 1);
        assert_eq!(h.observe(false, 2), None);
        assert_eq!(h.observe(false, 3), None);
        assert_eq!(
            h.observe(false, 4),
            t(MonitorState::Up, MonitorState::Down, 4)
        );
        assert_eq!(h.since_ms(), 4);
        // Staying down is not a new transition.
        assert_eq!(h.observe(false, 5), None);
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let mut h = Hysteresis::new(3, 2, 0);
        h.observe(true, 1);
        h.observe(false, 2);
        h.observe(false, 3);
        assert_eq!(h.observe(true, 4), None);
        assert_eq!(h.observe(false, 5), None);
        assert_eq!(h.observe(false, 6), None);
        assert_eq!(h.state(), MonitorState::Up);
        assert_eq!(
            h.observe(false, 7),
            t(MonitorState::Up, MonitorState::Down, 7)
        );
    }

    #[test]
    fn up_again_after_two_consecutive_successes() {
        let mut h = Hysteresis::new(3, 2, 0);
        for at in 1..=3 {
            h.observe(false, at);
        }
        assert_eq!(h.state(), MonitorState::Down);
        assert_eq!(h.observe(true, 4), None);
        assert_eq!(h.observe(false, 5), None);
        assert_eq!(h.observe(true, 6), None);
        assert_eq!(
            h.observe(true, 7),
            t(MonitorState::Down, MonitorState::Up, 7)
        );
    }

    #[test]
    fn unknown_goes_down_only_after_the_threshold() {
        let mut h = Hysteresis::new(3, 2, 100);
        assert_eq!(h.observe(false, 101), None);
        assert_eq!(h.observe(false, 102), None);
        assert_eq!(h.state(), MonitorState::Unknown);
        assert_eq!(h.since_ms(), 100);
        assert_eq!(
            h.observe(false, 103),
            t(MonitorState::Unknown, MonitorState::Down, 103)
        );
    }

    #[test]
    fn zero_thresholds_count_as_one() {
        let mut h = Hysteresis::new(0, 0, 0);
        h.observe(true, 1);
        assert_eq!(
            h.observe(false, 2),
            t(MonitorState::Up, MonitorState::Down, 2)
        );
        assert_eq!(
            h.observe(true, 3),
            t(MonitorState::Down, MonitorState::Up, 3)
        );
    }
}
