//! Incidents: opened by the runner when a monitor goes down (or by an operator), updated
//! until resolved. Maintenance windows come from the config and are not stored here.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{HistoryError, HistoryStore};

/// How bad an incident is, in Atlassian Statuspage's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "none" => Impact::None,
            "minor" => Impact::Minor,
            "major" => Impact::Major,
            "critical" => Impact::Critical,
            _ => return None,
        })
    }
}

/// Where an incident stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Identified => "identified",
            IncidentStatus::Monitoring => "monitoring",
            IncidentStatus::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "investigating" => IncidentStatus::Investigating,
            "identified" => IncidentStatus::Identified,
            "monitoring" => IncidentStatus::Monitoring,
            "resolved" => IncidentStatus::Resolved,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IncidentUpdate {
    pub at_ms: i64,
    pub status: IncidentStatus,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub id: i64,
    pub title: String,
    pub impact: Impact,
    pub status: IncidentStatus,
    /// The monitor that opened it, when a monitor did.
    pub monitor: Option<String>,
    pub opened_ms: i64,
    pub resolved_ms: Option<i64>,
    /// Oldest first; the first is the opening message.
    pub updates: Vec<IncidentUpdate>,
}

impl HistoryStore {
    /// Opens an incident in status `investigating`, with `message` as its first update.
    pub fn open_incident(
        &self,
        title: &str,
        impact: Impact,
        monitor: Option<&str>,
        message: &str,
        at_ms: i64,
    ) -> Result<Incident, HistoryError> {
        let id = {
            let mut connection = self.lock();
            let transaction = connection.transaction()?;
            let status = IncidentStatus::Investigating.as_str();
            transaction.execute(
                "INSERT INTO incidents (title, impact, status, monitor, opened_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![title, impact.as_str(), status, monitor, at_ms],
            )?;
            let id = transaction.last_insert_rowid();
            transaction.execute(
                "INSERT INTO incident_updates (incident_id, at_ms, status, message)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, at_ms, status, message],
            )?;
            transaction.commit()?;
            id
        };
        self.incident(id)
    }

    /// Adds an update and moves the incident to its status. `resolved` sets
    /// `resolved_ms`; any other status clears it (a reopened incident).
    pub fn add_update(
        &self,
        id: i64,
        status: IncidentStatus,
        message: &str,
        at_ms: i64,
    ) -> Result<Incident, HistoryError> {
        {
            let mut connection = self.lock();
            let transaction = connection.transaction()?;
            let resolved_ms = (status == IncidentStatus::Resolved).then_some(at_ms);
            let changed = transaction.execute(
                "UPDATE incidents SET status = ?2, resolved_ms = ?3 WHERE id = ?1",
                params![id, status.as_str(), resolved_ms],
            )?;
            if changed == 0 {
                return Err(HistoryError::UnknownIncident(id));
            }
            transaction.execute(
                "INSERT INTO incident_updates (incident_id, at_ms, status, message)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, at_ms, status.as_str(), message],
            )?;
            transaction.commit()?;
        }
        self.incident(id)
    }

    /// One incident with its updates.
    pub fn incident(&self, id: i64) -> Result<Incident, HistoryError> {
        let connection = self.lock();
        let incident = connection
            .query_row(
                "SELECT id, title, impact, status, monitor, opened_ms, resolved_ms
                 FROM incidents WHERE id = ?1",
                params![id],
                incident_row,
            )
            .optional()?
            .ok_or(HistoryError::UnknownIncident(id))?;
        with_updates(&connection, incident?)
    }

    /// Incidents active at any time since `since_ms` (unresolved, or resolved at or
    /// after it), newest first.
    pub fn incidents(&self, since_ms: i64) -> Result<Vec<Incident>, HistoryError> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT id, title, impact, status, monitor, opened_ms, resolved_ms
             FROM incidents WHERE resolved_ms IS NULL OR resolved_ms >= ?1
             ORDER BY opened_ms DESC, id DESC",
        )?;
        let rows: Vec<_> = query
            .query_map(params![since_ms], incident_row)?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|incident| with_updates(&connection, incident?))
            .collect()
    }

    /// The newest incident of this monitor that is unresolved or was resolved at or after
    /// `resolved_since_ms` (a flapping monitor reopens it rather than opening another).
    pub fn recent_incident_for_monitor(
        &self,
        name: &str,
        resolved_since_ms: i64,
    ) -> Result<Option<Incident>, HistoryError> {
        let id: Option<i64> = {
            let connection = self.lock();
            connection
                .query_row(
                    "SELECT id FROM incidents WHERE monitor = ?1
                     AND (resolved_ms IS NULL OR resolved_ms >= ?2)
                     ORDER BY opened_ms DESC, id DESC LIMIT 1",
                    params![name, resolved_since_ms],
                    |row| row.get(0),
                )
                .optional()?
        };
        id.map(|id| self.incident(id)).transpose()
    }

    /// The newest unresolved incident opened for this monitor.
    pub fn open_incident_for_monitor(&self, name: &str) -> Result<Option<Incident>, HistoryError> {
        let id: Option<i64> = {
            let connection = self.lock();
            connection
                .query_row(
                    "SELECT id FROM incidents WHERE monitor = ?1 AND status != 'resolved'
                     ORDER BY opened_ms DESC, id DESC LIMIT 1",
                    params![name],
                    |row| row.get(0),
                )
                .optional()?
        };
        id.map(|id| self.incident(id)).transpose()
    }
}

/// A row of `incidents`, without updates; the outer result is SQLite's, the inner one
/// says whether the stored words were ours.
fn incident_row(row: &Row<'_>) -> rusqlite::Result<Result<Incident, HistoryError>> {
    let impact: String = row.get(2)?;
    let status: String = row.get(3)?;
    let (Some(impact), Some(status)) = (Impact::parse(&impact), IncidentStatus::parse(&status))
    else {
        return Ok(Err(HistoryError::Corrupt {
            column: "incidents.impact/status",
        }));
    };
    Ok(Ok(Incident {
        id: row.get(0)?,
        title: row.get(1)?,
        impact,
        status,
        monitor: row.get(4)?,
        opened_ms: row.get(5)?,
        resolved_ms: row.get(6)?,
        updates: Vec::new(),
    }))
}

fn with_updates(
    connection: &rusqlite::Connection,
    mut incident: Incident,
) -> Result<Incident, HistoryError> {
    let mut query = connection.prepare_cached(
        "SELECT at_ms, status, message FROM incident_updates
         WHERE incident_id = ?1 ORDER BY at_ms, id",
    )?;
    let rows = query.query_map(params![incident.id], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (at_ms, status, message) = row?;
        let status = IncidentStatus::parse(&status).ok_or(HistoryError::Corrupt {
            column: "incident_updates.status",
        })?;
        incident.updates.push(IncidentUpdate {
            at_ms,
            status,
            message,
        });
    }
    Ok(incident)
}
