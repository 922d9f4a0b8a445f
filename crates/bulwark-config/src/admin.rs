//! Tokens for the admin API on the ops listener. Each carries scopes, so an app that may
//! raise alerts cannot purge the dead-letter queue, silence alerts or post on the public
//! status page.

use serde::Deserialize;

use crate::problems::Problems;
use crate::secret::{Secret, SecretKind, SecretRef};

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash)]
pub enum Scope {
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "replay")]
    Replay,
    #[serde(rename = "purge")]
    Purge,
    /// Raise alerts (`POST /admin/v1/alerts`): what an app's token needs.
    #[serde(rename = "alerts:write")]
    AlertsWrite,
    /// Create and expire silences: an operator's, since a silence can hide any alert.
    #[serde(rename = "silences:write")]
    SilencesWrite,
    /// Open and update incidents, which the public status page shows.
    #[serde(rename = "incidents:write")]
    IncidentsWrite,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    #[serde(default)]
    pub tokens: Vec<AdminTokenConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTokenConfig {
    pub name: String,
    pub token: SecretRef,
    pub scopes: Vec<Scope>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminToken {
    pub name: String,
    pub token: Secret,
    pub scopes: Vec<Scope>,
}

impl AdminConfig {
    pub(crate) fn validate(
        &self,
        secrets: &mut crate::config::SecretResolver<'_>,
        problems: &mut Problems,
    ) -> Vec<AdminToken> {
        let mut tokens: Vec<AdminToken> = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            let path = format!("admin.tokens[{i}]");
            crate::names::check_name(&t.name, &format!("{path}.name"), problems);
            if t.scopes.is_empty() {
                problems.error(
                    format!("{path}.scopes"),
                    "give the token at least one scope",
                );
            }
            let token = secrets.resolve(
                &t.token,
                SecretKind::Owned,
                &format!("{path}.token"),
                problems,
            );
            if !token.expose().is_empty() && tokens.iter().any(|o| o.token == token) {
                problems.error(
                    format!("{path}.token"),
                    "two admin tokens have the same value",
                );
            }
            tokens.push(AdminToken {
                name: t.name.clone(),
                token,
                scopes: t.scopes.clone(),
            });
        }
        tokens
    }
}
