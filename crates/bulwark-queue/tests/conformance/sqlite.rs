//! The embedded SQLite store as a conformance [`Backend`]: one temporary data folder per
//! backend value; a reopen is a restart on the same folder.

use std::future::Future;

use bulwark_queue::store::SqliteStore;

use super::Backend;

pub struct SqliteBackend {
    dir: tempfile::TempDir,
}

impl SqliteBackend {
    /// A new, empty data folder (deleted when the backend is dropped).
    pub fn in_temp_dir() -> Self {
        SqliteBackend {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
}

impl Backend for SqliteBackend {
    type Store = SqliteStore;

    /// Opening frees the previous run's leases itself.
    fn open(&self) -> impl Future<Output = SqliteStore> {
        std::future::ready(SqliteStore::open(self.dir.path()).expect("open the SQLite store"))
    }

    fn leases_released_at_open(&self, store: &SqliteStore) -> Option<u64> {
        Some(store.leases_released_at_open())
    }
}
