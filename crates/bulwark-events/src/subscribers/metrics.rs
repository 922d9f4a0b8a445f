//! Counts bus events by name: `bulwark_bus_events_total{event}`.

use tokio_util::sync::CancellationToken;

use crate::bus::Subscriber;

pub const EVENTS_METRIC: &str = "bulwark_bus_events_total";

pub async fn run_metrics(mut subscriber: Subscriber, cancel: CancellationToken) {
    loop {
        let envelope = tokio::select! {
            _ = cancel.cancelled() => return,
            e = subscriber.recv() => match e { Some(e) => e, None => return },
        };
        metrics::counter!(EVENTS_METRIC, "event" => envelope.event.name()).increment(1);
    }
}
