//! Uptime monitors, the pure part: the condition language that decides whether one
//! observation of a monitored service (status, response time, body, certificate,
//! connection) counts as up.
//!
//! No I/O here: the probes that produce an [`Observation`] live with the runtime. See
//! [`condition`] for the syntax and the semantics, which follow Gatus.

pub mod condition;

pub use condition::{Condition, ConditionError, Observation, Outcome};
