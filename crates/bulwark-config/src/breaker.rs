//! `[webhooks.breaker]`: when bulwark stops sending to a failing app for a while. The
//! defaults are the dispatcher's (see docs/decisions.md, "Circuit breaker").

use std::time::Duration;

use serde::Deserialize;

use crate::duration::ConfigDuration;
use crate::problems::Problems;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Opens after this many failures in a row.
    pub consecutive_failures: Option<u32>,
    /// ... or when this share of attempts (percent) failed within `window`,
    pub failure_percent: Option<u32>,
    /// ... once the window holds at least this many attempts.
    pub min_volume: Option<u32>,
    pub window: Option<ConfigDuration>,
    /// How long it stays open before one probe is let through.
    pub open_for: Option<ConfigDuration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Breaker {
    pub consecutive_failures: u32,
    pub failure_percent: u32,
    pub min_volume: u32,
    pub window: Duration,
    pub open_for: Duration,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            consecutive_failures: 5,
            failure_percent: 50,
            min_volume: 20,
            window: Duration::from_secs(60),
            open_for: Duration::from_secs(30),
        }
    }
}

impl BreakerConfig {
    pub(crate) fn validate(&self, path: &str, problems: &mut Problems) -> Breaker {
        let d = Breaker::default();
        let b = Breaker {
            consecutive_failures: self.consecutive_failures.unwrap_or(d.consecutive_failures),
            failure_percent: self.failure_percent.unwrap_or(d.failure_percent),
            min_volume: self.min_volume.unwrap_or(d.min_volume),
            window: self.window.map_or(d.window, ConfigDuration::get),
            open_for: self.open_for.map_or(d.open_for, ConfigDuration::get),
        };
        if b.consecutive_failures == 0 {
            problems.error(format!("{path}.consecutive_failures"), "at least 1");
        }
        if !(1..=100).contains(&b.failure_percent) {
            problems.error(format!("{path}.failure_percent"), "between 1 and 100");
        }
        if b.min_volume == 0 {
            problems.error(format!("{path}.min_volume"), "at least 1");
        }
        for (key, value) in [("window", b.window), ("open_for", b.open_for)] {
            if value.is_zero() {
                problems.error(format!("{path}.{key}"), "must be greater than zero");
            }
        }
        b
    }
}
