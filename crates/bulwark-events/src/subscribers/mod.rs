//! The first subscribers: a counter per event name, and the JSON-lines audit log.

mod audit;
mod metrics;

pub use audit::{AuditError, AuditLog};
pub use metrics::{EVENTS_METRIC, SECURITY_EVENTS_METRIC, run_metrics};
