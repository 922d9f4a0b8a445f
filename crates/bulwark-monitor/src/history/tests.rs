use super::*;
use crate::aggregate::{Bucket, PendingChecks, Resolution};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const MIN: i64 = 60_000;

fn minute(start_ms: i64, checks: u64, successes: u64, rt: &[u64]) -> Bucket {
    let mut b = Bucket::empty(start_ms);
    for i in 0..checks {
        let ok = i < successes;
        b.record(ok, rt.get(i as usize).copied().unwrap_or(0));
    }
    b
}

#[test]
fn a_batch_lands_in_minute_hour_and_day_buckets() {
    let store = HistoryStore::open_in_memory().unwrap();
    let base = 20 * DAY + 3 * HOUR; // day 20, 03:00
    store
        .write_batch(&[
            (
                "api",
                vec![
                    minute(base, 2, 2, &[100, 300]),
                    minute(base + MIN, 2, 1, &[50, 0]),
                ],
            ),
            ("db", vec![minute(base, 1, 0, &[])]),
        ])
        .unwrap();
    // A second flush into the same minute adds to it.
    store
        .write_batch(&[("api", vec![minute(base + MIN, 1, 1, &[500])])])
        .unwrap();

    let minutes = store.minutes("api", base).unwrap();
    assert_eq!(minutes.len(), 2);
    assert_eq!(
        (
            minutes[0].checks,
            minutes[0].successes,
            minutes[0].response_ms_sum
        ),
        (2, 2, 400)
    );
    assert_eq!((minutes[1].checks, minutes[1].successes), (3, 2));
    assert_eq!(minutes[1].response_ms_min, Some(50));
    assert_eq!(minutes[1].response_ms_max, Some(500));

    let hours = store.buckets("api", Resolution::Hour, 0).unwrap();
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].start_ms, base);
    assert_eq!(
        (
            hours[0].checks,
            hours[0].successes,
            hours[0].response_ms_sum
        ),
        (5, 4, 950)
    );
    assert_eq!(
        (hours[0].response_ms_min, hours[0].response_ms_max),
        (Some(50), Some(500))
    );

    let days = store.daily("api", 1, base + 10 * HOUR).unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!((days[0].start_ms, days[0].checks), (20 * DAY, 5));

    let db_days = store.daily("db", 7, base).unwrap();
    assert_eq!(
        (
            db_days[0].checks,
            db_days[0].successes,
            db_days[0].response_ms_min
        ),
        (1, 0, None)
    );
}

#[test]
fn a_failed_minute_does_not_erase_the_response_time_range() {
    let store = HistoryStore::open_in_memory().unwrap();
    store
        .write_batch(&[("api", vec![minute(0, 1, 1, &[70])])])
        .unwrap();
    store
        .write_batch(&[("api", vec![minute(0, 1, 0, &[])])])
        .unwrap();
    let minutes = store.minutes("api", 0).unwrap();
    assert_eq!(
        (minutes[0].response_ms_min, minutes[0].response_ms_max),
        (Some(70), Some(70))
    );
}

#[test]
fn uptime_uses_the_planned_buckets() {
    let store = HistoryStore::open_in_memory().unwrap();
    let now = 40 * DAY + 12 * HOUR + 30 * MIN; // day 40, 12:30
    // Yesterday 13:00 (inside the last 24 hour buckets): 100 checks, 100 ok.
    // Today 12:00: 100 checks, 50 ok. Yesterday 12:00 (25 hours back): 100 checks, 0 ok.
    store
        .write_batch(&[(
            "api",
            vec![
                minute(39 * DAY + 12 * HOUR, 100, 0, &[]),
                minute(39 * DAY + 13 * HOUR, 100, 100, &[]),
                minute(40 * DAY + 12 * HOUR, 100, 50, &[]),
            ],
        )])
        .unwrap();
    // 24 h: hours from yesterday 13:00 on: 150 / 200 = 75 %.
    assert_eq!(store.uptime("api", DAY, now).unwrap(), Some(75.0));
    // 2 days: day buckets 39 and 40: 150 / 300 = 50 %.
    assert_eq!(store.uptime("api", 2 * DAY, now).unwrap(), Some(50.0));
    // 1 hour: the current hour only: 50 %.
    assert_eq!(store.uptime("api", HOUR, now).unwrap(), Some(50.0));
    assert_eq!(store.uptime("other", DAY, now).unwrap(), None);
}

#[test]
fn prune_drops_buckets_past_retention() {
    let store = HistoryStore::open_in_memory().unwrap();
    let now = 400 * DAY;
    store
        .write_batch(&[(
            "api",
            vec![
                minute(now - DAY - MIN, 1, 1, &[]), // minute past 24 h; hour and day kept
                minute(now - DAY, 1, 1, &[]),       // exactly 24 h back: kept
                minute(now - 31 * DAY, 1, 1, &[]),  // hour past 30 d; day kept
                minute(now - 366 * DAY, 1, 1, &[]), // everything past
            ],
        )])
        .unwrap();
    // Cutoffs: minutes day 399 00:00, hours day 370, days day 35. Deleted minute rows:
    // day 398 23:59, day 369, day 34 (3); hour rows: day 369, day 34 (2); day rows: day 34 (1).
    assert_eq!(store.prune(now).unwrap(), 3 + 2 + 1);
    let minutes = store.minutes("api", 0).unwrap();
    assert_eq!(
        minutes.iter().map(|b| b.start_ms).collect::<Vec<_>>(),
        vec![now - DAY]
    );
    let hours = store.buckets("api", Resolution::Hour, i64::MIN).unwrap();
    assert_eq!(
        hours.iter().map(|b| b.start_ms).collect::<Vec<_>>(),
        vec![now - DAY - HOUR, now - DAY]
    );
    let days = store.buckets("api", Resolution::Day, i64::MIN).unwrap();
    assert_eq!(
        days.iter().map(|b| b.start_ms).collect::<Vec<_>>(),
        vec![now - 31 * DAY, now - 2 * DAY, now - DAY]
    );
}

#[test]
fn pending_checks_flush_as_one_batch_and_reopen_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut pending = PendingChecks::default();
    for i in 0..120 {
        // Two minutes of checks every second, 1 in 4 failing.
        pending.record(i * 1_000, i % 4 != 0, 10);
    }
    let data_dir = dir.path().join("data");
    {
        let store = HistoryStore::open(&data_dir).unwrap();
        store.write_batch(&[("api", pending.take())]).unwrap();
    }
    let store = HistoryStore::open(&data_dir).unwrap();
    assert!(data_dir.join("monitors.db").exists());
    let minutes = store.minutes("api", 0).unwrap();
    assert_eq!(minutes.len(), 2);
    assert_eq!((minutes[0].checks, minutes[0].successes), (60, 45));
    assert_eq!(store.uptime("api", 2 * MIN, 119_000).unwrap(), Some(75.0));
}

#[test]
fn incidents_open_update_and_resolve() {
    let store = HistoryStore::open_in_memory().unwrap();
    let opened = store
        .open_incident(
            "api is down",
            Impact::Major,
            Some("api"),
            "connection refused",
            1_000,
        )
        .unwrap();
    assert_eq!(opened.status, IncidentStatus::Investigating);
    assert_eq!(opened.updates.len(), 1);
    assert_eq!(opened.resolved_ms, None);
    let manual = store
        .open_incident("Slow emails", Impact::Minor, None, "looking", 1_500)
        .unwrap();

    let found = store.open_incident_for_monitor("api").unwrap().unwrap();
    assert_eq!(found.id, opened.id);
    assert_eq!(store.open_incident_for_monitor("db").unwrap(), None);

    store
        .add_update(opened.id, IncidentStatus::Identified, "bad deploy", 2_000)
        .unwrap();
    let resolved = store
        .add_update(opened.id, IncidentStatus::Resolved, "rolled back", 3_000)
        .unwrap();
    assert_eq!(resolved.status, IncidentStatus::Resolved);
    assert_eq!(resolved.resolved_ms, Some(3_000));
    assert_eq!(
        resolved
            .updates
            .iter()
            .map(|u| (u.at_ms, u.status))
            .collect::<Vec<_>>(),
        vec![
            (1_000, IncidentStatus::Investigating),
            (2_000, IncidentStatus::Identified),
            (3_000, IncidentStatus::Resolved)
        ]
    );
    assert_eq!(store.open_incident_for_monitor("api").unwrap(), None);

    // Since 2 500 both count (one resolved after it, one open); since 3 001 only the open one.
    let ids: Vec<i64> = store
        .incidents(2_500)
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, vec![manual.id, opened.id]);
    let ids: Vec<i64> = store
        .incidents(3_001)
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, vec![manual.id]);

    assert!(matches!(
        store.add_update(999, IncidentStatus::Resolved, "x", 1),
        Err(HistoryError::UnknownIncident(999))
    ));
}

#[test]
fn a_recently_resolved_incident_is_found_for_reopening() {
    let store = HistoryStore::open_in_memory().unwrap();
    let opened = store
        .open_incident("Shop is down", Impact::Major, Some("shop"), "down", 1_000)
        .unwrap();
    store
        .add_update(opened.id, IncidentStatus::Resolved, "back", 5_000)
        .unwrap();
    // Resolved at 5,000: found when looking back to 5,000 or earlier, not after.
    let found = store.recent_incident_for_monitor("shop", 4_000).unwrap();
    assert_eq!(found.map(|i| i.id), Some(opened.id));
    assert_eq!(
        store.recent_incident_for_monitor("shop", 5_001).unwrap(),
        None
    );
    assert_eq!(store.recent_incident_for_monitor("other", 0).unwrap(), None);
    // Reopened, it is unresolved again, with the update on record.
    let reopened = store
        .add_update(
            opened.id,
            IncidentStatus::Investigating,
            "down again",
            6_000,
        )
        .unwrap();
    assert_eq!(reopened.resolved_ms, None);
    assert_eq!(reopened.updates.len(), 3);
    assert_eq!(
        store
            .open_incident_for_monitor("shop")
            .unwrap()
            .map(|i| i.id),
        Some(opened.id)
    );
}
