//! Logs and the audit log.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line, for machines.
    #[default]
    Json,
    /// Human-readable lines, for people at a terminal.
    Pretty,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter such as `info` or `info,bulwark_proxy=debug`.
    #[serde(default = "default_level")]
    pub level: String,
    /// One line per proxied request.
    #[serde(default = "yes")]
    pub access_log: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            level: default_level(),
            access_log: true,
        }
    }
}

fn default_level() -> String {
    "info".into()
}
fn yes() -> bool {
    true
}

/// The audit log: every bus event as one JSON line, appended to a file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Default: `audit.jsonl` in the data folder.
    pub path: Option<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: None,
        }
    }
}

impl AuditConfig {
    pub(crate) fn resolve(&self, data_dir: &Path) -> Option<PathBuf> {
        self.enabled.then(|| {
            self.path
                .as_ref()
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("audit.jsonl"))
        })
    }
}
