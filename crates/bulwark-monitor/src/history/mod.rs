//! The monitors' history in SQLite (`<data_dir>/monitors.db`): rolled-up check buckets
//! and incidents.
//!
//! Calls block (SQLite is synchronous): call them from `spawn_blocking` or a thread. The
//! runner writes buckets in batches, one transaction per flush, never one write per
//! check. The connection is shared behind a mutex: writes are one batch every few
//! seconds, and reads are status-page queries, so contention stays negligible.

mod buckets;
mod incidents;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

pub use incidents::{Impact, Incident, IncidentStatus, IncidentUpdate};

/// The database file's name inside the data directory.
pub const FILE_NAME: &str = "monitors.db";

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot open the monitor history {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the data directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("monitor history query failed")]
    Sql(#[from] rusqlite::Error),
    #[error("no incident {0}")]
    UnknownIncident(i64),
    #[error("the monitor history holds an unreadable value in {column}")]
    Corrupt { column: &'static str },
}

/// The history store. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct HistoryStore {
    connection: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for HistoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryStore").finish_non_exhaustive()
    }
}

impl HistoryStore {
    /// Opens (creating it, and the directory, if needed) `<data_dir>/monitors.db`.
    pub fn open(data_dir: &Path) -> Result<Self, HistoryError> {
        std::fs::create_dir_all(data_dir).map_err(|source| HistoryError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(FILE_NAME);
        let connection = Connection::open(&path).map_err(|source| HistoryError::Open {
            path: path.clone(),
            source,
        })?;
        schema::prepare(&connection, true).map_err(|source| HistoryError::Open { path, source })?;
        Ok(Self::from_connection(connection))
    }

    /// A store that lives in memory only (tests, and a run without a data directory).
    pub fn open_in_memory() -> Result<Self, HistoryError> {
        let connection = Connection::open_in_memory()?;
        schema::prepare(&connection, false)?;
        Ok(Self::from_connection(connection))
    }

    fn from_connection(connection: Connection) -> Self {
        Self {
            connection: Arc::new(Mutex::new(connection)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions
        // roll back on drop), so a poisoned lock is still usable.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
