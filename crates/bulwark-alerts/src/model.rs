//! What an alert is: a label set (always `alertname`, `severity` and `type`), annotations,
//! times, and a fingerprint derived from the labels alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Label names every alert carries.
pub const ALERTNAME: &str = "alertname";
pub const SEVERITY: &str = "severity";
pub const TYPE: &str = "type";

/// How urgent an alert is. Ordered from most to least urgent, so `Critical < High`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The value of the `severity` label.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// Parses a label value, case-insensitively.
    pub fn parse(value: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|s| s.label().eq_ignore_ascii_case(value))
    }

    /// True when `self` is at least as urgent as `minimum`.
    pub fn at_least(self, minimum: Severity) -> bool {
        self <= minimum
    }
}

/// What part of the world an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertType {
    Security,
    System,
    Api,
    Performance,
    Business,
}

impl AlertType {
    pub const ALL: [AlertType; 5] = [
        AlertType::Security,
        AlertType::System,
        AlertType::Api,
        AlertType::Performance,
        AlertType::Business,
    ];

    /// The value of the `type` label.
    pub fn label(self) -> &'static str {
        match self {
            AlertType::Security => "security",
            AlertType::System => "system",
            AlertType::Api => "api",
            AlertType::Performance => "performance",
            AlertType::Business => "business",
        }
    }

    /// Parses a label value, case-insensitively.
    pub fn parse(value: &str) -> Option<AlertType> {
        AlertType::ALL
            .into_iter()
            .find(|t| t.label().eq_ignore_ascii_case(value))
    }
}

/// One alert. Its identity is its label set ([`Alert::fingerprint`]); annotations and
/// times may change without making it another alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at_ms: i64,
    /// `None` while firing with no announced end.
    pub ends_at_ms: Option<i64>,
    pub generator_url: String,
}

impl Alert {
    /// An alert with the three required labels set and nothing else.
    pub fn new(
        alertname: &str,
        severity: Severity,
        alert_type: AlertType,
        starts_at_ms: i64,
    ) -> Alert {
        let mut labels = BTreeMap::new();
        labels.insert(ALERTNAME.to_owned(), alertname.to_owned());
        labels.insert(SEVERITY.to_owned(), severity.label().to_owned());
        labels.insert(TYPE.to_owned(), alert_type.label().to_owned());
        Alert {
            labels,
            annotations: BTreeMap::new(),
            starts_at_ms,
            ends_at_ms: None,
            generator_url: String::new(),
        }
    }

    /// Adds a label (builder style).
    pub fn with_label(mut self, name: &str, value: &str) -> Alert {
        self.labels.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Adds an annotation (builder style).
    pub fn with_annotation(mut self, name: &str, value: &str) -> Alert {
        self.annotations.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.labels)
    }

    pub fn alertname(&self) -> &str {
        self.labels.get(ALERTNAME).map_or("", String::as_str)
    }

    /// The parsed `severity` label; an unknown value counts as [`Severity::Medium`].
    pub fn severity(&self) -> Severity {
        self.labels
            .get(SEVERITY)
            .and_then(|s| Severity::parse(s))
            .unwrap_or(Severity::Medium)
    }

    /// The parsed `type` label, if it is one of the five.
    pub fn alert_type(&self) -> Option<AlertType> {
        self.labels.get(TYPE).and_then(|t| AlertType::parse(t))
    }
}

/// The fingerprint of a label set: 64-bit FNV-1a over the pairs sorted by name, each name
/// and value followed by the byte 0xFF, printed as 16 lowercase hex digits.
///
/// This is Prometheus's label signature (`model.LabelsToSignature`), hence the same value
/// Alertmanager shows for the same labels. 0xFF never occurs in UTF-8, so no label
/// content can imitate a separator and two different label sets cannot be made to hash
/// the same input bytes.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    const SEPARATOR: u8 = 0xff;
    let mut hash = OFFSET_BASIS;
    let mut feed = |byte: u8| {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    };
    // BTreeMap iterates in byte order of the names, which is Go's string sort order.
    for (name, value) in labels {
        name.bytes().for_each(&mut feed);
        feed(SEPARATOR);
        value.bytes().for_each(&mut feed);
        feed(SEPARATOR);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    // Vectors from prometheus/common model/signature_test.go (decimal there, hex here).
    #[test]
    fn fingerprint_matches_prometheus_signature_vectors() {
        assert_eq!(fingerprint(&BTreeMap::new()), "cbf29ce484222325");
        assert_eq!(
            fingerprint(&labels(&[
                ("name", "garland, briggs"),
                ("fear", "love is not enough")
            ])),
            "507a62d79ee76c9a"
        );
        assert_eq!(
            fingerprint(&labels(&[("first-label", "first-label-value")])),
            "476b44f5db3e21f9"
        );
    }

    #[test]
    fn fingerprint_separators_cannot_be_forged() {
        let a = labels(&[("a", "b"), ("c", "d")]);
        let b = labels(&[("a", "b\u{00ff}c\u{00ff}d")]);
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a).len(), 16);
    }

    #[test]
    fn severity_orders_and_parses() {
        assert!(Severity::Critical.at_least(Severity::High));
        assert!(!Severity::Medium.at_least(Severity::High));
        assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
        assert_eq!(Severity::parse("warning"), None);
        assert_eq!(AlertType::parse("Business"), Some(AlertType::Business));
    }
}
