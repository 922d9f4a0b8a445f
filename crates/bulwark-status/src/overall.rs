//! The page's overall state, shown in the banner: the worst thing a visitor should know.

use crate::snapshot::{ComponentState, StatusSnapshot};

/// The banner's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverallStatus {
    Operational,
    PartialOutage,
    MajorOutage,
    Maintenance,
}

impl OverallStatus {
    /// The word used in `/status.json` and CSS classes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operational => "operational",
            Self::PartialOutage => "partial_outage",
            Self::MajorOutage => "major_outage",
            Self::Maintenance => "maintenance",
        }
    }

    /// The banner text.
    pub fn label(self) -> &'static str {
        match self {
            Self::Operational => "All systems operational",
            Self::PartialOutage => "Partial outage",
            Self::MajorOutage => "Major outage",
            Self::Maintenance => "Under maintenance",
        }
    }
}

/// Any component down is a major outage; else any degraded is a partial outage; else any
/// component in maintenance, or a maintenance window in progress, is maintenance.
/// Outages win over maintenance because they are what a visitor came to check.
pub fn overall_status(snapshot: &StatusSnapshot) -> OverallStatus {
    let states = || {
        snapshot
            .groups
            .iter()
            .flat_map(|group| group.components.iter().map(|c| c.state))
    };
    if states().any(|s| s == ComponentState::Down) {
        OverallStatus::MajorOutage
    } else if states().any(|s| s == ComponentState::Degraded) {
        OverallStatus::PartialOutage
    } else if states().any(|s| s == ComponentState::Maintenance)
        || snapshot
            .maintenance
            .iter()
            .any(|w| w.is_active(snapshot.generated_at_ms))
    {
        OverallStatus::Maintenance
    } else {
        OverallStatus::Operational
    }
}
