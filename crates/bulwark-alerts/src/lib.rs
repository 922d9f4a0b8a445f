//! The alert engine: rules evaluated on a tick against current state, alerts posted by
//! the app, silences and maintenance windows, grouping and routing into Alertmanager's
//! version-4 payloads for the notifiers, and the alert history.
//!
//! Everything but [`history`] is pure: time comes in as `now_ms` (Unix milliseconds).

pub mod config_check;
pub mod engine;
pub mod exposition;
mod facts_from_metrics;
pub mod history;
pub mod matcher;
pub mod model;
mod payload;
pub mod post;
#[cfg(test)]
mod proptests;
pub mod rfc3339;
pub mod routing;
pub mod rules;
mod samples;
pub mod silence;

pub use config_check::ConfigProblem;
pub use engine::{
    ActiveAlert, AlertChange, AlertEngine, AlertSource, ChangeKind, EngineConfig, Outgoing,
    TickOutput,
};
pub use exposition::{ExpositionError, LineProblem, Sample, parse_exposition};
pub use history::{AlertHistory, HistoryError, HistoryFilter, HistoryRow, HistoryState};
pub use matcher::{MatchOp, Matcher, MatcherParseError};
pub use model::{Alert, AlertType, Severity, fingerprint};
pub use post::{FieldProblem, PostError, parse_posted_alerts};
pub use routing::{NotifierSpec, Route, RoutingConfig, SeverityMatch};
pub use rules::{
    BuiltinRule, CompareOp, DeadLetterCount, DeliveryFacts, DownMonitor, Facts, FailingCheck,
    RulesConfig, ThresholdFunction, ThresholdRule, is_alerting_event, is_notification_destination,
};
pub use silence::{MaintenanceWindow, Silence, SilenceError};
