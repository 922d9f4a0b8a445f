//! The configured authenticators, built once from `[auth]`: JWT issuers (secret, PEM
//! public key or JWKS) and API-key sets. A route names one; it answers with the caller's
//! [`Identity`] or a short reason (a metric label, never the credential).

use std::sync::Arc;

use bulwark_auth::{
    ApiKeyEntry, ApiKeyError, ApiKeys, Identity, Issuer, IssuerSettings, JwksCache, JwksSettings,
    JwtAlgorithm, KeySource,
};
use bulwark_config::auth::{Auth, JwtIssuer, JwtKey};
use http::{HeaderMap, HeaderName, HeaderValue, header};

pub enum Authenticator {
    // Boxed: an issuer (keys, cache) is much larger than a key set; both live behind an
    // `Arc` anyway, so the box costs nothing per request.
    Jwt(Box<Issuer>),
    ApiKeys(ApiKeys),
}

/// Why the authenticators could not be built; names the config entry, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("auth.jwt {name}: cannot read public_key_file {path}: {source}")]
    PublicKeyFile {
        name: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("auth.jwt {name}: {detail}")]
    Issuer { name: String, detail: String },
    #[error("auth.api_keys {name}: {detail}")]
    ApiKeys { name: String, detail: String },
}

/// Every authenticator by name, and the JWKS caches whose refresh loops the caller runs.
#[derive(Default)]
pub struct Authenticators {
    pub by_name: Vec<(String, Arc<Authenticator>)>,
    pub jwks: Vec<Arc<JwksCache>>,
}

impl Authenticators {
    pub fn build(auth: &Auth) -> Result<Self, AuthSetupError> {
        let mut built = Authenticators::default();
        for issuer in &auth.jwt {
            let authenticator = jwt_issuer(issuer, &mut built.jwks)?;
            built.by_name.push((
                issuer.name.clone(),
                Arc::new(Authenticator::Jwt(Box::new(authenticator))),
            ));
        }
        for set in &auth.api_keys {
            let entries = set
                .keys
                .iter()
                .map(|k| ApiKeyEntry {
                    name: k.name.clone(),
                    sha256_hex: k.sha256.clone(),
                    roles: k.roles.clone(),
                    plan: k.plan.clone(),
                })
                .collect();
            let keys = ApiKeys::new(&set.header, entries).map_err(|e| AuthSetupError::ApiKeys {
                name: set.name.clone(),
                detail: e.to_string(),
            })?;
            built
                .by_name
                .push((set.name.clone(), Arc::new(Authenticator::ApiKeys(keys))));
        }
        Ok(built)
    }

    pub fn get(&self, name: &str) -> Option<Arc<Authenticator>> {
        self.by_name
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| Arc::clone(a))
    }
}

fn jwt_issuer(
    config: &JwtIssuer,
    jwks: &mut Vec<Arc<JwksCache>>,
) -> Result<Issuer, AuthSetupError> {
    let setup = |detail: String| AuthSetupError::Issuer {
        name: config.name.clone(),
        detail,
    };
    let key_source = match &config.key {
        JwtKey::Secret(secret) => KeySource::Secret(secret.expose().as_bytes().to_vec()),
        JwtKey::PublicKeyFile(path) => {
            let pem = std::fs::read(path).map_err(|source| AuthSetupError::PublicKeyFile {
                name: config.name.clone(),
                path: path.display().to_string(),
                source,
            })?;
            KeySource::PemPublicKey(pem)
        }
        JwtKey::JwksUrl(url) => {
            let cache = Arc::new(
                JwksCache::new(JwksSettings::new(url.clone())).map_err(|e| setup(e.to_string()))?,
            );
            jwks.push(Arc::clone(&cache));
            KeySource::Jwks(cache)
        }
    };
    let algorithms = config
        .algorithms
        .iter()
        .map(|a| a.parse::<JwtAlgorithm>().map_err(|e| setup(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let mut settings = IssuerSettings::new(
        config.issuer.clone(),
        config.audiences.clone(),
        algorithms,
        key_source,
    );
    settings.leeway_secs = config.leeway.as_secs();
    settings.roles_claim = Some(config.roles_claim.clone());
    settings.plan_claim = config.plan_claim.clone();
    Issuer::new(settings).map_err(|e| setup(e.to_string()))
}

impl Authenticator {
    /// The caller's identity, or why not (a metric label).
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        now_unix: u64,
    ) -> Result<Identity, &'static str> {
        match self {
            Authenticator::Jwt(issuer) => {
                let token = bearer_token(headers).ok_or("missing_token")?;
                issuer.verify(token, now_unix).await.map_err(|e| e.reason())
            }
            Authenticator::ApiKeys(keys) => {
                let presented = headers
                    .get(keys.header())
                    .map(HeaderValue::as_bytes)
                    .unwrap_or_default();
                keys.authenticate(presented).map_err(|e| match e {
                    ApiKeyError::Missing => "missing_api_key",
                    _ => "invalid_api_key",
                })
            }
        }
    }

    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 for bearer tokens).
    pub fn challenge(&self) -> Option<(HeaderName, HeaderValue)> {
        let value = match self {
            Authenticator::Jwt(_) => {
                HeaderValue::from_static("Bearer realm=\"bulwark\", error=\"invalid_token\"")
            }
            Authenticator::ApiKeys(keys) => HeaderValue::from_str(&format!(
                "ApiKey realm=\"bulwark\", header=\"{}\"",
                keys.header()
            ))
            .ok()?,
        };
        Some((header::WWW_AUTHENTICATE, value))
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme is case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_authorization() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc.def.ghi"),
        );
        assert_eq!(bearer_token(&h), Some("abc.def.ghi"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  xyz "),
        );
        assert_eq!(bearer_token(&h), Some("xyz"));
        for other in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc"] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(other));
            assert_eq!(bearer_token(&h), None, "{other}");
        }
    }
}
