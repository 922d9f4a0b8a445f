//! Bucket writes (batched) and reads.

use rusqlite::{OptionalExtension, params};

use super::{HistoryError, HistoryStore};
use crate::aggregate::{
    Bucket, DayBucket, MinuteBucket, Resolution, plan_window, roll_up, uptime_percent,
};

const DAY_MS: i64 = 86_400_000;

impl HistoryStore {
    /// Writes one flush: each monitor's pending minute buckets, added into the minute,
    /// hour and day buckets they fall in, in one transaction.
    pub fn write_batch<N: AsRef<str>>(
        &self,
        batch: &[(N, Vec<Bucket>)],
    ) -> Result<(), HistoryError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        {
            let mut upsert = transaction.prepare_cached(
                "INSERT INTO buckets (monitor, resolution, start_ms, checks, successes,
                     response_ms_sum, response_ms_min, response_ms_max)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (monitor, resolution, start_ms) DO UPDATE SET
                     checks = checks + excluded.checks,
                     successes = successes + excluded.successes,
                     response_ms_sum = response_ms_sum + excluded.response_ms_sum,
                     response_ms_min = min(coalesce(response_ms_min, excluded.response_ms_min),
                                           coalesce(excluded.response_ms_min, response_ms_min)),
                     response_ms_max = max(coalesce(response_ms_max, excluded.response_ms_max),
                                           coalesce(excluded.response_ms_max, response_ms_max))",
            )?;
            for (name, minutes) in batch {
                let name = name.as_ref();
                for resolution in Resolution::ALL {
                    let buckets = match resolution {
                        Resolution::Minute => minutes.clone(),
                        coarser => roll_up(minutes, coarser),
                    };
                    for bucket in buckets.iter().filter(|b| b.checks > 0) {
                        upsert.execute(params![
                            name,
                            resolution.code(),
                            bucket.start_ms,
                            to_sql(bucket.checks),
                            to_sql(bucket.successes),
                            to_sql(bucket.response_ms_sum),
                            bucket.response_ms_min.map(to_sql),
                            bucket.response_ms_max.map(to_sql),
                        ])?;
                    }
                }
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// Deletes the buckets past their retention at `now_ms`; returns how many.
    pub fn prune(&self, now_ms: i64) -> Result<usize, HistoryError> {
        let connection = self.lock();
        let mut deleted = 0;
        for resolution in Resolution::ALL {
            deleted += connection.execute(
                "DELETE FROM buckets WHERE resolution = ?1 AND start_ms < ?2",
                params![resolution.code(), resolution.retention_cutoff(now_ms)],
            )?;
        }
        Ok(deleted)
    }

    /// One monitor's buckets of one resolution starting at or after `from_ms`, oldest first.
    pub fn buckets(
        &self,
        name: &str,
        resolution: Resolution,
        from_ms: i64,
    ) -> Result<Vec<Bucket>, HistoryError> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT start_ms, checks, successes, response_ms_sum, response_ms_min, response_ms_max
             FROM buckets WHERE monitor = ?1 AND resolution = ?2 AND start_ms >= ?3
             ORDER BY start_ms",
        )?;
        let rows = query.query_map(params![name, resolution.code(), from_ms], |row| {
            Ok(Bucket {
                start_ms: row.get(0)?,
                checks: from_sql(row.get(1)?),
                successes: from_sql(row.get(2)?),
                response_ms_sum: from_sql(row.get(3)?),
                response_ms_min: row.get::<_, Option<i64>>(4)?.map(from_sql),
                response_ms_max: row.get::<_, Option<i64>>(5)?.map(from_sql),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The last `days` day buckets (today's, partial, included), oldest first. Days
    /// without checks are absent.
    pub fn daily(
        &self,
        name: &str,
        days: u32,
        now_ms: i64,
    ) -> Result<Vec<DayBucket>, HistoryError> {
        let today = Resolution::Day.bucket_start(now_ms);
        let from = today - (i64::from(days.max(1)) - 1) * DAY_MS;
        self.buckets(name, Resolution::Day, from)
    }

    /// Minute buckets from `since_ms` on (for a response-time sparkline).
    pub fn minutes(&self, name: &str, since_ms: i64) -> Result<Vec<MinuteBucket>, HistoryError> {
        self.buckets(
            name,
            Resolution::Minute,
            Resolution::Minute.bucket_start(since_ms),
        )
    }

    /// Uptime in percent over the window ending at `now_ms`, from the coarsest buckets
    /// that cover it (see [`plan_window`]); `None` when there were no checks. Checks not
    /// flushed yet are not counted.
    pub fn uptime(
        &self,
        name: &str,
        window_ms: i64,
        now_ms: i64,
    ) -> Result<Option<f64>, HistoryError> {
        let plan = plan_window(window_ms, now_ms);
        let connection = self.lock();
        let totals: Option<(i64, i64)> = connection
            .query_row(
                "SELECT sum(checks), sum(successes) FROM buckets
                 WHERE monitor = ?1 AND resolution = ?2 AND start_ms >= ?3
                 HAVING count(*) > 0",
                params![name, plan.resolution.code(), plan.from_ms],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        Ok(totals.and_then(|(checks, successes)| {
            uptime_percent(&[Bucket {
                checks: from_sql(checks),
                successes: from_sql(successes),
                ..Bucket::default()
            }])
        }))
    }
}

/// SQLite integers are i64; counts never reach 2^63, and saturate if they did.
fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
