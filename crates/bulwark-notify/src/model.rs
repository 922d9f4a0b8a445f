//! The notification as the alert engine hands it over: Alertmanager's version-4 webhook
//! payload (<https://prometheus.io/docs/alerting/latest/configuration/#webhook_config>),
//! field for field. Serialising a [`Notification`] with serde gives that JSON exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `firing` or `resolved`, for a whole group and for each alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// One group of alerts sent to one notifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Always `"4"`.
    pub version: String,
    /// Identifies the group; stable across notifications of the same group.
    pub group_key: String,
    /// How many alerts were left out to keep the payload bounded.
    pub truncated_alerts: u64,
    /// `firing` if at least one alert fires, else `resolved`.
    pub status: AlertStatus,
    /// The notifier's name.
    pub receiver: String,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    /// Where a person can see the alerts (the status page or the admin API).
    #[serde(rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<NotifiedAlert>,
}

/// One alert of a [`Notification`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifiedAlert {
    pub status: AlertStatus,
    /// Always has `alertname`, `severity` (critical, high, medium, low, info) and `type`
    /// (security, system, api, performance, business).
    pub labels: BTreeMap<String, String>,
    /// `summary` and `description` by convention.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339, UTC.
    pub starts_at: String,
    /// RFC 3339, UTC; `"0001-01-01T00:00:00Z"` while firing, as Alertmanager sends.
    pub ends_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// The alert's fingerprint: 16 lowercase hex digits derived from its labels.
    pub fingerprint: String,
}

/// Severities from the most to the least urgent, as the alert rules name them.
pub const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

fn severity_rank(severity: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(SEVERITIES.len())
}

impl Notification {
    /// How many of the alerts fire.
    pub fn firing_count(&self) -> usize {
        self.alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Firing)
            .count()
    }

    /// The alert name the group is about: the common (or group) `alertname` label, else
    /// the first alert's, else `"alert"`.
    pub fn alert_name(&self) -> &str {
        self.common_labels
            .get("alertname")
            .or_else(|| self.group_labels.get("alertname"))
            .or_else(|| self.alerts.iter().find_map(|a| a.labels.get("alertname")))
            .map_or("alert", String::as_str)
    }

    /// The group's severity: the common `severity` label, else the most urgent severity
    /// among the firing alerts (among all of them once resolved), else `"unknown"`.
    pub fn severity(&self) -> &str {
        if let Some(severity) = self.common_labels.get("severity") {
            return severity;
        }
        let considered = |a: &&NotifiedAlert| {
            self.status == AlertStatus::Resolved || a.status == AlertStatus::Firing
        };
        self.alerts
            .iter()
            .filter(considered)
            .filter_map(|a| a.labels.get("severity"))
            .min_by_key(|s| severity_rank(s))
            .map_or("unknown", String::as_str)
    }

    /// The group's one-line summary: the common `summary` annotation, else the first
    /// alert's that has one.
    pub fn summary(&self) -> Option<&str> {
        self.common_annotations
            .get("summary")
            .or_else(|| {
                self.alerts
                    .iter()
                    .find_map(|a| a.annotations.get("summary"))
            })
            .map(String::as_str)
    }
}
