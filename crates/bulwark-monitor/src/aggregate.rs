//! Check results rolled up into time buckets; raw results are never kept.
//!
//! Every check lands in one minute bucket (kept 24 hours), one hour bucket (kept 30 days)
//! and one day bucket (kept 365 days), all aligned to UTC. A bucket counts checks and
//! successes, and the response times of the successful checks (sum, min, max in ms):
//! failed checks are left out of the response times because a timeout or a refused
//! connection is not a response time, and would make the sparkline lie.
//!
//! Uptime over a window uses the coarsest buckets that cover it exactly (see
//! [`plan_window`]). Pure: time comes in as an argument.

use serde::Serialize;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A bucket width, with how long buckets of that width are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Minute,
    Hour,
    Day,
}

impl Resolution {
    /// Finest first.
    pub const ALL: [Resolution; 3] = [Resolution::Minute, Resolution::Hour, Resolution::Day];

    pub fn width_ms(self) -> i64 {
        match self {
            Resolution::Minute => MINUTE_MS,
            Resolution::Hour => HOUR_MS,
            Resolution::Day => DAY_MS,
        }
    }

    pub fn retention_ms(self) -> i64 {
        match self {
            Resolution::Minute => DAY_MS,
            Resolution::Hour => 30 * DAY_MS,
            Resolution::Day => 365 * DAY_MS,
        }
    }

    /// The start of the bucket holding `at_ms` (floor, also before 1970).
    pub fn bucket_start(self, at_ms: i64) -> i64 {
        at_ms.div_euclid(self.width_ms()) * self.width_ms()
    }

    /// Buckets starting before this are past retention at `now_ms`. The bucket that
    /// holds `now_ms - retention` is kept: part of it is still inside.
    pub fn retention_cutoff(self, now_ms: i64) -> i64 {
        self.bucket_start(now_ms.saturating_sub(self.retention_ms()))
    }

    /// The number stored in the history database.
    pub fn code(self) -> i64 {
        match self {
            Resolution::Minute => 0,
            Resolution::Hour => 1,
            Resolution::Day => 2,
        }
    }
}

/// Checks rolled up over one bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// The bucket's start, Unix milliseconds.
    pub start_ms: i64,
    pub checks: u64,
    pub successes: u64,
    /// Over successful checks only.
    pub response_ms_sum: u64,
    pub response_ms_min: Option<u64>,
    pub response_ms_max: Option<u64>,
}

/// A day of one monitor, for the status page's bars.
pub type DayBucket = Bucket;
/// A minute of one monitor, for the response-time sparkline.
pub type MinuteBucket = Bucket;

impl Bucket {
    pub fn empty(start_ms: i64) -> Self {
        Self {
            start_ms,
            ..Self::default()
        }
    }

    /// Counts one check.
    pub fn record(&mut self, ok: bool, response_ms: u64) {
        self.checks += 1;
        if ok {
            self.successes += 1;
            self.response_ms_sum = self.response_ms_sum.saturating_add(response_ms);
            self.response_ms_min = Some(
                self.response_ms_min
                    .map_or(response_ms, |m| m.min(response_ms)),
            );
            self.response_ms_max = Some(
                self.response_ms_max
                    .map_or(response_ms, |m| m.max(response_ms)),
            );
        }
    }

    /// Adds another bucket's counts (of the same or a finer bucket inside this one).
    pub fn merge(&mut self, other: &Bucket) {
        self.checks += other.checks;
        self.successes += other.successes;
        self.response_ms_sum = self.response_ms_sum.saturating_add(other.response_ms_sum);
        self.response_ms_min = min_of(self.response_ms_min, other.response_ms_min);
        self.response_ms_max = max_of(self.response_ms_max, other.response_ms_max);
    }

    /// The mean response time of the successful checks.
    pub fn response_ms_avg(&self) -> Option<f64> {
        (self.successes > 0).then(|| self.response_ms_sum as f64 / self.successes as f64)
    }

    /// Percentage of successful checks; `None` without checks.
    pub fn uptime_percent(&self) -> Option<f64> {
        uptime_percent(std::slice::from_ref(self))
    }
}

fn min_of(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_of(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Successes over checks across `buckets`, in percent; `None` when there were no checks.
pub fn uptime_percent(buckets: &[Bucket]) -> Option<f64> {
    let (checks, successes) = buckets
        .iter()
        .fold((0u64, 0u64), |(c, s), b| (c + b.checks, s + b.successes));
    (checks > 0).then(|| successes as f64 * 100.0 / checks as f64)
}

/// The checks of one monitor not yet written to the history store: one minute bucket per
/// minute touched since the last flush (one or two in practice), so memory stays constant
/// whatever the check rate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PendingChecks {
    minutes: Vec<Bucket>,
}

impl PendingChecks {
    pub fn record(&mut self, now_ms: i64, ok: bool, response_ms: u64) {
        let start = Resolution::Minute.bucket_start(now_ms);
        match self.minutes.iter_mut().rev().find(|b| b.start_ms == start) {
            Some(bucket) => bucket.record(ok, response_ms),
            None => {
                let mut bucket = Bucket::empty(start);
                bucket.record(ok, response_ms);
                self.minutes.push(bucket);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }

    /// Hands the minute buckets over for writing, leaving nothing pending.
    pub fn take(&mut self) -> Vec<Bucket> {
        std::mem::take(&mut self.minutes)
    }

    /// Puts buckets back after a failed write, merged with what arrived meanwhile.
    pub fn restore(&mut self, buckets: Vec<Bucket>) {
        for old in buckets {
            match self.minutes.iter_mut().find(|b| b.start_ms == old.start_ms) {
                Some(bucket) => bucket.merge(&old),
                None => self.minutes.push(old),
            }
        }
    }
}

/// Rolls minute buckets up into one resolution (the history store does this for hours
/// and days when it writes a batch).
pub fn roll_up(minutes: &[Bucket], resolution: Resolution) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = Vec::new();
    for minute in minutes {
        let start = resolution.bucket_start(minute.start_ms);
        match out.iter_mut().find(|b| b.start_ms == start) {
            Some(bucket) => bucket.merge(minute),
            None => {
                let mut bucket = *minute;
                bucket.start_ms = start;
                out.push(bucket);
            }
        }
    }
    out
}

/// The fewest buckets a window is split into when a resolution allows it.
pub const MIN_WINDOW_BUCKETS: i64 = 24;

/// Which buckets answer "uptime over the last `window_ms`".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowPlan {
    pub resolution: Resolution,
    /// Use the buckets starting at or after this (the current, partial bucket included).
    pub from_ms: i64,
    /// How many buckets that is.
    pub buckets: i64,
}

/// Picks the buckets for a window ending at `now_ms`: the coarsest retained resolution
/// whose width divides the window into at least [`MIN_WINDOW_BUCKETS`] whole buckets, so
/// the window is a whole number of buckets and the current, partial bucket is a small
/// part of it (24 h: 24 hour buckets; 7 days: 168 hour buckets; 30 days: 30 day buckets;
/// 90 min: 90 minute buckets). When none qualifies, the finest retained resolution,
/// rounded up to whole buckets. Windows longer than a year use every day bucket kept.
/// The window's last bucket is the current one.
pub fn plan_window(window_ms: i64, now_ms: i64) -> WindowPlan {
    let window_ms = window_ms.max(1);
    let retained: Vec<Resolution> = Resolution::ALL
        .into_iter()
        .filter(|r| r.retention_ms() >= window_ms)
        .collect();
    let resolution = retained
        .iter()
        .rev()
        .find(|r| window_ms % r.width_ms() == 0 && window_ms / r.width_ms() >= MIN_WINDOW_BUCKETS)
        .or(retained.first())
        .copied()
        .unwrap_or(Resolution::Day);
    let width = resolution.width_ms();
    let buckets = (window_ms + width - 1) / width;
    let buckets = buckets.min(resolution.retention_ms() / width + 1);
    let from_ms = resolution.bucket_start(now_ms) - (buckets - 1) * width;
    WindowPlan {
        resolution,
        from_ms,
        buckets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_starts_align_to_utc_boundaries() {
        // 2026-01-01T00:00:00Z = 1767225600000 ms.
        let midnight = 1_767_225_600_000;
        assert_eq!(Resolution::Day.bucket_start(midnight), midnight);
        assert_eq!(
            Resolution::Day.bucket_start(midnight - 1),
            midnight - 86_400_000
        );
        assert_eq!(
            Resolution::Hour.bucket_start(midnight + 3_599_999),
            midnight
        );
        assert_eq!(
            Resolution::Hour.bucket_start(midnight + 3_600_000),
            midnight + 3_600_000
        );
        assert_eq!(Resolution::Minute.bucket_start(midnight + 59_999), midnight);
        assert_eq!(
            Resolution::Minute.bucket_start(midnight + 60_000),
            midnight + 60_000
        );
        assert_eq!(Resolution::Minute.bucket_start(-1), -60_000);
    }

    #[test]
    fn a_bucket_counts_checks_and_successful_response_times() {
        let mut b = Bucket::empty(0);
        b.record(true, 100);
        b.record(true, 300);
        b.record(false, 5_000);
        b.record(true, 200);
        assert_eq!(b.checks, 4);
        assert_eq!(b.successes, 3);
        assert_eq!(b.response_ms_sum, 600);
        assert_eq!(b.response_ms_min, Some(100));
        assert_eq!(b.response_ms_max, Some(300));
        assert_eq!(b.response_ms_avg(), Some(200.0));
        assert_eq!(b.uptime_percent(), Some(75.0));
    }

    #[test]
    fn a_bucket_of_only_failures_has_no_response_times() {
        let mut b = Bucket::empty(0);
        b.record(false, 10);
        assert_eq!(b.response_ms_min, None);
        assert_eq!(b.response_ms_avg(), None);
        assert_eq!(b.uptime_percent(), Some(0.0));
        assert_eq!(Bucket::empty(0).uptime_percent(), None);
    }

    #[test]
    fn pending_checks_split_at_the_minute_boundary() {
        let mut p = PendingChecks::default();
        p.record(59_999, true, 10);
        p.record(60_000, false, 20);
        p.record(119_999, true, 30);
        let minutes = p.take();
        assert!(p.is_empty());
        assert_eq!(minutes.len(), 2);
        assert_eq!(
            (minutes[0].start_ms, minutes[0].checks, minutes[0].successes),
            (0, 1, 1)
        );
        assert_eq!(
            (
                minutes[1].start_ms,
                minutes[1].checks,
                minutes[1].successes,
                minutes[1].response_ms_sum
            ),
            (60_000, 2, 1, 30)
        );
    }

    #[test]
    fn restoring_a_failed_batch_merges_with_newer_checks() {
        let mut p = PendingChecks::default();
        p.record(1_000, true, 10);
        let taken = p.take();
        p.record(2_000, true, 30);
        p.restore(taken);
        let minutes = p.take();
        assert_eq!(minutes.len(), 1);
        assert_eq!(minutes[0].checks, 2);
        assert_eq!(minutes[0].response_ms_min, Some(10));
        assert_eq!(minutes[0].response_ms_max, Some(30));
    }

    #[test]
    fn roll_up_merges_minutes_into_hours() {
        let mut a = Bucket::empty(3_540_000); // 00:59
        a.record(true, 50);
        let mut b = Bucket::empty(3_600_000); // 01:00
        b.record(false, 0);
        let mut c = Bucket::empty(3_660_000); // 01:01
        c.record(true, 70);
        let hours = roll_up(&[a, b, c], Resolution::Hour);
        assert_eq!(hours.len(), 2);
        assert_eq!((hours[0].start_ms, hours[0].checks), (0, 1));
        assert_eq!(
            (
                hours[1].start_ms,
                hours[1].checks,
                hours[1].successes,
                hours[1].response_ms_max
            ),
            (3_600_000, 2, 1, Some(70))
        );
    }

    #[test]
    fn uptime_over_buckets_is_successes_over_checks() {
        let b1 = Bucket {
            checks: 120,
            successes: 120,
            ..Bucket::empty(0)
        };
        let b2 = Bucket {
            checks: 120,
            successes: 90,
            ..Bucket::empty(60_000)
        };
        // 210 / 240 = 87.5 %
        assert_eq!(uptime_percent(&[b1, b2]), Some(87.5));
        assert_eq!(uptime_percent(&[]), None);
    }

    #[test]
    fn retention_cutoffs() {
        let now = 10 * 86_400_000 + 30_000; // day 10, 00:00:30
        // Minutes: 24 h back is day 9 00:00:30, whose minute starts at day 9 00:00.
        assert_eq!(Resolution::Minute.retention_cutoff(now), 9 * 86_400_000);
        // Hours: 30 days back is before the epoch: day -20 00:00.
        assert_eq!(Resolution::Hour.retention_cutoff(now), -20 * 86_400_000);
        assert_eq!(Resolution::Day.retention_cutoff(now), -355 * 86_400_000);
    }

    #[test]
    fn window_plans_pick_the_coarsest_exact_buckets() {
        let now = 100 * 86_400_000 + 5 * 3_600_000 + 7 * 60_000 + 1; // day 100, 05:07
        // 24 h: 24 hour buckets, the current (05:00) one the last.
        assert_eq!(
            plan_window(86_400_000, now),
            WindowPlan {
                resolution: Resolution::Hour,
                from_ms: 100 * 86_400_000 + 5 * 3_600_000 - 23 * 3_600_000,
                buckets: 24
            }
        );
        // 7 days: 168 hour buckets (7 day buckets would leave a partial day as 1/7 of it).
        assert_eq!(
            plan_window(7 * 86_400_000, now),
            WindowPlan {
                resolution: Resolution::Hour,
                from_ms: 100 * 86_400_000 + 5 * 3_600_000 - 167 * 3_600_000,
                buckets: 168
            }
        );
        // 30 days: 30 day buckets.
        assert_eq!(
            plan_window(30 * 86_400_000, now),
            WindowPlan {
                resolution: Resolution::Day,
                from_ms: 71 * 86_400_000,
                buckets: 30
            }
        );
        // 90 minutes: not whole hours, so 90 minute buckets.
        let p = plan_window(90 * 60_000, now);
        assert_eq!(p.resolution, Resolution::Minute);
        assert_eq!(p.buckets, 90);
        assert_eq!(
            p.from_ms,
            100 * 86_400_000 + 5 * 3_600_000 + 7 * 60_000 - 89 * 60_000
        );
        // 90 days: beyond hour retention, so days.
        assert_eq!(
            plan_window(90 * 86_400_000, now).resolution,
            Resolution::Day
        );
        // 36 hours: beyond minute retention, whole hours.
        assert_eq!(
            plan_window(36 * 3_600_000, now).resolution,
            Resolution::Hour
        );
        // 90 seconds: finest, rounded up to 2 minutes.
        let p = plan_window(90_000, now);
        assert_eq!((p.resolution, p.buckets), (Resolution::Minute, 2));
        // Two years: every day bucket kept.
        let p = plan_window(730 * 86_400_000, now);
        assert_eq!((p.resolution, p.buckets), (Resolution::Day, 366));
    }
}
