//! `[store]`: the message store behind the webhook inbox (SQLite in `data_dir`).

use std::time::Duration;

use serde::Deserialize;

use crate::duration::ConfigDuration;
use crate::problems::Problems;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// How long delivered messages are kept before pruning.
    #[serde(default = "default_retention")]
    pub retention: ConfigDuration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            retention: default_retention(),
        }
    }
}

fn default_retention() -> ConfigDuration {
    ConfigDuration::from_secs(7 * 24 * 3600)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Store {
    pub retention: Duration,
}

impl StoreConfig {
    /// `longest_dedup_window`: dedup looks at stored rows, so pruning them sooner would
    /// let a late redelivery through.
    pub(crate) fn validate(
        &self,
        longest_dedup_window: Option<Duration>,
        problems: &mut Problems,
    ) -> Store {
        let retention = self.retention.get();
        if retention.is_zero() {
            problems.error("store.retention", "must be greater than zero");
        } else if let Some(window) = longest_dedup_window.filter(|w| *w > retention) {
            problems.error(
                "store.retention",
                format!(
                    "must be at least the longest webhook dedup_window ({}s): dedup looks at stored messages",
                    window.as_secs()
                ),
            );
        }
        Store { retention }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::{LoadError, load_str};

    fn load(text: &str) -> Result<crate::ValidatedConfig, Vec<crate::Problem>> {
        match load_str(text, Path::new("test.toml"), &|_: &str| None) {
            Ok(loaded) => Ok(loaded.config),
            Err(LoadError::Invalid { problems, .. }) => Err(problems),
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn retention_defaults_to_seven_days() {
        let config = load("").unwrap();
        assert_eq!(config.store.retention.as_secs(), 7 * 24 * 3600);
        let config = load("[store]\nretention = \"36h\"\n").unwrap();
        assert_eq!(config.store.retention.as_secs(), 36 * 3600);
    }

    #[test]
    fn zero_retention_is_refused_with_its_line() {
        let problems = load("\n[store]\nretention = \"0s\"\n").unwrap_err();
        assert_eq!(problems[0].path, "store.retention");
        assert_eq!(problems[0].line, Some(3));
    }

    #[test]
    fn retention_shorter_than_a_dedup_window_is_refused() {
        let store = super::StoreConfig {
            retention: crate::duration::ConfigDuration::from_secs(3600),
        };
        let mut problems = crate::problems::Problems::default();
        store.validate(
            Some(std::time::Duration::from_secs(24 * 3600)),
            &mut problems,
        );
        assert_eq!(problems.errors.len(), 1);
        assert!(problems.errors[0].message.contains("86400s"));
        let mut problems = crate::problems::Problems::default();
        store.validate(Some(std::time::Duration::from_secs(60)), &mut problems);
        assert!(problems.errors.is_empty());
    }
}
