//! Response fields that tell a client where it stands: `RateLimit-Policy` and `RateLimit`
//! of draft-ietf-httpapi-ratelimit-headers revision -10, and `Retry-After`.
//!
//! Pure functions from (policy name, quota, decision) to field values. Draft -10:
//! - §3 / §3.1: `RateLimit-Policy` is a List of Items whose value is a String (the policy
//!   name) with parameters `q` (quota, §3.1.1) and `w` (window in whole seconds, non-zero,
//!   no sub-second precision, §3.1.3). Example in §3.2: `"default";q=100;w=10`.
//! - §4 / §4.1: `RateLimit` is a List of Items, the policy name with `r` (remaining,
//!   §4.1.1) and `t` (seconds until more quota is available, §4.1.2). Example in §4.2:
//!   `"default";r=50;t=30`.
//! - §6: when a response has both, `Retry-After` SHOULD NOT point earlier than `t`.
//!
//! How GCRA maps onto them: `q` is the burst and `w` the time to refill it from empty
//! (`burst` emission intervals, rounded up) — with the default burst (= limit) exactly
//! the configured `limit` per `period`, and in general consistent with `r <= q` and
//! `t <= w`. `t` is the time until the bucket is full again; on a refusal it is the
//! retry delay instead, the time until quota is next available, so that it equals
//! `Retry-After` as §6 asks.

use std::fmt::Write as _;
use std::time::Duration;

use crate::gcra::{Decision, Quota};

/// Field names, lower case as HTTP/2 and `http::HeaderName` want them.
pub const RATELIMIT_POLICY: &str = "ratelimit-policy";
pub const RATELIMIT: &str = "ratelimit";
pub const RETRY_AFTER: &str = "retry-after";

/// A policy name that is a valid Structured Field String (RFC 9651 §3.3.3): printable
/// ASCII only. Checked once, at config time, so that building fields cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyName(String);

/// Why a policy name cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyNameError {
    #[error("a rate-limit policy name must not be empty")]
    Empty,
    #[error("a rate-limit policy name may contain only printable ASCII characters")]
    NotPrintableAscii,
}

impl PolicyName {
    pub fn new(name: &str) -> Result<PolicyName, PolicyNameError> {
        if name.is_empty() {
            return Err(PolicyNameError::Empty);
        }
        if !name.bytes().all(|byte| (0x20..=0x7e).contains(&byte)) {
            return Err(PolicyNameError::NotPrintableAscii);
        }
        Ok(PolicyName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Serialised as an sf-string: quoted, with `"` and `\` escaped (RFC 9651 §4.1.6).
    fn write_sf_string(&self, out: &mut String) {
        out.push('"');
        for c in self.0.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
}

/// One `RateLimit-Policy` item: `"login";q=5;w=60`.
pub fn policy_item(name: &PolicyName, quota: &Quota) -> String {
    let mut out = String::with_capacity(name.0.len() + 24);
    name.write_sf_string(&mut out);
    let window = whole_seconds_at_least_one(quota.refill_time());
    // Writing to a String cannot fail.
    let _ = write!(out, ";q={};w={window}", quota.burst());
    out
}

/// One `RateLimit` item: `"login";r=0;t=42`.
pub fn ratelimit_item(name: &PolicyName, decision: &Decision) -> String {
    let mut out = String::with_capacity(name.0.len() + 24);
    name.write_sf_string(&mut out);
    let _ = write!(
        out,
        ";r={};t={}",
        decision.remaining,
        reset_seconds(decision)
    );
    out
}

/// Joins items of several policies into one field value. Separated by a bare comma as
/// in the draft's examples (§3: `"burst";q=100;w=60,"daily";q=1000;w=86400`); RFC 9651
/// parsers accept it with or without the space.
pub fn join<I>(items: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut out = String::new();
    for item in items {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(item.as_ref());
    }
    out
}

/// The `t` parameter: seconds, rounded up (a client coming back early would be refused).
/// On a refusal, the retry delay — never less than `Retry-After` (§6).
pub fn reset_seconds(decision: &Decision) -> u64 {
    match (decision.allowed, decision.retry_after) {
        (false, Some(wait)) => whole_seconds_at_least_one(wait),
        _ => whole_seconds_up(decision.reset_after),
    }
}

/// `Retry-After` for a refusal (RFC 9110 §10.2.3 delay-seconds): whole seconds rounded up
/// and never 0, since `Retry-After: 0` invites an immediate retry that would be refused
/// again. `None` when the request was allowed. A cost that can never pass (no retry
/// delay) gets the time until the bucket is full.
pub fn retry_after(decision: &Decision) -> Option<String> {
    if decision.allowed {
        return None;
    }
    let wait = decision.retry_after.unwrap_or(decision.reset_after);
    Some(whole_seconds_at_least_one(wait).to_string())
}

fn whole_seconds_up(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

fn whole_seconds_at_least_one(duration: Duration) -> u64 {
    whole_seconds_up(duration).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> PolicyName {
        PolicyName::new(s).unwrap()
    }

    fn decision(allowed: bool, remaining: u32, reset_ms: u64, retry_ms: Option<u64>) -> Decision {
        Decision {
            allowed,
            remaining,
            reset_after: Duration::from_millis(reset_ms),
            retry_after: retry_ms.map(Duration::from_millis),
        }
    }

    /// Draft -10 §3.2: `RateLimit-Policy: "default";q=100;w=10`.
    #[test]
    fn policy_matches_draft_example() {
        let quota = Quota::new(100, Duration::from_secs(10)).unwrap();
        assert_eq!(
            policy_item(&name("default"), &quota),
            r#""default";q=100;w=10"#
        );
    }

    /// The issue's and DESIGN.md's example: login 5/min.
    #[test]
    fn policy_matches_login_example() {
        let quota = Quota::new(5, Duration::from_secs(60)).unwrap();
        assert_eq!(policy_item(&name("login"), &quota), r#""login";q=5;w=60"#);
    }

    /// Draft -10 §3.2: several policies, `"permin";q=50;w=60,"perhr";q=1000;w=3600`.
    #[test]
    fn several_policies_match_draft_example() {
        let permin = Quota::new(50, Duration::from_secs(60)).unwrap();
        let perhr = Quota::new(1000, Duration::from_secs(3600)).unwrap();
        let field = join([
            policy_item(&name("permin"), &permin),
            policy_item(&name("perhr"), &perhr),
        ]);
        assert_eq!(field, r#""permin";q=50;w=60,"perhr";q=1000;w=3600"#);
    }

    /// Draft -10 §3: `"burst";q=100;w=60,"daily";q=1000;w=86400`.
    #[test]
    fn burst_and_daily_match_draft_example() {
        let burst = Quota::new(100, Duration::from_secs(60)).unwrap();
        let daily = Quota::new(1000, Duration::from_secs(86_400)).unwrap();
        let field = join([
            policy_item(&name("burst"), &burst),
            policy_item(&name("daily"), &daily),
        ]);
        assert_eq!(field, r#""burst";q=100;w=60,"daily";q=1000;w=86400"#);
    }

    /// Draft -10 §4 and §4.2: `RateLimit: "default";r=50;t=30`.
    #[test]
    fn ratelimit_matches_draft_example() {
        let d = decision(true, 50, 30_000, None);
        assert_eq!(
            ratelimit_item(&name("default"), &d),
            r#""default";r=50;t=30"#
        );
        // §7: `"default";r=1;t=7`, t rounded up from 6.2 s.
        let d = decision(true, 1, 6_200, None);
        assert_eq!(ratelimit_item(&name("default"), &d), r#""default";r=1;t=7"#);
    }

    /// The issue's example `"login";r=0;t=42`: a refused login whose retry delay is 41.3 s.
    #[test]
    fn ratelimit_matches_login_example_and_agrees_with_retry_after() {
        let d = decision(false, 0, 60_000, Some(41_300));
        assert_eq!(ratelimit_item(&name("login"), &d), r#""login";r=0;t=42"#);
        assert_eq!(retry_after(&d).as_deref(), Some("42"));
    }

    #[test]
    fn sub_second_windows_round_up_to_one() {
        // §3.1.3: w is a non-zero integer, no sub-second precision.
        let quota = Quota::new(5, Duration::from_millis(500)).unwrap();
        assert_eq!(policy_item(&name("fast"), &quota), r#""fast";q=5;w=1"#);
        let quota = Quota::new(5, Duration::from_millis(1500)).unwrap();
        assert_eq!(policy_item(&name("fast"), &quota), r#""fast";q=5;w=2"#);
    }

    #[test]
    fn policy_uses_burst_and_refill_time() {
        // 10/min with a burst of 2: 2 units, refilled in 12 s.
        let quota = Quota::with_burst(10, Duration::from_secs(60), 2).unwrap();
        assert_eq!(policy_item(&name("api"), &quota), r#""api";q=2;w=12"#);
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_never_zero() {
        let cases = [
            (1, "1"),
            (999, "1"),
            (1000, "1"),
            (1001, "2"),
            (12_000, "12"),
        ];
        for (ms, expected) in cases {
            let d = decision(false, 0, 60_000, Some(ms));
            assert_eq!(retry_after(&d).as_deref(), Some(expected), "{ms} ms");
        }
        let d = Decision {
            allowed: false,
            remaining: 0,
            reset_after: Duration::ZERO,
            retry_after: Some(Duration::from_nanos(1)),
        };
        assert_eq!(retry_after(&d).as_deref(), Some("1"));
        assert_eq!(retry_after(&decision(true, 3, 5_000, None)), None);
        // A cost that never fits: the time until the bucket is full.
        assert_eq!(
            retry_after(&decision(false, 2, 2_500, None)).as_deref(),
            Some("3")
        );
    }

    #[test]
    fn a_full_bucket_resets_in_zero() {
        let d = decision(true, 5, 0, None);
        assert_eq!(ratelimit_item(&name("login"), &d), r#""login";r=5;t=0"#);
    }

    #[test]
    fn names_are_escaped_or_refused() {
        let d = decision(true, 1, 1_000, None);
        assert_eq!(
            ratelimit_item(&name(r#"a"b\c"#), &d),
            r#""a\"b\\c";r=1;t=1"#
        );
        assert_eq!(PolicyName::new(""), Err(PolicyNameError::Empty));
        assert_eq!(
            PolicyName::new("caf\u{e9}"),
            Err(PolicyNameError::NotPrintableAscii)
        );
        assert_eq!(
            PolicyName::new("a\tb"),
            Err(PolicyNameError::NotPrintableAscii)
        );
    }
}
