//! Per-route role requirements: pure set checks on an identity's roles.

/// The roles a route requires. Role names are compared exactly (case-sensitive), as
/// IdPs issue them. An empty list imposes nothing; configuration validation should refuse
/// empty lists so that a typo cannot silently open a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleRequirement {
    /// At least one of these roles.
    Any(Vec<String>),
    /// Every one of these roles.
    All(Vec<String>),
}

/// The outcome of a role check: 403 when roles are missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleDecision {
    /// The requirement is met.
    Allowed,
    /// The roles lacking: for `All`, those not held; for `Any`, the whole list (any one of
    /// them would do).
    Missing(Vec<String>),
}

impl RoleDecision {
    /// True when allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed)
    }
}

impl RoleRequirement {
    /// Checks `held` against this requirement.
    pub fn check(&self, held: &[String]) -> RoleDecision {
        match self {
            Self::Any(wanted) => {
                if wanted.is_empty() || wanted.iter().any(|w| held.contains(w)) {
                    RoleDecision::Allowed
                } else {
                    RoleDecision::Missing(wanted.clone())
                }
            }
            Self::All(wanted) => {
                let missing: Vec<String> = wanted
                    .iter()
                    .filter(|w| !held.contains(w))
                    .cloned()
                    .collect();
                if missing.is_empty() {
                    RoleDecision::Allowed
                } else {
                    RoleDecision::Missing(missing)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn any_and_all() {
        let held = v(&["user", "billing"]);
        assert!(
            RoleRequirement::Any(v(&["admin", "billing"]))
                .check(&held)
                .is_allowed()
        );
        assert_eq!(
            RoleRequirement::Any(v(&["admin", "ops"])).check(&held),
            RoleDecision::Missing(v(&["admin", "ops"]))
        );
        assert!(
            RoleRequirement::All(v(&["user", "billing"]))
                .check(&held)
                .is_allowed()
        );
        assert_eq!(
            RoleRequirement::All(v(&["user", "admin", "Billing"])).check(&held),
            RoleDecision::Missing(v(&["admin", "Billing"]))
        );
        assert!(RoleRequirement::All(vec![]).check(&[]).is_allowed());
    }
}
