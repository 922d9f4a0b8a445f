//! Telemetry of the request checks: refusals by route and reason, screening matches.

use bulwark_events::{Bus, BusEvent, ViolationKind};
use std::net::IpAddr;

use super::screening::Finding;
use bulwark_config::routes::ScreeningMode;

pub const REQUEST_REFUSED: &str = "bulwark_request_refused_total";
pub const SCREENING_MATCHES: &str = "bulwark_screening_matches_total";

pub fn describe() {
    metrics::describe_counter!(
        REQUEST_REFUSED,
        "Requests refused by a route's request checks, by route and reason (method_not_allowed, body_too_large, header_fields_too_large, unsupported_media_type, encoded_slash, json_malformed, json_too_deep, json_too_large, screening_blocked, request_body_timeout)."
    );
    metrics::describe_counter!(
        SCREENING_MATCHES,
        "Screening matches, by route, category (sql_injection, xss) and action (blocked, logged)."
    );
}

pub fn refused(route: &str, reason: &'static str, client_ip: IpAddr) {
    metrics::counter!(REQUEST_REFUSED, "route" => route.to_string(), "reason" => reason)
        .increment(1);
    tracing::info!(route, reason, %client_ip, "Request refused by route checks.");
}

/// A screening match: counted and logged in both modes; a bus event only when blocked.
pub fn screened(route: &str, mode: ScreeningMode, finding: Finding, client_ip: IpAddr, bus: &Bus) {
    let action = match mode {
        ScreeningMode::Block => "blocked",
        ScreeningMode::Log => "logged",
    };
    metrics::counter!(SCREENING_MATCHES, "route" => route.to_string(), "category" => finding.category.label(), "action" => action)
        .increment(1);
    // The rule, never the matched input: it may carry a token or personal data.
    tracing::warn!(route, category = finding.category.label(), rule = finding.rule, action, %client_ip, "Screening matched.");
    if mode == ScreeningMode::Block {
        refused(route, "screening_blocked", client_ip);
        bus.publish(BusEvent::SecurityViolation {
            kind: ViolationKind::ScreeningBlocked,
            client_ip: client_ip.to_string(),
        });
    }
}
