//! Telemetry of the admin API: the request counter, and one log line per change made to
//! the dead-letter queue (who did it: the token's name, never its value).

use metrics::{Unit, counter, describe_counter};

/// Admin API requests, by endpoint (method and route template, never the raw path) and
/// HTTP status.
pub const ADMIN_REQUESTS_TOTAL: &str = "bulwark_admin_requests_total";

pub fn describe() {
    describe_counter!(
        ADMIN_REQUESTS_TOTAL,
        Unit::Count,
        "Admin API requests, by endpoint (method and route template) and HTTP status."
    );
}

/// One admin request answered.
pub struct AdminRequest {
    /// `"<METHOD> <route template>"`, e.g. `"GET /admin/v1/messages/{id}"`.
    pub endpoint: &'static str,
    pub status: u16,
}

impl AdminRequest {
    pub fn emit(&self) {
        counter!(
            ADMIN_REQUESTS_TOTAL,
            "endpoint" => self.endpoint,
            "status" => self.status.to_string()
        )
        .increment(1);
    }
}

/// The dead-letter queue was changed through the admin API.
pub struct DeadLettersChanged<'a> {
    /// The name of the token used.
    pub token: &'a str,
    /// `"replay"`, `"purge"` or `"purge_matching"`.
    pub action: &'static str,
    /// The message, for single-message actions.
    pub id: Option<String>,
    /// How many messages were affected.
    pub count: u64,
}

impl DeadLettersChanged<'_> {
    pub fn emit(&self, bus: Option<&bulwark_events::Bus>) {
        if let Some(bus) = bus {
            bus.publish(bulwark_events::BusEvent::AdminAction {
                token: self.token.to_string(),
                action: self.action.to_string(),
                target: self.id.clone(),
                count: self.count,
            });
        }
        tracing::info!(
            token = self.token,
            action = self.action,
            id = self.id.as_deref(),
            count = self.count,
            "Dead-letter queue changed through the admin API."
        );
    }
}

/// An operator resumed a destination paused by a 410.
pub struct DestinationResumed<'a> {
    pub token: &'a str,
    pub destination: &'a str,
}

impl DestinationResumed<'_> {
    pub fn emit(&self, bus: Option<&bulwark_events::Bus>) {
        if let Some(bus) = bus {
            bus.publish(bulwark_events::BusEvent::AdminAction {
                token: self.token.to_string(),
                action: "resume".to_string(),
                target: Some(self.destination.to_string()),
                count: 1,
            });
        }
        tracing::info!(
            token = self.token,
            destination = self.destination,
            "Destination resumed through the admin API."
        );
    }
}
