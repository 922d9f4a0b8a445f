//! The public status page, rendered from a [`StatusSnapshot`] with no I/O: the HTML page
//! ([`render_html`]), `/status.json` ([`render_json`]) and SVG badges ([`render_badge`]).
//! The snapshot's `generated_at_ms` is "now", so the same snapshot renders the same bytes.
//! Every text from config or incidents is escaped; the page has no scripts.

mod badge;
mod days;
mod format;
mod html;
mod json;
mod overall;
mod snapshot;

pub use badge::{BadgeMessage, render_badge, text_width_px};
pub use days::DAYS_SHOWN;
pub use format::{escape_html, format_date, format_display_time, format_iso, format_uptime};
pub use html::render_html;
pub use json::render_json;
pub use overall::{OverallStatus, overall_status};
pub use snapshot::{
    Component, ComponentGroup, ComponentState, DayUptime, Incident, IncidentImpact, IncidentStatus,
    IncidentUpdate, MaintenanceWindow, StatusSnapshot,
};

#[cfg(test)]
mod tests;
