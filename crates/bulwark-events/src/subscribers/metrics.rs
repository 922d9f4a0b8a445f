//! Counts bus events by name: `bulwark_bus_events_total{event}`, and security violations
//! by type and severity: `security_events_total{event_type,severity}`.

use tokio_util::sync::CancellationToken;

use crate::bus::Subscriber;

pub const EVENTS_METRIC: &str = "bulwark_bus_events_total";
pub const SECURITY_EVENTS_METRIC: &str = "security_events_total";

pub async fn run_metrics(mut subscriber: Subscriber, cancel: CancellationToken) {
    loop {
        let envelope = tokio::select! {
            _ = cancel.cancelled() => return,
            e = subscriber.recv() => match e { Some(e) => e, None => return },
        };
        metrics::counter!(EVENTS_METRIC, "event" => envelope.event.name()).increment(1);
        if let crate::BusEvent::SecurityViolation { kind, .. } = &envelope.event {
            metrics::counter!(
                SECURITY_EVENTS_METRIC,
                "event_type" => kind.label(),
                "severity" => kind.severity()
            )
            .increment(1);
        }
    }
}
