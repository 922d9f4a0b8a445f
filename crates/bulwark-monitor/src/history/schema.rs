//! The history database's schema.

use rusqlite::Connection;

const SCHEMA_VERSION: i64 = 1;

pub(super) fn prepare(connection: &Connection, on_disk: bool) -> rusqlite::Result<()> {
    if on_disk {
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL, not FULL: these are statistics; a power cut may lose the last flush
        // (seconds of checks), never corrupt the file, and one fsync per flush is saved.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
    }
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    connection.execute_batch(
        "BEGIN;
         CREATE TABLE IF NOT EXISTS buckets (
             monitor TEXT NOT NULL,
             resolution INTEGER NOT NULL, -- 0 minute, 1 hour, 2 day
             start_ms INTEGER NOT NULL,
             checks INTEGER NOT NULL,
             successes INTEGER NOT NULL,
             response_ms_sum INTEGER NOT NULL,
             response_ms_min INTEGER,
             response_ms_max INTEGER,
             PRIMARY KEY (monitor, resolution, start_ms)
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS buckets_by_age ON buckets (resolution, start_ms);
         CREATE TABLE IF NOT EXISTS incidents (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             title TEXT NOT NULL,
             impact TEXT NOT NULL,
             status TEXT NOT NULL,
             monitor TEXT,
             opened_ms INTEGER NOT NULL,
             resolved_ms INTEGER
         );
         CREATE INDEX IF NOT EXISTS incidents_by_monitor ON incidents (monitor, status);
         CREATE TABLE IF NOT EXISTS incident_updates (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             incident_id INTEGER NOT NULL REFERENCES incidents (id),
             at_ms INTEGER NOT NULL,
             status TEXT NOT NULL,
             message TEXT NOT NULL
         );
         CREATE INDEX IF NOT EXISTS updates_by_incident ON incident_updates (incident_id, at_ms);
         PRAGMA user_version = 1;
         COMMIT;",
    )
}
