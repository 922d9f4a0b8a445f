//! When to try a delivery again, pure: the schedule (Svix / Standard Webhooks default:
//! immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — 8 attempts over ~27 h) with
//! ±20 % jitter, and the classifier that turns one attempt's outcome into a decision.
//!
//! Randomness and `now` come in as arguments so every decision is reproducible in tests.

use std::time::Duration;

/// Delays before each attempt; the first is the initial delivery (normally zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    pub delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        let s = Duration::from_secs;
        Self {
            delays: vec![
                s(0),
                s(5),
                s(5 * 60),
                s(30 * 60),
                s(2 * 3600),
                s(5 * 3600),
                s(10 * 3600),
                s(10 * 3600),
            ],
        }
    }
}

/// Jitter: each delay is scaled by a factor in [0.8, 1.2], so a burst of failures does
/// not come back as a burst of retries.
pub const JITTER: f64 = 0.2;

impl RetrySchedule {
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32
    }

    /// The delay before the next attempt after `attempts_made` attempts, or `None` when
    /// the schedule is exhausted. `unit` is a random number in [0, 1).
    pub fn next_delay(&self, attempts_made: u32, unit: f64) -> Option<Duration> {
        let base = *self.delays.get(attempts_made as usize)?;
        Some(jittered(base, unit))
    }
}

fn jittered(base: Duration, unit: f64) -> Duration {
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let factor = 1.0 - JITTER + 2.0 * JITTER * unit;
    base.mul_f64(factor)
}

/// What one attempt came to, as the dispatcher saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The app answered with this status; `retry_after` is its `Retry-After`, parsed.
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No answer within the delivery timeout.
    Timeout,
    /// Connection refused, reset, DNS failure and the like.
    Transport,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Delivered,
    Retry {
        after: Duration,
    },
    /// No more attempts: into the dead-letter queue.
    Dead,
    /// 410 Gone: stop delivering to this destination until an operator resumes it.
    PauseDestination,
}

/// The default [`RetryPolicy::max_age`]: three days, beyond the default schedule's ~27 h
/// so that it only bites when a breaker or a pause held messages back for long.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3 * 24 * 3600);

/// Bounds on how far `Retry-After` is honoured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Other 4xx answers go straight to the dead-letter queue instead of being retried.
    pub dead_on_4xx: bool,
    /// A `Retry-After` shorter than this is raised to it.
    pub min_retry_after: Duration,
    /// A `Retry-After` longer than this is cut to it.
    pub max_retry_after: Duration,
    /// After a timeout or a 429, wait at least this long: the app is overloaded.
    pub min_after_overload: Duration,
    /// A message older than this when a retry would fall is dead-lettered instead: by
    /// then the event is stale for the app (Stripe gives up after 3 days too), and a
    /// destination that was unreachable for days should not get a flood of old events.
    /// `None` keeps retrying to the end of the schedule.
    pub max_age: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            dead_on_4xx: false,
            min_retry_after: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(6 * 3600),
            min_after_overload: Duration::from_secs(60),
            max_age: Some(DEFAULT_MAX_AGE),
        }
    }
}

/// Decides what follows an attempt. `attempts_made` includes this one; `unit` is a
/// random number in [0, 1) for jitter.
pub fn classify(
    outcome: AttemptOutcome,
    attempts_made: u32,
    schedule: &RetrySchedule,
    policy: &RetryPolicy,
    unit: f64,
) -> Decision {
    let (retryable, retry_after, overloaded) = match outcome {
        AttemptOutcome::Status { status, .. } if (200..300).contains(&status) => {
            return Decision::Delivered;
        }
        AttemptOutcome::Status { status: 410, .. } => return Decision::PauseDestination,
        AttemptOutcome::Status {
            status,
            retry_after,
        } => {
            let transient = status == 408 || status == 429 || status >= 500;
            let retryable = transient || !policy.dead_on_4xx;
            (retryable, retry_after, status == 429)
        }
        AttemptOutcome::Timeout => (true, None, true),
        AttemptOutcome::Transport => (true, None, false),
    };
    if !retryable {
        return Decision::Dead;
    }
    let Some(scheduled) = schedule.next_delay(attempts_made, unit) else {
        return Decision::Dead;
    };
    let mut after = match retry_after {
        Some(asked) => asked.clamp(policy.min_retry_after, policy.max_retry_after),
        None => scheduled,
    };
    if overloaded {
        after = after.max(policy.min_after_overload);
    }
    Decision::Retry { after }
}

/// Applies [`RetryPolicy::max_age`]: a retry that would fall after the message is
/// `max_age` old becomes [`Decision::Dead`]. `age` is the message's age now.
pub fn within_max_age(decision: Decision, age: Duration, policy: &RetryPolicy) -> Decision {
    match (decision, policy.max_age) {
        (Decision::Retry { after }, Some(max_age)) if age.saturating_add(after) > max_age => {
            Decision::Dead
        }
        _ => decision,
    }
}

/// `Retry-After` as delta-seconds or an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`),
/// relative to `now_unix_secs`. A date in the past means "now".
pub fn parse_retry_after(value: &str, now_unix_secs: u64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_imf_fixdate(value)?;
    Some(Duration::from_secs(at.saturating_sub(now_unix_secs)))
}

fn parse_imf_fixdate(value: &str) -> Option<u64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = value.split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':');
    let (h, m, s): (u64, u64, u64) = (
        clock.next()?.parse().ok()?,
        clock.next()?.parse().ok()?,
        clock.next()?.parse().ok()?,
    );
    if parts.next()? != "GMT"
        || parts.next().is_some()
        || day == 0
        || day > 31
        || h > 23
        || m > 59
        || s > 60
    {
        return None;
    }
    let days =
        bulwark_events::time::days_from_civil(year, i64::from(month), i64::try_from(day).ok()?);
    if days < 0 {
        return Some(0);
    }
    Some(days as u64 * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MID: f64 = 0.5;

    #[test]
    fn the_default_schedule_is_standard_webhooks() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(), 8);
        let total: Duration = s.delays.iter().sum();
        // 5 s + 5 min + 30 min + 2 h + 5 h + 10 h + 10 h, a little over 27 h.
        assert_eq!(
            total,
            Duration::from_secs(5 + 300 + 1800 + 7200 + 18_000 + 36_000 + 36_000)
        );
        assert_eq!(s.next_delay(1, MID), Some(Duration::from_secs(5)));
        assert_eq!(s.next_delay(8, MID), None);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let s = RetrySchedule::default();
        assert_eq!(s.next_delay(2, 0.0), Some(Duration::from_secs(240)));
        assert_eq!(s.next_delay(2, 1.0), Some(Duration::from_secs(360)));
        assert_eq!(s.next_delay(2, f64::NAN), Some(Duration::from_secs(300)));
    }

    fn status(status: u16) -> AttemptOutcome {
        AttemptOutcome::Status {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn outcomes_map_to_decisions() {
        let (s, p) = (RetrySchedule::default(), RetryPolicy::default());
        assert_eq!(classify(status(204), 1, &s, &p, MID), Decision::Delivered);
        assert_eq!(
            classify(status(410), 1, &s, &p, MID),
            Decision::PauseDestination
        );
        assert_eq!(
            classify(status(503), 1, &s, &p, MID),
            Decision::Retry {
                after: Duration::from_secs(5)
            }
        );
        assert_eq!(
            classify(status(400), 1, &s, &p, MID),
            Decision::Retry {
                after: Duration::from_secs(5)
            }
        );
        let strict = RetryPolicy {
            dead_on_4xx: true,
            ..p
        };
        assert_eq!(classify(status(400), 1, &s, &strict, MID), Decision::Dead);
        assert_eq!(
            classify(status(429), 1, &s, &strict, MID),
            Decision::Retry {
                after: Duration::from_secs(60)
            },
            "429 is transient even with dead_on_4xx, and waits at least a minute"
        );
        assert_eq!(
            classify(AttemptOutcome::Timeout, 1, &s, &p, MID),
            Decision::Retry {
                after: Duration::from_secs(60)
            }
        );
        assert_eq!(
            classify(status(500), 8, &s, &p, MID),
            Decision::Dead,
            "schedule exhausted"
        );
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let (s, p) = (RetrySchedule::default(), RetryPolicy::default());
        let asked = |secs| AttemptOutcome::Status {
            status: 503,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            classify(asked(120), 1, &s, &p, MID),
            Decision::Retry {
                after: Duration::from_secs(120)
            }
        );
        assert_eq!(
            classify(asked(0), 1, &s, &p, MID),
            Decision::Retry {
                after: Duration::from_secs(1)
            }
        );
        assert_eq!(
            classify(asked(10 * 86_400), 1, &s, &p, MID),
            Decision::Retry {
                after: Duration::from_secs(6 * 3600)
            }
        );
    }

    #[test]
    fn a_retry_past_the_max_age_dead_letters_instead() {
        let policy = RetryPolicy {
            max_age: Some(Duration::from_secs(3600)),
            ..RetryPolicy::default()
        };
        let retry = |secs| Decision::Retry {
            after: Duration::from_secs(secs),
        };
        let age = Duration::from_secs(3000);
        assert_eq!(within_max_age(retry(600), age, &policy), retry(600));
        assert_eq!(within_max_age(retry(601), age, &policy), Decision::Dead);
        // Only retries are affected: a delivery or a pause stands whatever the age.
        let old = Duration::from_secs(10_000);
        assert_eq!(
            within_max_age(Decision::Delivered, old, &policy),
            Decision::Delivered
        );
        assert_eq!(
            within_max_age(Decision::PauseDestination, old, &policy),
            Decision::PauseDestination
        );
        let unlimited = RetryPolicy {
            max_age: None,
            ..policy
        };
        assert_eq!(within_max_age(retry(601), old, &unlimited), retry(601));
        assert_eq!(
            RetryPolicy::default().max_age,
            Some(Duration::from_secs(259_200))
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        // 1994-11-06T08:49:37Z is 784111777 (date -u -d '1994-11-06 08:49:37' +%s).
        let at = 784_111_777;
        assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at - 30),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + 30),
            Some(Duration::ZERO)
        );
        for bad in [
            "",
            "-1",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 06 Foo 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, at), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in ".{0,40}", now in any::<u64>()) {
            let _ = parse_retry_after(&text, now);
        }

        #[test]
        fn every_retry_waits_within_policy_bounds(
            status in 100u16..600,
            attempts in 0u32..12,
            unit in 0.0f64..1.0,
            asked in proptest::option::of(0u64..1_000_000),
        ) {
            let (s, p) = (RetrySchedule::default(), RetryPolicy::default());
            let outcome = AttemptOutcome::Status { status, retry_after: asked.map(Duration::from_secs) };
            if let Decision::Retry { after } = classify(outcome, attempts, &s, &p, unit) {
                prop_assert!(after <= p.max_retry_after.max(Duration::from_secs(12 * 3600)));
                prop_assert!(attempts < s.max_attempts());
            }
        }
    }
}
