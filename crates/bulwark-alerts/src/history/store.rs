//! The SQLite store behind [`AlertHistory`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use crate::matcher::Matcher;
use crate::model::{ALERTNAME, Alert, SEVERITY, TYPE};
use crate::silence::Silence;

pub const DB_FILE: &str = "alerts.db";
/// `list` returns at most this many rows whatever the filter asks.
pub const MAX_LIST_LIMIT: usize = 1000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alert_history (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    alertname TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    severity TEXT NOT NULL,
    type TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('firing', 'resolved', 'suppressed')),
    starts_at_ms INTEGER NOT NULL,
    ends_at_ms INTEGER,
    last_notified_ms INTEGER
);
CREATE INDEX IF NOT EXISTS alert_history_fingerprint ON alert_history (fingerprint, ends_at_ms);
CREATE INDEX IF NOT EXISTS alert_history_starts ON alert_history (starts_at_ms);
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at_ms INTEGER NOT NULL,
    ends_at_ms INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
";

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot open the alert history at {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("alert history query failed")]
    Sqlite(#[from] rusqlite::Error),
    #[error("alert history row has unreadable JSON")]
    Json(#[from] serde_json::Error),
    #[error("alert history row has unknown state")]
    UnknownState,
    #[error("a silence with id {id} already exists")]
    DuplicateSilence { id: String },
    #[error("alert history lock was poisoned by a panic")]
    Poisoned,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryState {
    Firing,
    Resolved,
    Suppressed,
}

impl HistoryState {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryState::Firing => "firing",
            HistoryState::Resolved => "resolved",
            HistoryState::Suppressed => "suppressed",
        }
    }

    pub fn parse(text: &str) -> Option<HistoryState> {
        match text {
            "firing" => Some(HistoryState::Firing),
            "resolved" => Some(HistoryState::Resolved),
            "suppressed" => Some(HistoryState::Suppressed),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    pub id: i64,
    pub fingerprint: String,
    pub alertname: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub severity: String,
    #[serde(rename = "type")]
    pub alert_type: String,
    pub state: HistoryState,
    pub starts_at_ms: i64,
    pub ends_at_ms: Option<i64>,
    pub last_notified_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryFilter {
    pub state: Option<HistoryState>,
    /// Only occurrences still active at or after this time.
    pub since_ms: Option<i64>,
    /// Capped at [`MAX_LIST_LIMIT`].
    pub limit: usize,
}

impl Default for HistoryFilter {
    fn default() -> Self {
        HistoryFilter {
            state: None,
            since_ms: None,
            limit: 100,
        }
    }
}

/// Shared by the engine task and the admin API; each call takes the connection briefly.
#[derive(Debug)]
pub struct AlertHistory {
    conn: Mutex<Connection>,
}

impl AlertHistory {
    /// Opens (creating if needed) `<data_dir>/alerts.db`.
    pub fn open(data_dir: &Path) -> Result<AlertHistory, HistoryError> {
        let path = data_dir.join(DB_FILE);
        let conn = Connection::open(&path)
            .and_then(|conn| {
                conn.busy_timeout(Duration::from_secs(5))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn.execute_batch(SCHEMA)?;
                Ok(conn)
            })
            .map_err(|source| HistoryError::Open { path, source })?;
        Ok(AlertHistory {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, HistoryError> {
        self.conn.lock().map_err(|_| HistoryError::Poisoned)
    }

    /// Records that an alert is active: a new row for a new occurrence, or the state of
    /// the open one updated. `suppressed` never downgrades an occurrence once `firing`.
    pub fn record_fired(
        &self,
        fingerprint: &str,
        alert: &Alert,
        suppressed: bool,
    ) -> Result<(), HistoryError> {
        let state = if suppressed {
            HistoryState::Suppressed
        } else {
            HistoryState::Firing
        };
        let conn = self.conn()?;
        let open: Option<(i64, String)> = conn
            .query_row(
                "SELECT id, state FROM alert_history WHERE fingerprint = ?1 AND ends_at_ms IS NULL
                 ORDER BY id DESC LIMIT 1",
                params![fingerprint],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        match open {
            Some((id, existing)) => {
                let keep = existing == HistoryState::Firing.as_str();
                let new_state = if keep { HistoryState::Firing } else { state };
                conn.execute(
                    "UPDATE alert_history SET state = ?2, annotations = ?3 WHERE id = ?1",
                    params![
                        id,
                        new_state.as_str(),
                        serde_json::to_string(&alert.annotations)?
                    ],
                )?;
            }
            None => {
                conn.execute(
                    "INSERT INTO alert_history
                     (fingerprint, alertname, labels, annotations, severity, type, state, starts_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        fingerprint,
                        label(alert, ALERTNAME),
                        serde_json::to_string(&alert.labels)?,
                        serde_json::to_string(&alert.annotations)?,
                        label(alert, SEVERITY),
                        label(alert, TYPE),
                        state.as_str(),
                        alert.starts_at_ms,
                    ],
                )?;
            }
        }
        Ok(())
    }

    /// Ends the open occurrence of `fingerprint`. False if none was open.
    pub fn record_resolved(
        &self,
        fingerprint: &str,
        ends_at_ms: i64,
    ) -> Result<bool, HistoryError> {
        let changed = self.conn()?.execute(
            "UPDATE alert_history
             SET ends_at_ms = ?2, state = CASE state WHEN 'suppressed' THEN 'suppressed' ELSE 'resolved' END
             WHERE fingerprint = ?1 AND ends_at_ms IS NULL",
            params![fingerprint, ends_at_ms],
        )?;
        Ok(changed > 0)
    }

    /// Ends every occurrence still open, at start-up: the engine's memory of them is gone
    /// and they will be recorded afresh if they still fire. Returns how many were closed.
    pub fn close_open(&self, ends_at_ms: i64) -> Result<usize, HistoryError> {
        let changed = self.conn()?.execute(
            "UPDATE alert_history
             SET ends_at_ms = ?1, state = CASE state WHEN 'suppressed' THEN 'suppressed' ELSE 'resolved' END
             WHERE ends_at_ms IS NULL",
            params![ends_at_ms],
        )?;
        Ok(changed)
    }

    /// Notes when the newest occurrence of each fingerprint was last sent to a notifier.
    pub fn record_notified(&self, fingerprints: &[String], at_ms: i64) -> Result<(), HistoryError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        {
            let mut statement = tx.prepare(
                "UPDATE alert_history SET last_notified_ms = ?2
                 WHERE id = (SELECT MAX(id) FROM alert_history WHERE fingerprint = ?1)",
            )?;
            for fingerprint in fingerprints {
                statement.execute(params![fingerprint, at_ms])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Newest first.
    pub fn list(&self, filter: &HistoryFilter) -> Result<Vec<HistoryRow>, HistoryError> {
        let conn = self.conn()?;
        let mut statement = conn.prepare(
            "SELECT id, fingerprint, alertname, labels, annotations, severity, type, state,
                    starts_at_ms, ends_at_ms, last_notified_ms
             FROM alert_history
             WHERE (?1 IS NULL OR state = ?1)
               AND (?2 IS NULL OR ends_at_ms IS NULL OR ends_at_ms >= ?2)
             ORDER BY starts_at_ms DESC, id DESC
             LIMIT ?3",
        )?;
        let limit = filter.limit.min(MAX_LIST_LIMIT) as i64;
        let state = filter.state.map(HistoryState::as_str);
        let rows = statement.query_map(params![state, filter.since_ms, limit], read_raw_row)?;
        let mut out = Vec::new();
        for raw in rows {
            out.push(raw?.into_row()?);
        }
        Ok(out)
    }

    pub fn add_silence(&self, silence: &Silence, created_at_ms: i64) -> Result<(), HistoryError> {
        let result = self.conn()?.execute(
            "INSERT INTO silences (id, matchers, starts_at_ms, ends_at_ms, created_by, comment, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                silence.id,
                serde_json::to_string(&silence.matchers)?,
                silence.starts_at_ms,
                silence.ends_at_ms,
                silence.created_by,
                silence.comment,
                created_at_ms,
            ],
        );
        match result {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(HistoryError::DuplicateSilence {
                    id: silence.id.clone(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Silences in force or yet to start at `now_ms`, in start order.
    pub fn silences(&self, now_ms: i64) -> Result<Vec<Silence>, HistoryError> {
        let conn = self.conn()?;
        let mut statement = conn.prepare(
            "SELECT id, matchers, starts_at_ms, ends_at_ms, created_by, comment FROM silences
             WHERE ends_at_ms > ?1 ORDER BY starts_at_ms, id",
        )?;
        let rows = statement.query_map(params![now_ms], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, matchers, starts_at_ms, ends_at_ms, created_by, comment) = row?;
            let matchers: Vec<Matcher> = serde_json::from_str(&matchers)?;
            out.push(Silence {
                id,
                matchers,
                starts_at_ms,
                ends_at_ms,
                created_by,
                comment,
            });
        }
        Ok(out)
    }

    /// Ends a silence at `now_ms` (kept for the record). False if none was in force or pending.
    pub fn expire_silence(&self, id: &str, now_ms: i64) -> Result<bool, HistoryError> {
        let changed = self.conn()?.execute(
            "UPDATE silences SET ends_at_ms = ?2 WHERE id = ?1 AND ends_at_ms > ?2",
            params![id, now_ms],
        )?;
        Ok(changed > 0)
    }

    pub fn delete_silence(&self, id: &str) -> Result<bool, HistoryError> {
        Ok(self
            .conn()?
            .execute("DELETE FROM silences WHERE id = ?1", params![id])?
            > 0)
    }

    /// Deletes occurrences and silences that ended before `before_ms` (retention).
    pub fn prune(&self, before_ms: i64) -> Result<usize, HistoryError> {
        let conn = self.conn()?;
        let rows = conn.execute(
            "DELETE FROM alert_history WHERE ends_at_ms < ?1",
            params![before_ms],
        )?;
        let silences = conn.execute(
            "DELETE FROM silences WHERE ends_at_ms < ?1",
            params![before_ms],
        )?;
        Ok(rows + silences)
    }
}

fn label<'a>(alert: &'a Alert, name: &str) -> &'a str {
    alert.labels.get(name).map_or("", String::as_str)
}

/// A row as stored, before its JSON columns are read.
struct RawRow {
    id: i64,
    fingerprint: String,
    alertname: String,
    labels: String,
    annotations: String,
    severity: String,
    alert_type: String,
    state: String,
    starts_at_ms: i64,
    ends_at_ms: Option<i64>,
    last_notified_ms: Option<i64>,
}

fn read_raw_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: row.get(0)?,
        fingerprint: row.get(1)?,
        alertname: row.get(2)?,
        labels: row.get(3)?,
        annotations: row.get(4)?,
        severity: row.get(5)?,
        alert_type: row.get(6)?,
        state: row.get(7)?,
        starts_at_ms: row.get(8)?,
        ends_at_ms: row.get(9)?,
        last_notified_ms: row.get(10)?,
    })
}

impl RawRow {
    fn into_row(self) -> Result<HistoryRow, HistoryError> {
        Ok(HistoryRow {
            id: self.id,
            fingerprint: self.fingerprint,
            alertname: self.alertname,
            labels: serde_json::from_str(&self.labels)?,
            annotations: serde_json::from_str(&self.annotations)?,
            severity: self.severity,
            alert_type: self.alert_type,
            state: HistoryState::parse(&self.state).ok_or(HistoryError::UnknownState)?,
            starts_at_ms: self.starts_at_ms,
            ends_at_ms: self.ends_at_ms,
            last_notified_ms: self.last_notified_ms,
        })
    }
}
