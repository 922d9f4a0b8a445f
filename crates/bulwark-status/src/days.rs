//! The 90-day window of uptime bars: one cell per UTC day, oldest first, ending today.

use crate::format::{DAY_MS, counts_to_basis_points, day_number};
use crate::snapshot::DayUptime;

/// How many days the bars cover.
pub const DAYS_SHOWN: usize = 90;

/// One bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DayCell {
    pub day_start_ms: i64,
    pub checks: u64,
    pub successes: u64,
    /// Hundredths of a percent; `None` when the day had no checks.
    pub basis_points: Option<u32>,
    pub avg_response_ms: Option<u32>,
}

/// The last [`DAYS_SHOWN`] days up to the one holding `now_ms`. Days absent from `days`
/// (or with zero checks) are "no data"; entries outside the window are ignored, and two
/// entries for the same day are added together.
pub(crate) fn day_window(days: &[DayUptime], now_ms: i64) -> Vec<DayCell> {
    let today = day_number(now_ms);
    let first = today - (DAYS_SHOWN as i64 - 1);
    let mut cells: Vec<DayCell> = (first..=today)
        .map(|day| DayCell {
            day_start_ms: day * DAY_MS,
            checks: 0,
            successes: 0,
            basis_points: None,
            avg_response_ms: None,
        })
        .collect();
    for entry in days {
        let day = day_number(entry.day_start_ms);
        let Ok(index) = usize::try_from(day - first) else {
            continue;
        };
        let Some(cell) = cells.get_mut(index) else {
            continue;
        };
        cell.checks = cell.checks.saturating_add(entry.checks);
        cell.successes = cell
            .successes
            .saturating_add(entry.successes.min(entry.checks));
        if entry.avg_response_ms.is_some() {
            cell.avg_response_ms = entry.avg_response_ms;
        }
    }
    for cell in &mut cells {
        cell.basis_points = counts_to_basis_points(cell.checks, cell.successes);
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-28T06:39:40Z
    const NOW: i64 = 1_795_847_980_000;
    const TODAY_START: i64 = 1_795_824_000_000;

    fn day(start: i64, checks: u64, successes: u64) -> DayUptime {
        DayUptime {
            day_start_ms: start,
            checks,
            successes,
            avg_response_ms: Some(120),
        }
    }

    #[test]
    fn window_has_ninety_days_ending_today() {
        let cells = day_window(&[], NOW);
        assert_eq!(cells.len(), 90);
        assert_eq!(cells[89].day_start_ms, TODAY_START);
        assert_eq!(cells[0].day_start_ms, TODAY_START - 89 * 86_400_000);
        assert!(cells.iter().all(|c| c.basis_points.is_none()));
    }

    #[test]
    fn days_land_in_their_cells_and_missing_days_have_no_data() {
        let days = [
            day(TODAY_START, 2000, 1999),
            // Any instant in the day counts for that day.
            day(TODAY_START - 86_400_000 + 3_600_000, 10, 10),
            // A day with no checks is no data, never 100%.
            day(TODAY_START - 2 * 86_400_000, 0, 0),
            // Outside the window: ignored.
            day(TODAY_START - 90 * 86_400_000, 5, 5),
            day(TODAY_START + 86_400_000, 5, 5),
        ];
        let cells = day_window(&days, NOW);
        assert_eq!(cells[89].basis_points, Some(9995));
        assert_eq!(cells[88].basis_points, Some(10_000));
        assert_eq!(cells[87].basis_points, None);
        assert_eq!(cells[0].basis_points, None);
        assert_eq!(cells.iter().filter(|c| c.checks > 0).count(), 2);
    }
}
