//! What the status page shows: a snapshot of public data, built by the caller from the
//! monitors, incidents and maintenance windows that config marks public. The renderers
//! read nothing else, so nothing private can leak through them.

/// Everything one rendering of the page needs.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusSnapshot {
    /// The page title (from config).
    pub title: String,
    /// An image shown next to the title: `https://`, `http://` or a path starting with
    /// `/`; anything else is not rendered.
    pub logo_url: Option<String>,
    /// When the snapshot was taken, milliseconds since the Unix epoch. The renderers use it
    /// as "now": which day is today, which maintenance is current or upcoming.
    pub generated_at_ms: i64,
    pub groups: Vec<ComponentGroup>,
    /// Active and recent incidents, any order; the renderers sort them.
    pub incidents: Vec<Incident>,
    /// Maintenance windows, any order; windows that ended before `generated_at_ms` are
    /// left out of the HTML.
    pub maintenance: Vec<MaintenanceWindow>,
}

/// Components shown together under one heading.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentGroup {
    pub name: String,
    pub components: Vec<Component>,
}

/// One public monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub name: String,
    /// Stable identifier used in `/status.json` and badge URLs.
    pub slug: String,
    pub state: ComponentState,
    /// Per-day counts for up to the last 90 UTC days, any order. A day missing here is
    /// shown as "no data".
    pub days: Vec<DayUptime>,
    /// Uptime as a fraction in 0.0..=1.0; `None` when there were no checks in the window.
    pub uptime_24h: Option<f64>,
    pub uptime_7d: Option<f64>,
    pub uptime_30d: Option<f64>,
    pub uptime_90d: Option<f64>,
    /// Recent response times, oldest first, for the sparkline.
    pub response_ms: Vec<u32>,
}

/// A component's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentState {
    Operational,
    Degraded,
    Down,
    Maintenance,
}

impl ComponentState {
    /// The word used in JSON, badges and CSS classes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operational => "operational",
            Self::Degraded => "degraded",
            Self::Down => "down",
            Self::Maintenance => "maintenance",
        }
    }

    /// The label shown on the page.
    pub fn label(self) -> &'static str {
        match self {
            Self::Operational => "Operational",
            Self::Degraded => "Degraded performance",
            Self::Down => "Down",
            Self::Maintenance => "Under maintenance",
        }
    }
}

/// The checks of one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayUptime {
    /// Midnight UTC starting the day, milliseconds since the Unix epoch. Any instant
    /// within the day is accepted and mapped to its day.
    pub day_start_ms: i64,
    pub checks: u64,
    pub successes: u64,
    pub avg_response_ms: Option<u32>,
}

/// An incident opened by a monitor or by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub title: String,
    pub impact: IncidentImpact,
    pub status: IncidentStatus,
    pub opened_ms: i64,
    pub resolved_ms: Option<i64>,
    /// Any order; shown newest first.
    pub updates: Vec<IncidentUpdate>,
}

/// How bad an incident is (Statuspage's scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentImpact {
    None,
    Minor,
    Major,
    Critical,
}

impl IncidentImpact {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Minor => "minor",
            Self::Major => "major",
            Self::Critical => "critical",
        }
    }
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Investigating => "investigating",
            Self::Identified => "identified",
            Self::Monitoring => "monitoring",
            Self::Resolved => "resolved",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Investigating => "Investigating",
            Self::Identified => "Identified",
            Self::Monitoring => "Monitoring",
            Self::Resolved => "Resolved",
        }
    }
}

/// One message posted on an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentUpdate {
    pub at_ms: i64,
    pub status: IncidentStatus,
    pub message: String,
}

/// Planned work.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceWindow {
    pub name: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    /// Names of the affected components, as shown on the page.
    pub components: Vec<String>,
}

impl MaintenanceWindow {
    /// Whether `now_ms` falls in the window (start inclusive, end exclusive).
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.starts_ms <= now_ms && now_ms < self.ends_ms
    }
}
