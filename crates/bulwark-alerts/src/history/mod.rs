//! The alert history and the silences, in their own SQLite file `<data_dir>/alerts.db`
//! (apart from the queue's store, so that alert bookkeeping never competes with message
//! delivery for the writer). Calls block on SQLite: run them off the async runtime.
//!
//! One row per occurrence of an alert (fingerprint + start). Its state is `firing` once
//! any notifier could have been told, `suppressed` while it was muted throughout, and
//! `resolved` when a firing occurrence ended (a suppressed one keeps `suppressed` and
//! gets its end time).

mod store;

pub use store::{
    AlertHistory, DB_FILE, HistoryError, HistoryFilter, HistoryRow, HistoryState, MAX_LIST_LIMIT,
};

#[cfg(test)]
mod tests;
