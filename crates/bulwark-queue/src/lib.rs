//! The durable queue behind the webhook inbox and the publish API: the `Store` (SQLite
//! embedded; Postgres later), the retry schedule, and the per-destination circuit
//! breaker. The dispatcher that ties them together arrives with the inbox.
//!
//! Pure logic (`retry`, `breaker`) has no I/O and takes `now` and randomness as
//! arguments, so it is tested exactly.

pub mod breaker;
pub mod retry;
pub mod store;
