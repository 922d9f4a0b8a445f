//! The durable queue behind the webhook inbox and the publish API: the `Store` (SQLite
//! embedded; Postgres later), the retry schedule, the per-destination circuit breaker,
//! and the dispatcher that claims due messages and delivers them to the app.
//!
//! Pure logic (`retry`, `breaker`) has no I/O and takes `now` and randomness as
//! arguments, so it is tested exactly.

pub mod breaker;
pub mod dispatcher;
pub mod retry;
pub mod store;
pub mod upkeep;
