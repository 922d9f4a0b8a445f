use super::*;
use crate::matcher::Matcher;
use crate::model::{Alert, AlertType, Severity};
use crate::silence::Silence;

fn open() -> (tempfile::TempDir, AlertHistory) {
    let dir = tempfile::tempdir().unwrap();
    let history = AlertHistory::open(dir.path()).unwrap();
    (dir, history)
}

fn alert(name: &str, starts: i64) -> Alert {
    Alert::new(name, Severity::High, AlertType::System, starts)
        .with_label("destination", "billing")
        .with_annotation("summary", "s")
}

#[test]
fn fired_then_resolved_is_one_row() {
    let (dir, history) = open();
    assert!(dir.path().join("alerts.db").exists());
    let a = alert("BreakerOpen", 1000);
    history.record_fired("fp1", &a, false).unwrap();
    history.record_fired("fp1", &a, true).unwrap();
    history.record_notified(&["fp1".to_owned()], 1500).unwrap();
    assert!(history.record_resolved("fp1", 2000).unwrap());
    assert!(!history.record_resolved("fp1", 2500).unwrap());
    let rows = history.list(&HistoryFilter::default()).unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.fingerprint, "fp1");
    assert_eq!(row.alertname, "BreakerOpen");
    assert_eq!(row.severity, "high");
    assert_eq!(row.alert_type, "system");
    assert_eq!(row.labels["destination"], "billing");
    assert_eq!(row.annotations["summary"], "s");
    // A suppression after firing does not hide that it fired.
    assert_eq!(row.state, HistoryState::Resolved);
    assert_eq!(
        (row.starts_at_ms, row.ends_at_ms, row.last_notified_ms),
        (1000, Some(2000), Some(1500))
    );
}

#[test]
fn suppressed_occurrence_stays_suppressed_and_filters_work() {
    let (_dir, history) = open();
    history
        .record_fired("muted", &alert("A", 100), true)
        .unwrap();
    history.record_resolved("muted", 200).unwrap();
    history
        .record_fired("loud", &alert("B", 300), false)
        .unwrap();
    history
        .record_fired("muted", &alert("A", 400), false)
        .unwrap();

    let all = history.list(&HistoryFilter::default()).unwrap();
    let order: Vec<(&str, HistoryState)> = all
        .iter()
        .map(|r| (r.fingerprint.as_str(), r.state))
        .collect();
    assert_eq!(
        order,
        vec![
            ("muted", HistoryState::Firing),
            ("loud", HistoryState::Firing),
            ("muted", HistoryState::Suppressed)
        ]
    );
    let suppressed = history
        .list(&HistoryFilter {
            state: Some(HistoryState::Suppressed),
            ..HistoryFilter::default()
        })
        .unwrap();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0].ends_at_ms, Some(200));
    let since = history
        .list(&HistoryFilter {
            since_ms: Some(250),
            ..HistoryFilter::default()
        })
        .unwrap();
    assert_eq!(since.len(), 2);
    let limited = history
        .list(&HistoryFilter {
            limit: 1,
            ..HistoryFilter::default()
        })
        .unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(history.prune(250).unwrap(), 1);
    assert_eq!(history.list(&HistoryFilter::default()).unwrap().len(), 2);
}

#[test]
fn silences_are_stored_listed_and_expired() {
    let (dir, history) = open();
    let silence = Silence {
        id: "s-1".into(),
        matchers: vec![
            Matcher::equal("alertname", "A"),
            Matcher::not_equal("env", "dev"),
        ],
        starts_at_ms: 1000,
        ends_at_ms: 5000,
        created_by: "ops".into(),
        comment: "deploy".into(),
    };
    history.add_silence(&silence, 900).unwrap();
    assert!(matches!(
        history.add_silence(&silence, 900),
        Err(HistoryError::DuplicateSilence { id }) if id == "s-1"
    ));
    assert_eq!(history.silences(0).unwrap(), vec![silence.clone()]);
    assert_eq!(history.silences(5000).unwrap(), vec![]);
    assert!(history.expire_silence("s-1", 2000).unwrap());
    assert!(!history.expire_silence("s-1", 2500).unwrap());
    assert_eq!(history.silences(2000).unwrap(), vec![]);
    drop(history);
    // Survives a reopen.
    let reopened = AlertHistory::open(dir.path()).unwrap();
    let mut expired = silence.clone();
    expired.ends_at_ms = 2000;
    assert_eq!(reopened.silences(1999).unwrap(), vec![expired]);
    assert!(reopened.delete_silence("s-1").unwrap());
    assert!(!reopened.delete_silence("s-1").unwrap());
}

#[test]
fn close_open_ends_what_a_restart_forgot() {
    let (_dir, history) = open();
    history.record_fired("a", &alert("A", 100), false).unwrap();
    history.record_fired("b", &alert("B", 100), true).unwrap();
    history.record_fired("c", &alert("C", 100), false).unwrap();
    history.record_resolved("c", 150).unwrap();
    assert_eq!(history.close_open(200).unwrap(), 2);
    let rows = history.list(&HistoryFilter::default()).unwrap();
    let ends: Vec<(&str, HistoryState, Option<i64>)> = rows
        .iter()
        .map(|r| (r.fingerprint.as_str(), r.state, r.ends_at_ms))
        .collect();
    assert_eq!(
        ends,
        vec![
            ("c", HistoryState::Resolved, Some(150)),
            ("b", HistoryState::Suppressed, Some(200)),
            ("a", HistoryState::Resolved, Some(200)),
        ]
    );
}

#[test]
fn history_and_engine_can_be_shared_across_tasks() {
    fn shareable<T: Send + Sync>() {}
    shareable::<AlertHistory>();
    shareable::<crate::engine::AlertEngine>();
}
