//! The pure state machine behind each dependency check: results go in, in order, and the
//! tracked state flips only after enough consecutive results agree (pingora's
//! `health_check.rs`), so one lost packet does not page anyone.

/// A check's tracked state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackedState {
    /// No result yet. Counts as failing for readiness: nothing is known to work.
    Pending,
    Passing,
    Failing,
}

/// A flip worth telling the rest of bulwark about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Failed,
    Recovered,
}

#[derive(Clone, Debug)]
pub struct Tracker {
    failure_threshold: u32,
    success_threshold: u32,
    state: TrackedState,
    /// Consecutive results that disagree with `state`.
    streak: u32,
}

impl Tracker {
    /// Thresholds below 1 are read as 1: config validation refuses them, and a zero here
    /// would otherwise mean "flip before any result".
    pub fn new(failure_threshold: u32, success_threshold: u32) -> Self {
        Self {
            failure_threshold: failure_threshold.max(1),
            success_threshold: success_threshold.max(1),
            state: TrackedState::Pending,
            streak: 0,
        }
    }

    pub fn state(&self) -> TrackedState {
        self.state
    }

    pub fn is_passing(&self) -> bool {
        self.state == TrackedState::Passing
    }

    /// Keeps the state and streak, takes new thresholds (a config reload that only
    /// changed them must not forget what is known).
    pub fn with_thresholds(mut self, failure_threshold: u32, success_threshold: u32) -> Self {
        self.failure_threshold = failure_threshold.max(1);
        self.success_threshold = success_threshold.max(1);
        self
    }

    /// Takes the next result; returns the transition when the state flips.
    ///
    /// The first result sets the state directly: thresholds protect an established state
    /// from flapping, and there is none yet. A dependency already down at start is news
    /// (`Failed`); one that is up is not.
    pub fn observe(&mut self, ok: bool) -> Option<Transition> {
        match (self.state, ok) {
            (TrackedState::Pending, true) => {
                self.state = TrackedState::Passing;
                self.streak = 0;
                None
            }
            (TrackedState::Pending, false) => {
                self.state = TrackedState::Failing;
                self.streak = 0;
                Some(Transition::Failed)
            }
            (TrackedState::Passing, true) | (TrackedState::Failing, false) => {
                self.streak = 0;
                None
            }
            (TrackedState::Passing, false) => {
                self.streak += 1;
                (self.streak >= self.failure_threshold).then(|| {
                    self.state = TrackedState::Failing;
                    self.streak = 0;
                    Transition::Failed
                })
            }
            (TrackedState::Failing, true) => {
                self.streak += 1;
                (self.streak >= self.success_threshold).then(|| {
                    self.state = TrackedState::Passing;
                    self.streak = 0;
                    Transition::Recovered
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tracker: &mut Tracker, results: &[bool]) -> Vec<Option<Transition>> {
        results.iter().map(|ok| tracker.observe(*ok)).collect()
    }

    #[test]
    fn starts_pending_and_the_first_result_decides() {
        let mut up = Tracker::new(3, 2);
        assert_eq!(up.state(), TrackedState::Pending);
        assert!(!up.is_passing());
        assert_eq!(up.observe(true), None);
        assert_eq!(up.state(), TrackedState::Passing);

        let mut down = Tracker::new(3, 2);
        assert_eq!(down.observe(false), Some(Transition::Failed));
        assert_eq!(down.state(), TrackedState::Failing);
    }

    #[test]
    fn fails_only_after_the_threshold_of_consecutive_failures() {
        let mut t = Tracker::new(3, 1);
        t.observe(true);
        assert_eq!(
            run(&mut t, &[false, false, true, false, false]),
            vec![None, None, None, None, None],
            "a success in between resets the count"
        );
        assert!(t.is_passing());
        assert_eq!(t.observe(false), Some(Transition::Failed));
        assert_eq!(t.state(), TrackedState::Failing);
        assert_eq!(run(&mut t, &[false, false]), vec![None, None]);
    }

    #[test]
    fn recovers_only_after_the_threshold_of_consecutive_successes() {
        let mut t = Tracker::new(1, 3);
        t.observe(false);
        assert_eq!(run(&mut t, &[true, true, false, true, true]), vec![None; 5]);
        assert_eq!(t.state(), TrackedState::Failing);
        assert_eq!(t.observe(true), Some(Transition::Recovered));
        assert!(t.is_passing());
        assert_eq!(t.observe(false), Some(Transition::Failed));
    }

    #[test]
    fn thresholds_of_one_follow_every_result() {
        let mut t = Tracker::new(1, 1);
        assert_eq!(
            run(&mut t, &[true, false, true, true, false]),
            vec![
                None,
                Some(Transition::Failed),
                Some(Transition::Recovered),
                None,
                Some(Transition::Failed)
            ]
        );
    }

    #[test]
    fn zero_thresholds_act_as_one() {
        let mut t = Tracker::new(0, 0);
        t.observe(true);
        assert_eq!(t.observe(false), Some(Transition::Failed));
        assert_eq!(t.observe(true), Some(Transition::Recovered));
    }

    #[test]
    fn new_thresholds_keep_the_state_and_streak() {
        let mut t = Tracker::new(3, 1);
        t.observe(true);
        t.observe(false);
        let mut t = t.with_thresholds(2, 1);
        assert!(t.is_passing());
        assert_eq!(t.observe(false), Some(Transition::Failed));
    }
}
