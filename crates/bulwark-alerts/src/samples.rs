//! Recent samples of named series, kept just long enough to answer "how much did this
//! change within the window". Series not refreshed on a tick are forgotten, so memory
//! follows what the current state has, not what it once had.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Beyond this many samples per series the oldest go first (the window then covers less
/// time than configured, which only makes rules slower to fire, never wrong to fire).
pub const MAX_SAMPLES_PER_SERIES: usize = 4096;
/// Beyond this many series, new ones are not tracked.
pub const MAX_SERIES: usize = 50_000;

#[derive(Debug, Default)]
pub struct SampleMemory {
    series: BTreeMap<String, VecDeque<(i64, f64)>>,
    seen_this_tick: BTreeSet<String>,
}

impl SampleMemory {
    /// Records `value` at `now_ms` and drops samples no window needs any more: everything
    /// older than `window_ms` except the newest such sample, which is the baseline.
    pub fn record(&mut self, key: &str, now_ms: i64, value: f64, window_ms: i64) {
        if !self.series.contains_key(key) && self.series.len() >= MAX_SERIES {
            return;
        }
        self.seen_this_tick.insert(key.to_owned());
        let samples = self.series.entry(key.to_owned()).or_default();
        if samples.back().is_some_and(|(t, _)| *t > now_ms) {
            // The clock went backwards; the old samples no longer describe a window.
            samples.clear();
        }
        samples.push_back((now_ms, value));
        let start = now_ms.saturating_sub(window_ms);
        while samples.len() > 1 && samples.get(1).is_some_and(|(t, _)| *t <= start) {
            samples.pop_front();
        }
        while samples.len() > MAX_SAMPLES_PER_SERIES {
            samples.pop_front();
        }
    }

    /// Net change of a gauge over the window: newest minus baseline. `None` with fewer
    /// than two samples.
    pub fn delta(&self, key: &str) -> Option<f64> {
        let samples = self.series.get(key)?;
        if samples.len() < 2 {
            return None;
        }
        let (_, first) = samples.front()?;
        let (_, last) = samples.back()?;
        Some(last - first)
    }

    /// Increase of a counter over the window, counting through resets (a drop means the
    /// counter restarted from zero), like PromQL's `increase` without extrapolation.
    pub fn increase(&self, key: &str) -> Option<f64> {
        let samples = self.series.get(key)?;
        if samples.len() < 2 {
            return None;
        }
        let mut total = 0.0;
        let mut previous: Option<f64> = None;
        for (_, value) in samples {
            if let Some(prev) = previous {
                total += if *value >= prev { value - prev } else { *value };
            }
            previous = Some(*value);
        }
        Some(total)
    }

    /// Per-second increase over the time the samples span.
    pub fn rate(&self, key: &str) -> Option<f64> {
        let samples = self.series.get(key)?;
        let (first_t, _) = samples.front()?;
        let (last_t, _) = samples.back()?;
        let span_s = (last_t - first_t) as f64 / 1000.0;
        if span_s <= 0.0 {
            return None;
        }
        Some(self.increase(key)? / span_s)
    }

    /// Forgets series not recorded since the last call.
    pub fn end_tick(&mut self) {
        let seen = std::mem::take(&mut self.seen_this_tick);
        self.series.retain(|key, _| seen.contains(key));
    }

    #[cfg(test)]
    pub fn series_count(&self) -> usize {
        self.series.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_baseline_before_the_window() {
        let mut m = SampleMemory::default();
        m.record("k", 0, 1.0, 60_000);
        m.record("k", 30_000, 2.0, 60_000);
        m.record("k", 70_000, 5.0, 60_000);
        // The window starts at 10 000: the sample at 0 is the newest at or before that,
        // so it stays as the baseline.
        assert_eq!(m.delta("k"), Some(4.0));
        m.record("k", 200_000, 5.0, 60_000);
        assert_eq!(m.delta("k"), Some(0.0));
    }

    #[test]
    fn increase_counts_through_resets_and_rate_divides_by_span() {
        let mut m = SampleMemory::default();
        m.record("c", 0, 10.0, 600_000);
        m.record("c", 10_000, 14.0, 600_000);
        m.record("c", 20_000, 3.0, 600_000);
        assert_eq!(m.increase("c"), Some(7.0));
        assert_eq!(m.rate("c"), Some(0.35));
        assert_eq!(m.increase("missing"), None);
    }

    #[test]
    fn unrefreshed_series_are_forgotten() {
        let mut m = SampleMemory::default();
        m.record("a", 0, 1.0, 1000);
        m.record("b", 0, 1.0, 1000);
        m.end_tick();
        m.record("a", 1, 1.0, 1000);
        m.end_tick();
        assert_eq!(m.series_count(), 1);
        assert_eq!(m.delta("b"), None);
    }
}
