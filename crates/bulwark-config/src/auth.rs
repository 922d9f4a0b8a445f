//! `[auth]`: who may call a route. JWT issuers (`[[auth.jwt]]`) and API-key sets
//! (`[[auth.api_keys]]`), each named; a route names the one it requires with `auth`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::duration::ConfigDuration;
use crate::problems::Problems;
use crate::secret::{Secret, SecretKind, SecretRef};

/// The JWT algorithms bulwark verifies; `none` is not one of them and never will be.
pub const JWT_ALGORITHMS: [&str; 12] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "EdDSA",
];

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub jwt: Vec<JwtConfig>,
    #[serde(default)]
    pub api_keys: Vec<ApiKeysConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    pub name: String,
    /// Required `iss`.
    pub issuer: String,
    /// Accepted `aud` values (at least one; the token's `aud` must contain one).
    pub audiences: Vec<String>,
    /// Allow-list, e.g. `["RS256"]`. HMAC and asymmetric algorithms cannot be mixed:
    /// one key source serves one family.
    pub algorithms: Vec<String>,
    /// HS* only: the shared secret (at least 32 bytes), from env or a file.
    pub secret: Option<SecretRef>,
    /// RS/PS/ES/EdDSA: a PEM public key file.
    pub public_key_file: Option<String>,
    /// RS/PS/ES/EdDSA: the issuer's JWKS, fetched and refreshed in the background.
    pub jwks_url: Option<String>,
    #[serde(default = "default_leeway")]
    pub leeway: ConfigDuration,
    /// Claim holding the roles (a string of space-separated roles or an array); a dotted
    /// path such as `realm_access.roles` reaches into objects.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Claim naming the caller's plan, for per-plan limits.
    pub plan_claim: Option<String>,
}

fn default_leeway() -> ConfigDuration {
    ConfigDuration::from_secs(30)
}
fn default_roles_claim() -> String {
    "roles".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysConfig {
    pub name: String,
    /// The header a client sends its key in.
    #[serde(default = "default_api_key_header")]
    pub header: String,
    pub keys: Vec<ApiKeyConfig>,
}

fn default_api_key_header() -> String {
    "x-api-key".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub name: String,
    /// Hex SHA-256 of the key (`printf %s "$KEY" | sha256sum`): the key itself is never
    /// in the config.
    pub sha256: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub plan: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwtKey {
    Secret(Secret),
    PublicKeyFile(PathBuf),
    JwksUrl(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtIssuer {
    pub name: String,
    pub issuer: String,
    pub audiences: Vec<String>,
    pub algorithms: Vec<String>,
    pub key: JwtKey,
    pub leeway: Duration,
    pub roles_claim: String,
    pub plan_claim: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeySet {
    pub name: String,
    pub header: String,
    pub keys: Vec<ApiKey>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub name: String,
    pub sha256: String,
    pub roles: Vec<String>,
    pub plan: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    pub jwt: Vec<JwtIssuer>,
    pub api_keys: Vec<ApiKeySet>,
}

impl Auth {
    /// Every authenticator name, JWT issuers first.
    pub fn names(&self) -> Vec<&str> {
        self.jwt
            .iter()
            .map(|j| j.name.as_str())
            .chain(self.api_keys.iter().map(|a| a.name.as_str()))
            .collect()
    }
}

impl AuthConfig {
    pub(crate) fn validate(
        &self,
        secrets: &mut crate::config::SecretResolver<'_>,
        problems: &mut Problems,
    ) -> Auth {
        let jwt = self
            .jwt
            .iter()
            .enumerate()
            .map(|(i, j)| j.validate(&format!("auth.jwt[{i}]"), secrets, problems))
            .collect();
        let api_keys = self
            .api_keys
            .iter()
            .enumerate()
            .map(|(i, a)| a.validate(&format!("auth.api_keys[{i}]"), problems))
            .collect();
        let auth = Auth { jwt, api_keys };
        let names = auth.names();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                problems.error(
                    "auth",
                    format!("two authenticators are named {name:?}; JWT issuers and API-key sets share one namespace"),
                );
            }
        }
        auth
    }
}

impl JwtConfig {
    fn validate(
        &self,
        path: &str,
        secrets: &mut crate::config::SecretResolver<'_>,
        problems: &mut Problems,
    ) -> JwtIssuer {
        crate::names::check_name(&self.name, &format!("{path}.name"), problems);
        if self.issuer.trim().is_empty() {
            problems.error(format!("{path}.issuer"), "the required `iss` value");
        }
        if self.audiences.is_empty() || self.audiences.iter().any(|a| a.trim().is_empty()) {
            problems.error(
                format!("{path}.audiences"),
                "at least one non-empty audience: a token minted for another API must not pass",
            );
        }
        if self.algorithms.is_empty() {
            problems.error(format!("{path}.algorithms"), "at least one algorithm");
        }
        for (i, alg) in self.algorithms.iter().enumerate() {
            if !JWT_ALGORITHMS.contains(&alg.as_str()) {
                problems.error(
                    format!("{path}.algorithms[{i}]"),
                    format!("one of {}", JWT_ALGORITHMS.join(", ")),
                );
            }
        }
        let hmac = self
            .algorithms
            .iter()
            .filter(|a| a.starts_with("HS"))
            .count();
        if hmac != 0 && hmac != self.algorithms.len() {
            problems.error(
                format!("{path}.algorithms"),
                "HMAC (HS*) and public-key algorithms cannot be mixed: a public key used as an HMAC secret would let anyone sign",
            );
        }
        let sources = [
            self.secret.is_some(),
            self.public_key_file.is_some(),
            self.jwks_url.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if sources != 1 {
            problems.error(
                path,
                "exactly one key source: secret (HS*), public_key_file or jwks_url",
            );
        }
        let key = if let Some(secret) = &self.secret {
            if hmac == 0 && !self.algorithms.is_empty() {
                problems.error(
                    format!("{path}.secret"),
                    "a secret verifies HS* algorithms only",
                );
            }
            JwtKey::Secret(secrets.resolve(
                secret,
                SecretKind::Owned,
                &format!("{path}.secret"),
                problems,
            ))
        } else {
            if hmac > 0 {
                problems.error(format!("{path}.algorithms"), "HS* algorithms need `secret`");
            }
            match (&self.public_key_file, &self.jwks_url) {
                (Some(file), _) => JwtKey::PublicKeyFile(PathBuf::from(file)),
                (_, Some(url)) => {
                    match url.parse::<http::Uri>() {
                        Ok(uri)
                            if matches!(uri.scheme_str(), Some("http" | "https"))
                                && uri.host().is_some() => {}
                        _ => problems.error(
                            format!("{path}.jwks_url"),
                            "a URL such as \"https://auth.example.com/.well-known/jwks.json\"",
                        ),
                    }
                    JwtKey::JwksUrl(url.clone())
                }
                _ => JwtKey::JwksUrl(String::new()),
            }
        };
        if self.leeway.get() > Duration::from_secs(300) {
            problems.error(format!("{path}.leeway"), "at most 5m");
        }
        JwtIssuer {
            name: self.name.clone(),
            issuer: self.issuer.clone(),
            audiences: self.audiences.clone(),
            algorithms: self.algorithms.clone(),
            key,
            leeway: self.leeway.get(),
            roles_claim: self.roles_claim.clone(),
            plan_claim: self.plan_claim.clone(),
        }
    }
}

impl ApiKeysConfig {
    fn validate(&self, path: &str, problems: &mut Problems) -> ApiKeySet {
        crate::names::check_name(&self.name, &format!("{path}.name"), problems);
        if http::HeaderName::from_bytes(self.header.as_bytes()).is_err() {
            problems.error(format!("{path}.header"), "not a valid header name");
        }
        if self.keys.is_empty() {
            problems.error(format!("{path}.keys"), "at least one key");
        }
        let keys = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let key_path = format!("{path}.keys[{i}]");
                let hash = k.sha256.trim().to_ascii_lowercase();
                if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    problems.error(
                        format!("{key_path}.sha256"),
                        "64 hex digits: the SHA-256 of the key (`printf %s \"$KEY\" | sha256sum`), never the key itself",
                    );
                }
                ApiKey {
                    name: k.name.clone(),
                    sha256: hash,
                    roles: k.roles.clone(),
                    plan: k.plan.clone(),
                }
            })
            .collect();
        ApiKeySet {
            name: self.name.clone(),
            header: self.header.to_ascii_lowercase(),
            keys,
        }
    }
}
