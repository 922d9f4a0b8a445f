//! Runs the `Store` conformance suite (`tests/conformance/`) against each backend: one
//! named test per behaviour, e.g. `sqlite::replay_resets_attempts_and_keeps_the_id`.
//!
//! Plugging in another backend (Postgres) takes one more [`conformance::Backend`] impl
//! whose `open` gives a fresh, empty database per backend value and reopens the same one
//! after a drop (calling `release_all` there, as bulwark does at start-up), and one more
//! module here:
//!
//! ```ignore
//! mod postgres {
//!     store_conformance_tests!(crate::PostgresBackend::fresh_database().await);
//! }
//! ```
//!
//! The list of tests lives with the suite (`store_conformance_tests!` in
//! `conformance/mod.rs`), so every backend runs all of them.

#[macro_use]
mod conformance;

mod sqlite {
    store_conformance_tests!(crate::conformance::sqlite::SqliteBackend::in_temp_dir());
}
