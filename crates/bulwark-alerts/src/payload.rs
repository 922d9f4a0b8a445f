//! Building the version-4 webhook payload for one group and one notifier.

use std::collections::BTreeMap;

use bulwark_notify::{AlertStatus, Notification, NotifiedAlert};

use crate::matcher::escape;
use crate::model::Alert;
use crate::rfc3339;

/// One alert as a group holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupAlert {
    pub alert: Alert,
    pub fingerprint: String,
    pub status: AlertStatus,
}

/// `{route}:{name="value", ...}`: Alertmanager's group key shape (route, then the group
/// labels sorted and quoted), with the route's configured name standing in for its path.
pub(crate) fn group_key(route: &str, group_labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = group_labels
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect();
    format!("{route}:{{{}}}", pairs.join(", "))
}

pub(crate) struct PayloadContext<'a> {
    pub notifier: &'a str,
    pub group_key: &'a str,
    pub group_labels: &'a BTreeMap<String, String>,
    pub external_url: &'a str,
    /// 0 means no limit.
    pub max_alerts: usize,
}

pub(crate) fn build_notification(
    context: &PayloadContext<'_>,
    alerts: &[&GroupAlert],
) -> Notification {
    let mut ordered: Vec<&GroupAlert> = alerts.to_vec();
    // Firing first so that truncation drops resolved alerts before firing ones.
    ordered.sort_by(|a, b| {
        let rank = |g: &GroupAlert| u8::from(g.status == AlertStatus::Resolved);
        (rank(a), a.alert.starts_at_ms, &a.fingerprint).cmp(&(
            rank(b),
            b.alert.starts_at_ms,
            &b.fingerprint,
        ))
    });
    let status = if ordered.iter().any(|g| g.status == AlertStatus::Firing) {
        AlertStatus::Firing
    } else {
        AlertStatus::Resolved
    };
    let total = ordered.len();
    if context.max_alerts > 0 && total > context.max_alerts {
        ordered.truncate(context.max_alerts);
    }
    let truncated_alerts = (total - ordered.len()) as u64;
    let common_labels = common(ordered.iter().map(|g| &g.alert.labels));
    let common_annotations = common(ordered.iter().map(|g| &g.alert.annotations));
    let alerts = ordered
        .iter()
        .map(|g| NotifiedAlert {
            status: g.status,
            labels: g.alert.labels.clone(),
            annotations: g.alert.annotations.clone(),
            starts_at: rfc3339::format_ms(g.alert.starts_at_ms),
            ends_at: match (g.status, g.alert.ends_at_ms) {
                (AlertStatus::Resolved, Some(ends)) => rfc3339::format_ms(ends),
                _ => rfc3339::ZERO_TIME.to_owned(),
            },
            generator_url: if g.alert.generator_url.is_empty() {
                context.external_url.to_owned()
            } else {
                g.alert.generator_url.clone()
            },
            fingerprint: g.fingerprint.clone(),
        })
        .collect();
    Notification {
        version: "4".to_owned(),
        group_key: context.group_key.to_owned(),
        truncated_alerts,
        status,
        receiver: context.notifier.to_owned(),
        group_labels: context.group_labels.clone(),
        common_labels,
        common_annotations,
        external_url: context.external_url.to_owned(),
        alerts,
    }
}

/// The pairs every map has with the same value.
fn common<'a>(
    mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let Some(first) = maps.next() else {
        return BTreeMap::new();
    };
    let mut shared = first.clone();
    for map in maps {
        shared.retain(|k, v| map.get(k) == Some(v));
    }
    shared
}
