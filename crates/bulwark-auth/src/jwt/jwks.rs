//! Keys from a JWKS URL (RFC 7517), kept fresh in the background.
//!
//! - [`KeySet::from_jwks_json`] is the pure part: it keeps every usable signing key and
//!   skips the rest one by one (an IdP publishing one key type we do not support must not
//!   take the others down). Skipped: `use` other than `sig`, `key_ops` without `verify`,
//!   symmetric `oct` keys (a shared secret never comes from a URL), RSA under 2048 bits,
//!   curves other than P-256, P-384 and Ed25519.
//! - [`JwksCache`] is the I/O part: [`JwksCache::run`] fetches at start and then every
//!   `refresh_interval` (every `min_refetch_interval` while it has no keys at all); a token
//!   with an unknown `kid` triggers at most one extra fetch per `min_refetch_interval`
//!   ([`JwksCache::refetch_for_unknown_kid`]), so a flood of made-up `kid`s costs the IdP
//!   one request per interval, not one per token. A failed fetch, or one that yields no
//!   usable key, keeps the last good keys.
//! - URLs come only from configuration; `jku`/`x5u` in tokens are refused, never fetched.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::keys::{JwtAlgorithm, VerifyKey};

/// Why a JWKS fetch failed. The previous keys stay in use.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The HTTP client could not be built.
    #[error("cannot build the JWKS HTTP client")]
    Client(#[source] reqwest::Error),
    /// Connecting, sending or reading failed (includes timeouts).
    #[error("JWKS request failed")]
    Request(#[source] reqwest::Error),
    /// The server answered with a non-2xx status.
    #[error("JWKS endpoint answered HTTP {0}")]
    Status(u16),
    /// The body is larger than `max_body_bytes`.
    #[error("JWKS body exceeds {0} bytes")]
    TooLarge(usize),
    /// The body is not a JSON object with a `keys` array.
    #[error("JWKS body is not a JSON key set")]
    NotAKeySet,
    /// The set holds no usable signing key.
    #[error("JWKS holds no usable signing key")]
    NoUsableKeys,
}

/// Where a key was found for a token.
#[derive(Debug)]
pub(crate) enum Selection<'a> {
    Found(&'a VerifyKey),
    UnknownKid,
    MissingKid,
    NoKeys,
}

/// A parsed key set: signing keys by `kid` (a plain map lookup: a `kid` such as
/// `../../etc/passwd` is just a string that matches nothing).
#[derive(Debug, Default)]
pub struct KeySet {
    by_kid: HashMap<String, Vec<VerifyKey>>,
    unnamed: Vec<VerifyKey>,
    digest: [u8; 32],
    generation: u64,
}

impl KeySet {
    /// Parses a JWKS document, skipping unusable keys (see the module docs).
    pub fn from_jwks_json(body: &[u8]) -> Result<Self, JwksError> {
        let doc: Value = serde_json::from_slice(body).map_err(|_| JwksError::NotAKeySet)?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwksError::NotAKeySet)?;
        let mut set = KeySet {
            digest: Sha256::digest(body).into(),
            ..KeySet::default()
        };
        for jwk in keys.iter().filter_map(Value::as_object) {
            if jwk.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
                continue;
            }
            if let Some(ops) = jwk.get("key_ops")
                && !ops
                    .as_array()
                    .is_some_and(|ops| ops.iter().any(|op| op == "verify"))
            {
                continue;
            }
            let key = match VerifyKey::from_jwk(jwk) {
                Ok(key) => key,
                Err(error) => {
                    tracing::debug!(%error, "Skipped a JWKS key.");
                    continue;
                }
            };
            match jwk.get("kid").and_then(Value::as_str) {
                Some(kid) => set.by_kid.entry(kid.to_owned()).or_default().push(key),
                None => set.unnamed.push(key),
            }
        }
        if set.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        Ok(set)
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.by_kid.values().map(Vec::len).sum::<usize>() + self.unnamed.len()
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Increases whenever the published keys change; verified-token cache entries made
    /// under another generation are not trusted.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// True when `kid` names a key of this set.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// The key for a token. With a `kid`, only keys of that `kid` that fit `alg`. Without
    /// one, the single key fitting `alg`, if there is exactly one: trying every key would
    /// multiply the signature work an attacker can cause.
    pub(crate) fn select(&self, kid: Option<&str>, alg: JwtAlgorithm) -> Selection<'_> {
        if self.is_empty() {
            return Selection::NoKeys;
        }
        match kid {
            Some(kid) => match self
                .by_kid
                .get(kid)
                .and_then(|keys| keys.iter().find(|k| k.fits(alg)))
            {
                Some(key) => Selection::Found(key),
                None => Selection::UnknownKid,
            },
            None => {
                let mut fitting = self
                    .by_kid
                    .values()
                    .flatten()
                    .chain(&self.unnamed)
                    .filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Selection::Found(key),
                    (None, _) => Selection::UnknownKid,
                    (Some(_), Some(_)) => Selection::MissingKid,
                }
            }
        }
    }
}

/// How a [`JwksCache`] fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksSettings {
    /// The JWKS URL (https in production; from configuration only).
    pub url: String,
    /// Scheduled refresh period. Default 5 minutes: IdPs publish new keys well before
    /// signing with them, and an unknown `kid` triggers an early fetch anyway.
    pub refresh_interval: Duration,
    /// Minimum time between two fetches triggered by unknown `kid`s, and the retry period
    /// while no key was ever fetched. Default 30 s.
    pub min_refetch_interval: Duration,
    /// Timeout of one fetch. Default 5 s: a request waiting on an unknown-`kid` refetch
    /// waits at most this long.
    pub timeout: Duration,
    /// Largest accepted body. Default 1 MiB (real key sets are a few KiB).
    pub max_body_bytes: usize,
}

impl JwksSettings {
    /// Settings with the defaults documented on each field.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            refresh_interval: Duration::from_secs(300),
            min_refetch_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// The keys of one JWKS URL, shared by the issuers that use it. See the module docs.
#[derive(Debug)]
pub struct JwksCache {
    settings: JwksSettings,
    client: reqwest::Client,
    keys: ArcSwap<KeySet>,
    /// Held for the whole fetch, so concurrent unknown-`kid` requests wait for the one
    /// fetch in flight instead of starting their own; holds the last attempt's start.
    fetch_lock: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

impl JwksCache {
    /// A cache with no keys yet; call [`JwksCache::refresh`] or spawn [`JwksCache::run`].
    pub fn new(settings: JwksSettings) -> Result<Self, JwksError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("bulwark/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(JwksError::Client)?;
        Ok(Self {
            settings,
            client,
            keys: ArcSwap::from_pointee(KeySet::default()),
            fetch_lock: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &JwksSettings {
        &self.settings
    }

    /// The current keys (the last good fetch).
    pub fn keys(&self) -> Arc<KeySet> {
        self.keys.load_full()
    }

    /// How many fetches were attempted (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Fetches now, whatever the rate limit. On failure the previous keys are kept.
    /// Returns the number of usable keys fetched.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let mut last_attempt = self.fetch_lock.lock().await;
        self.fetch_locked(&mut last_attempt).await
    }

    /// The one refetch a token with an unknown `kid` may cause: fetches unless a fetch
    /// started less than `min_refetch_interval` ago. `seen_generation` is the generation of
    /// the key set the caller looked in. Returns true when the keys may have changed since
    /// (a fetch ran here, or someone else's fetch changed them meanwhile).
    pub async fn refetch_for_unknown_kid(&self, seen_generation: u64) -> bool {
        let mut last_attempt = self.fetch_lock.lock().await;
        if self.keys.load().generation != seen_generation {
            return true;
        }
        if last_attempt.is_some_and(|at| at.elapsed() < self.settings.min_refetch_interval) {
            return false;
        }
        self.fetch_locked(&mut last_attempt).await.is_ok()
    }

    /// The background loop: an initial fetch (unless keys are already there), then one
    /// every `refresh_interval`, or every `min_refetch_interval` while there are no keys.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        if self.keys.load().is_empty() {
            let _ = self.refresh().await;
        }
        loop {
            let wait = if self.keys.load().is_empty() {
                self.settings.min_refetch_interval
            } else {
                self.settings.refresh_interval
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let _ = self.refresh().await;
        }
    }

    async fn fetch_locked(&self, last_attempt: &mut Option<Instant>) -> Result<usize, JwksError> {
        *last_attempt = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch().await;
        match result {
            Ok(mut set) => {
                let current = self.keys.load();
                let count = set.len();
                if set.digest == current.digest {
                    return Ok(count);
                }
                set.generation = current.generation + 1;
                self.keys.store(Arc::new(set));
                tracing::info!(url = %self.settings.url, keys = count, "JWKS keys updated.");
                Ok(count)
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    url = %self.settings.url,
                    kept_keys = self.keys.load().len(),
                    "JWKS fetch failed; keeping the last good keys."
                );
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, JwksError> {
        let mut response = self
            .client
            .get(&self.settings.url)
            .send()
            .await
            .map_err(JwksError::Request)?;
        let status = response.status();
        if !status.is_success() {
            return Err(JwksError::Status(status.as_u16()));
        }
        let max = self.settings.max_body_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > max as u64)
        {
            return Err(JwksError::TooLarge(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(JwksError::Request)? {
            if body.len() + chunk.len() > max {
                return Err(JwksError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        KeySet::from_jwks_json(&body)
    }
}
