//! Silences and maintenance windows: both mute matching alerts for a time. A muted alert
//! sends nothing but is still tracked (and recorded in history as suppressed); when the
//! mute ends while the alert still fires, it is notified like a new one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::matcher::{Matcher, all_match};

/// At most this many matchers per silence or window.
pub const MAX_MATCHERS: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub created_by: String,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    #[error("silence id is empty")]
    EmptyId,
    #[error("silence {id} already exists")]
    DuplicateId { id: String },
    #[error("silence has no matchers")]
    NoMatchers,
    #[error("silence has more than {MAX_MATCHERS} matchers")]
    TooManyMatchers,
    #[error("silence matchers would match every alert; add one that requires a label value")]
    MatchesEverything,
    #[error("silence ends at or before it starts")]
    EndsBeforeStart,
    #[error("silence has already ended")]
    AlreadyEnded,
    #[error("more than {max} silences")]
    TooMany { max: usize },
    #[error("no silence with id {id}")]
    NotFound { id: String },
}

impl Silence {
    /// Refuses silences that would mute everything or never apply.
    pub fn validate(&self, now_ms: i64) -> Result<(), SilenceError> {
        if self.id.trim().is_empty() {
            return Err(SilenceError::EmptyId);
        }
        if self.matchers.is_empty() {
            return Err(SilenceError::NoMatchers);
        }
        if self.matchers.len() > MAX_MATCHERS {
            return Err(SilenceError::TooManyMatchers);
        }
        if self.matchers.iter().all(Matcher::matches_empty) {
            return Err(SilenceError::MatchesEverything);
        }
        if self.ends_at_ms <= self.starts_at_ms {
            return Err(SilenceError::EndsBeforeStart);
        }
        if self.ends_at_ms <= now_ms {
            return Err(SilenceError::AlreadyEnded);
        }
        Ok(())
    }

    /// In force at `now_ms`: started and not yet ended.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.starts_at_ms <= now_ms && now_ms < self.ends_at_ms
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.ends_at_ms <= now_ms
    }

    pub fn mutes(&self, labels: &BTreeMap<String, String>, now_ms: i64) -> bool {
        self.is_active(now_ms) && all_match(&self.matchers, labels)
    }
}

/// Planned work (also shown on the status page). Unlike a silence, an empty matcher list
/// is allowed and mutes every alert: maintenance of the whole system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub name: String,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub matchers: Vec<Matcher>,
}

impl MaintenanceWindow {
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.starts_at_ms <= now_ms && now_ms < self.ends_at_ms
    }

    pub fn mutes(&self, labels: &BTreeMap<String, String>, now_ms: i64) -> bool {
        self.is_active(now_ms) && all_match(&self.matchers, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn silence(matchers: Vec<Matcher>) -> Silence {
        Silence {
            id: "s1".into(),
            matchers,
            starts_at_ms: 1000,
            ends_at_ms: 2000,
            created_by: "ops".into(),
            comment: "deploy".into(),
        }
    }

    #[test]
    fn active_only_between_start_and_end() {
        let s = silence(vec![Matcher::equal("alertname", "X")]);
        let labels = BTreeMap::from([("alertname".to_owned(), "X".to_owned())]);
        assert!(!s.mutes(&labels, 999));
        assert!(s.mutes(&labels, 1000));
        assert!(s.mutes(&labels, 1999));
        assert!(!s.mutes(&labels, 2000));
        assert!(s.is_expired(2000));
        let other = BTreeMap::from([("alertname".to_owned(), "Y".to_owned())]);
        assert!(!s.mutes(&other, 1500));
    }

    #[test]
    fn validation_refuses_useless_silences() {
        assert_eq!(silence(vec![]).validate(0), Err(SilenceError::NoMatchers));
        assert_eq!(
            silence(vec![Matcher::equal("a", ""), Matcher::not_equal("b", "x")]).validate(0),
            Err(SilenceError::MatchesEverything)
        );
        let mut backwards = silence(vec![Matcher::equal("a", "1")]);
        backwards.ends_at_ms = 1000;
        assert_eq!(backwards.validate(0), Err(SilenceError::EndsBeforeStart));
        assert_eq!(
            silence(vec![Matcher::equal("a", "1")]).validate(2000),
            Err(SilenceError::AlreadyEnded)
        );
        assert_eq!(
            silence(vec![Matcher::equal("a", "1")]).validate(1500),
            Ok(())
        );
    }

    #[test]
    fn empty_maintenance_matchers_mute_everything() {
        let window = MaintenanceWindow {
            name: "db upgrade".into(),
            starts_at_ms: 0,
            ends_at_ms: 10,
            matchers: vec![],
        };
        assert!(window.mutes(&BTreeMap::new(), 5));
        assert!(!window.mutes(&BTreeMap::new(), 10));
    }
}
