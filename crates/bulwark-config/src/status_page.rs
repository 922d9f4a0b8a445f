//! The public status page (`[status_page]`) and maintenance windows (`[[maintenance]]`).
//! Only monitors marked `public = true` appear on the page; nothing else about bulwark
//! is shown there.

use serde::Deserialize;

use crate::problems::Problems;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPageConfig {
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    #[serde(default = "default_title")]
    pub title: String,
    pub logo_url: Option<String>,
    /// Where the page is served on the public listener; `<path>.json` and
    /// `<path>/badge/<monitor>.svg` next to it.
    #[serde(default = "default_path")]
    pub path: String,
}

impl Default for StatusPageConfig {
    fn default() -> Self {
        Self {
            enabled: default_enabled(),
            title: default_title(),
            logo_url: None,
            path: default_path(),
        }
    }
}

fn default_enabled() -> bool {
    true
}
fn default_title() -> String {
    "Service status".into()
}
fn default_path() -> String {
    "/status".into()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusPage {
    pub enabled: bool,
    pub title: String,
    pub logo_url: Option<String>,
    pub path: String,
}

impl StatusPageConfig {
    pub(crate) fn validate(&self, problems: &mut Problems) -> StatusPage {
        if !self.path.starts_with('/') || self.path.len() < 2 || self.path.ends_with('/') {
            problems.error(
                "status_page.path",
                "must start with '/', have a name and not end with '/'",
            );
        }
        if let Some(logo) = &self.logo_url
            && !(logo.starts_with("https://")
                || logo.starts_with("http://")
                || logo.starts_with('/'))
        {
            problems.error(
                "status_page.logo_url",
                "must be an http(s) URL or a path starting with '/'",
            );
        }
        StatusPage {
            enabled: self.enabled,
            title: self.title.clone(),
            logo_url: self.logo_url.clone(),
            path: self.path.clone(),
        }
    }
}

/// A planned window: shown on the status page, and alerts about its monitors are muted.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceConfig {
    pub name: String,
    /// RFC 3339, e.g. `2026-12-01T02:00:00Z`.
    pub starts: String,
    pub ends: String,
    /// Monitors under maintenance; empty means every monitor (and every alert).
    #[serde(default)]
    pub monitors: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Maintenance {
    pub name: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub monitors: Vec<String>,
}

impl MaintenanceConfig {
    pub(crate) fn validate(
        &self,
        path: &str,
        monitor_names: &[&str],
        problems: &mut Problems,
    ) -> Maintenance {
        let mut time = |key: &str, text: &str| match parse_rfc3339_ms(text) {
            Some(ms) => ms,
            None => {
                problems.error(
                    format!("{path}.{key}"),
                    "expected an RFC 3339 time such as 2026-12-01T02:00:00Z",
                );
                0
            }
        };
        let starts_ms = time("starts", &self.starts);
        let ends_ms = time("ends", &self.ends);
        if ends_ms <= starts_ms {
            problems.error(format!("{path}.ends"), "must be after starts");
        }
        for m in &self.monitors {
            if !monitor_names.contains(&m.as_str()) {
                problems.error(
                    format!("{path}.monitors"),
                    format!("no monitor named {m:?}"),
                );
            }
        }
        Maintenance {
            name: self.name.clone(),
            starts_ms,
            ends_ms,
            monitors: self.monitors.clone(),
        }
    }
}

/// RFC 3339 to milliseconds since the Unix epoch (bulwark's one parser).
pub use bulwark_events::time::parse_rfc3339_ms;

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_not_without_panicking(text in "\\PC{0,40}") {
            let _ = parse_rfc3339_ms(&text);
        }

        #[test]
        fn near_misses_of_valid_times_never_panic(
            prefix in "2026-12-01T02:00:0[0-9]",
            tail in "\\PC{0,8}",
        ) {
            let _ = parse_rfc3339_ms(&format!("{prefix}{tail}"));
        }
    }

    #[test]
    fn rfc3339_times_match_known_epochs() {
        // Values from `date -u -d ... +%s`.
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2026-12-01T02:00:00Z"),
            Some(1_796_090_400_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-12-01T03:00:00+01:00"),
            Some(1_796_090_400_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2000-02-29T12:30:15.25Z"),
            Some(951_827_415_250)
        );
        assert_eq!(parse_rfc3339_ms("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_ms("2026-12-01 02:00"), None);
        assert_eq!(parse_rfc3339_ms("2026-12-01T02:00:00"), None);
        // Multi-byte characters where digits or separators are expected.
        assert_eq!(parse_rfc3339_ms("2026-12-01T02:00:00+0é00"), None);
        assert_eq!(parse_rfc3339_ms("2026-12-01T02:00:00.é"), None);
        assert_eq!(parse_rfc3339_ms("2026-12-01T02:00:0éZ"), None);
    }
}
