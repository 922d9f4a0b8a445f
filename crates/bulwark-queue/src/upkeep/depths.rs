//! From the store's depth rows to the gauge values: pure, `now` passed in.

use std::collections::BTreeMap;

use crate::store::{Depth, MessageState};

/// The states with a depth series. Delivered messages are counted by
/// `bulwark_deliveries_total`; paused is not used by the SQLite store yet.
pub const STATES: [MessageState; 3] = [
    MessageState::Pending,
    MessageState::Leased,
    MessageState::Dead,
];

/// One destination's gauges.
#[derive(Clone, Debug, PartialEq)]
pub struct DestinationDepths {
    pub destination: String,
    /// Count per state of [`STATES`], in that order.
    pub counts: [u64; 3],
    /// Age of the oldest message not yet delivered nor dead (pending or in delivery):
    /// how far behind the app is. Zero when there is none.
    pub oldest_pending_age_secs: f64,
}

/// Every configured destination (zeros when it has nothing queued) and every destination
/// that still has messages (a webhook removed from the config), sorted by name.
pub fn summarise(configured: &[String], depths: &[Depth], now_ms: i64) -> Vec<DestinationDepths> {
    let mut by_name: BTreeMap<&str, DestinationDepths> = configured
        .iter()
        .map(|name| (name.as_str(), empty(name)))
        .collect();
    for depth in depths {
        let entry = by_name
            .entry(depth.destination.as_str())
            .or_insert_with(|| empty(&depth.destination));
        if let Some(i) = STATES.iter().position(|s| *s == depth.state) {
            entry.counts[i] += depth.count;
        }
        if matches!(depth.state, MessageState::Pending | MessageState::Leased) {
            let age = now_ms.saturating_sub(depth.oldest_created_at_ms).max(0) as f64 / 1000.0;
            entry.oldest_pending_age_secs = entry.oldest_pending_age_secs.max(age);
        }
    }
    by_name.into_values().collect()
}

fn empty(name: &str) -> DestinationDepths {
    DestinationDepths {
        destination: name.to_string(),
        counts: [0; 3],
        oldest_pending_age_secs: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(destination: &str, state: MessageState, count: u64, oldest: i64) -> Depth {
        Depth {
            destination: destination.into(),
            state,
            count,
            oldest_created_at_ms: oldest,
        }
    }

    #[test]
    fn configured_destinations_get_zeros() {
        let got = summarise(&["a".into(), "b".into()], &[], 1_000);
        assert_eq!(got.len(), 2);
        assert!(
            got.iter()
                .all(|d| d.counts == [0, 0, 0] && d.oldest_pending_age_secs == 0.0)
        );
    }

    #[test]
    fn counts_land_in_their_state_and_the_oldest_undelivered_sets_the_age() {
        let depths = [
            depth("a", MessageState::Pending, 5, 10_000),
            depth("a", MessageState::Leased, 2, 4_000),
            // Dead messages are old but no longer waiting: they do not set the age.
            depth("a", MessageState::Dead, 7, 1_000),
            depth("gone", MessageState::Dead, 1, 1_000),
        ];
        let got = summarise(&["a".into()], &depths, 20_000);
        assert_eq!(
            got,
            vec![
                DestinationDepths {
                    destination: "a".into(),
                    counts: [5, 2, 7],
                    oldest_pending_age_secs: 16.0,
                },
                DestinationDepths {
                    destination: "gone".into(),
                    counts: [0, 0, 1],
                    oldest_pending_age_secs: 0.0,
                },
            ]
        );
    }

    #[test]
    fn a_clock_behind_the_store_never_gives_a_negative_age() {
        let got = summarise(&[], &[depth("a", MessageState::Pending, 1, 9_000)], 5_000);
        assert_eq!(got[0].oldest_pending_age_secs, 0.0);
    }
}
