//! A bounded broadcast bus. Publishing never blocks and never fails: a subscriber that
//! falls behind loses the oldest events, and the loss is counted per subscriber
//! (`bulwark_bus_events_dropped_total`). Whoever must not miss a state (alert rules)
//! re-checks current state instead of trusting the bus alone.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;

use crate::event::{BusEvent, Envelope};

pub const DROPPED_METRIC: &str = "bulwark_bus_events_dropped_total";

#[derive(Clone)]
pub struct Bus {
    sender: broadcast::Sender<Arc<Envelope>>,
}

impl Bus {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }

    /// Stamps and sends; returns immediately whether or not anyone listens.
    pub fn publish(&self, event: BusEvent) {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let _no_subscribers_is_fine = self.sender.send(Arc::new(Envelope { at_ms, event }));
    }

    /// A named subscriber; the name labels its drop counter.
    pub fn subscribe(&self, name: &'static str) -> Subscriber {
        Subscriber {
            name,
            receiver: self.sender.subscribe(),
            dropped: 0,
        }
    }
}

pub struct Subscriber {
    name: &'static str,
    receiver: broadcast::Receiver<Arc<Envelope>>,
    dropped: u64,
}

impl Subscriber {
    /// The next event, skipping (and counting) any this subscriber was too slow to see.
    /// `None` once the bus is gone.
    pub async fn recv(&mut self) -> Option<Arc<Envelope>> {
        loop {
            match self.receiver.recv().await {
                Ok(envelope) => return Some(envelope),
                Err(broadcast::error::RecvError::Lagged(n)) => self.count_lost(n),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Like [`recv`](Self::recv) without waiting: `None` when nothing is queued.
    pub fn try_recv(&mut self) -> Option<Arc<Envelope>> {
        loop {
            match self.receiver.try_recv() {
                Ok(envelope) => return Some(envelope),
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.count_lost(n),
                Err(_) => return None,
            }
        }
    }

    /// Events this subscriber has lost so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn count_lost(&mut self, n: u64) {
        self.dropped += n;
        metrics::counter!(DROPPED_METRIC, "subscriber" => self.name).increment(n);
        tracing::warn!(
            subscriber = self.name,
            lost = n,
            "Bus subscriber fell behind; events lost."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn publishing_without_subscribers_is_fine() {
        let bus = Bus::new(4);
        bus.publish(BusEvent::ConfigReloaded);
    }

    #[tokio::test]
    async fn a_lagging_subscriber_loses_the_oldest_and_counts_them() {
        let bus = Bus::new(4);
        let mut slow = bus.subscribe("test");
        for _ in 0..10 {
            bus.publish(BusEvent::ConfigReloaded);
        }
        bus.publish(BusEvent::ShutdownStarted);
        let mut seen = Vec::new();
        while let Some(e) = slow.try_recv() {
            seen.push(e.event.clone());
        }
        assert_eq!(slow.dropped(), 7);
        assert_eq!(seen.len(), 4);
        assert_eq!(seen.last(), Some(&BusEvent::ShutdownStarted));
    }

    #[test]
    fn envelope_serialises_flat_with_the_event_name() {
        let e = Envelope {
            at_ms: 5,
            event: BusEvent::CheckFailed {
                check: "redis".into(),
                critical: true,
            },
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"at_ms":5,"event":"check_failed","check":"redis","critical":true}"#
        );
    }
}
