//! Uptime monitors: the condition language (Gatus's syntax, pure), the probes (HTTP,
//! TCP, PostgreSQL, Redis), hysteresis, results rolled up into minute/hour/day buckets,
//! the SQLite history with incidents, and the runner that ties them together.

pub mod aggregate;
pub mod condition;
pub mod history;
pub mod probe;
pub mod runner;
pub mod spec;
pub mod state;

pub use aggregate::{Bucket, DayBucket, MinuteBucket, Resolution};
pub use condition::{Condition, ConditionError, Observation, Outcome};
pub use history::{HistoryError, HistoryStore, Impact, Incident, IncidentStatus, IncidentUpdate};
pub use probe::{HttpClientError, HttpClients, ProbeError, ProbeResult};
pub use runner::{MonitorStatus, Monitors};
pub use spec::{MonitorSpec, ProbeSpec};
pub use state::{Hysteresis, MonitorState, Transition};
