//! Which notifiers hear of an alert. Routes are tried in order; the first that matches
//! takes the alert, unless it says `continue`, in which case later routes are tried too
//! (Alertmanager's `continue`). When no route matches, the default route sends to every
//! notifier except those marked `critical_only` (an SMS gateway, say), which get only
//! critical alerts. A route that names a `critical_only` notifier sends to it whatever
//! the severity: an explicit route is the operator saying otherwise.

use crate::matcher::{Matcher, all_match};
use crate::model::{Alert, AlertType, Severity};

/// The name of the implicit route in group keys.
pub const DEFAULT_ROUTE: &str = "default";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifierSpec {
    pub name: String,
    /// Only critical alerts reach it through the default route.
    pub critical_only: bool,
    /// Also tell it when alerts resolve (Alertmanager's `send_resolved`).
    pub send_resolved: bool,
}

impl NotifierSpec {
    /// A notifier that gets every severity through the default route and resolved
    /// notifications.
    pub fn new(name: &str) -> NotifierSpec {
        NotifierSpec {
            name: name.to_owned(),
            critical_only: false,
            send_resolved: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum SeverityMatch {
    #[default]
    Any,
    /// This severity or a more urgent one.
    AtLeast(Severity),
    OneOf(Vec<Severity>),
}

impl SeverityMatch {
    pub fn matches(&self, severity: Severity) -> bool {
        match self {
            SeverityMatch::Any => true,
            SeverityMatch::AtLeast(minimum) => severity.at_least(*minimum),
            SeverityMatch::OneOf(list) => list.contains(&severity),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Route {
    /// Appears in the notification's `groupKey`; unique among routes.
    pub name: String,
    pub severity: SeverityMatch,
    /// Empty matches every type.
    pub types: Vec<AlertType>,
    pub matchers: Vec<Matcher>,
    pub notifiers: Vec<String>,
    /// Keep trying later routes after this one matched.
    pub continue_matching: bool,
    /// Labels to group by on this route; the engine's default when `None`.
    pub group_by: Option<Vec<String>>,
}

impl Route {
    pub fn matches(&self, alert: &Alert) -> bool {
        self.severity.matches(alert.severity())
            && (self.types.is_empty()
                || alert.alert_type().is_some_and(|t| self.types.contains(&t)))
            && all_match(&self.matchers, &alert.labels)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RoutingConfig {
    pub routes: Vec<Route>,
    pub notifiers: Vec<NotifierSpec>,
}

/// Where one alert goes through one route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteTarget<'a> {
    pub route: &'a str,
    pub notifiers: Vec<&'a str>,
    pub group_by: Option<&'a [String]>,
}

impl RoutingConfig {
    /// Whether `notifier` wants resolved notifications; true for names not configured.
    pub fn sends_resolved(&self, notifier: &str) -> bool {
        self.notifiers
            .iter()
            .find(|n| n.name == notifier)
            .is_none_or(|n| n.send_resolved)
    }

    /// The routes the alert takes, in order, each with its notifiers.
    pub fn route<'a>(&'a self, alert: &Alert) -> Vec<RouteTarget<'a>> {
        let mut targets = Vec::new();
        for route in &self.routes {
            if !route.matches(alert) {
                continue;
            }
            targets.push(RouteTarget {
                route: &route.name,
                notifiers: route.notifiers.iter().map(String::as_str).collect(),
                group_by: route.group_by.as_deref(),
            });
            if !route.continue_matching {
                return targets;
            }
        }
        if targets.is_empty() {
            let critical = alert.severity() == Severity::Critical;
            targets.push(RouteTarget {
                route: DEFAULT_ROUTE,
                notifiers: self
                    .notifiers
                    .iter()
                    .filter(|n| critical || !n.critical_only)
                    .map(|n| n.name.as_str())
                    .collect(),
                group_by: None,
            });
        }
        targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RoutingConfig {
        RoutingConfig {
            routes: Vec::new(),
            notifiers: vec![
                NotifierSpec::new("ops-webhook"),
                NotifierSpec {
                    critical_only: true,
                    ..NotifierSpec::new("sms")
                },
            ],
        }
    }

    fn names(targets: &[RouteTarget<'_>]) -> Vec<(String, Vec<String>)> {
        targets
            .iter()
            .map(|t| {
                (
                    t.route.to_owned(),
                    t.notifiers.iter().map(|n| (*n).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn default_route_sends_sms_only_for_critical() {
        let config = config();
        let high = Alert::new("X", Severity::High, AlertType::System, 0);
        let critical = Alert::new("X", Severity::Critical, AlertType::System, 0);
        assert_eq!(
            names(&config.route(&high)),
            vec![("default".into(), vec!["ops-webhook".into()])]
        );
        assert_eq!(
            names(&config.route(&critical)),
            vec![("default".into(), vec!["ops-webhook".into(), "sms".into()])]
        );
    }

    #[test]
    fn explicit_route_overrides_critical_only() {
        let mut config = config();
        config.routes.push(Route {
            name: "security".into(),
            types: vec![AlertType::Security],
            notifiers: vec!["sms".into()],
            ..Route::default()
        });
        let alert = Alert::new("X", Severity::Low, AlertType::Security, 0);
        assert_eq!(
            names(&config.route(&alert)),
            vec![("security".into(), vec!["sms".into()])]
        );
    }

    #[test]
    fn first_match_wins_unless_continue() {
        let mut config = config();
        config.routes = vec![
            Route {
                name: "high-up".into(),
                severity: SeverityMatch::AtLeast(Severity::High),
                notifiers: vec!["pager".into()],
                continue_matching: true,
                ..Route::default()
            },
            Route {
                name: "team-a".into(),
                matchers: vec![Matcher::equal("team", "a")],
                notifiers: vec!["slack-a".into()],
                ..Route::default()
            },
            Route {
                name: "not-prod".into(),
                matchers: vec![Matcher::not_equal("env", "prod")],
                severity: SeverityMatch::OneOf(vec![Severity::Low, Severity::Info]),
                notifiers: vec!["slack-dev".into()],
                ..Route::default()
            },
        ];
        let critical_a =
            Alert::new("X", Severity::Critical, AlertType::Api, 0).with_label("team", "a");
        assert_eq!(
            names(&config.route(&critical_a)),
            vec![
                ("high-up".into(), vec!["pager".into()]),
                ("team-a".into(), vec!["slack-a".into()])
            ]
        );
        let low_dev = Alert::new("X", Severity::Low, AlertType::Api, 0).with_label("env", "dev");
        assert_eq!(
            names(&config.route(&low_dev)),
            vec![("not-prod".into(), vec!["slack-dev".into()])]
        );
        let low_prod = Alert::new("X", Severity::Low, AlertType::Api, 0).with_label("env", "prod");
        assert_eq!(
            names(&config.route(&low_prod)),
            vec![("default".into(), vec!["ops-webhook".into()])]
        );
        let medium_dev =
            Alert::new("X", Severity::Medium, AlertType::Api, 0).with_label("env", "dev");
        assert_eq!(names(&config.route(&medium_dev))[0].0, "default");
    }
}
