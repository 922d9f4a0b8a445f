//! A bounded cache of verified tokens, so that a client sending the same token on every
//! request costs one signature check per token rather than one per request (an RSA or
//! ECDSA verification is tens of microseconds; a hash and a map lookup are well under one).
//!
//! - Keyed by SHA-256 of the token: the token itself is never stored, and looking up an
//!   attacker's token by its hash leaks nothing usable through timing.
//! - An entry is good until the token's `exp` plus leeway, the same instant at which a
//!   fresh verification would start saying "expired".
//! - An entry remembers the generation of the key set that verified it: when a JWKS
//!   refresh changes the keys, every cached token is verified again, so a key removed by
//!   the issuer (compromise, rotation) stops being trusted at the next request.
//! - Bounded: when full, expired entries are swept (at most once per second of `now`), and
//!   if that frees nothing an arbitrary entry is dropped. Eviction only costs a re-check.
//! - Only successes are cached; a rejected token is re-checked every time (the per-IP rate
//!   limit runs before auth, which bounds that work).

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::Identity;

/// Default number of cached tokens per issuer (~200 bytes each).
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

#[derive(Debug, Clone)]
struct Entry {
    identity: Identity,
    valid_until: u64,
    generation: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<[u8; 32], Entry>,
    last_sweep: u64,
}

/// The verified-token cache of one issuer. See the module docs.
#[derive(Debug)]
pub struct VerifiedCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

/// The cache key of a token.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedCache {
    /// A cache holding at most `capacity` tokens; 0 disables caching.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The identity of a token verified earlier, if still good at `now` under the key set
    /// `generation`.
    pub fn get(&self, digest: &[u8; 32], now: u64, generation: u64) -> Option<Identity> {
        if self.capacity == 0 {
            return None;
        }
        let mut inner = self.lock();
        match inner.map.get(digest) {
            Some(e) if now < e.valid_until && e.generation == generation => {
                Some(e.identity.clone())
            }
            Some(_) => {
                inner.map.remove(digest);
                None
            }
            None => None,
        }
    }

    /// Remembers a verified token until `valid_until` (unix seconds).
    pub fn insert(
        &self,
        digest: [u8; 32],
        identity: Identity,
        valid_until: u64,
        now: u64,
        generation: u64,
    ) {
        if self.capacity == 0 || valid_until <= now {
            return;
        }
        let mut inner = self.lock();
        if inner.map.len() >= self.capacity && !inner.map.contains_key(&digest) {
            if inner.last_sweep != now {
                inner.last_sweep = now;
                inner
                    .map
                    .retain(|_, e| now < e.valid_until && e.generation == generation);
            }
            if inner.map.len() >= self.capacity
                && let Some(victim) = inner.map.keys().next().copied()
            {
                inner.map.remove(&victim);
            }
        }
        inner.map.insert(
            digest,
            Entry {
                identity,
                valid_until,
                generation,
            },
        );
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the map half-updated in a way that
        // matters (worst case an entry is missing), so a poisoned lock is simply reused.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(sub: &str) -> Identity {
        Identity {
            subject: sub.into(),
            roles: vec![],
            plan: None,
            expires_at: Some(100),
        }
    }

    #[test]
    fn entries_expire_and_follow_key_generation() {
        let cache = VerifiedCache::new(10);
        let d = token_digest("t");
        cache.insert(d, id("a"), 100, 10, 1);
        assert_eq!(cache.get(&d, 99, 1), Some(id("a")));
        assert_eq!(cache.get(&d, 99, 2), None, "a new key set invalidates");
        cache.insert(d, id("a"), 100, 10, 1);
        assert_eq!(cache.get(&d, 100, 1), None, "expired at valid_until");
        assert!(cache.is_empty());
    }

    #[test]
    fn stays_bounded() {
        let cache = VerifiedCache::new(3);
        for i in 0..10 {
            cache.insert(token_digest(&i.to_string()), id("a"), 100, 10, 0);
        }
        assert_eq!(cache.len(), 3);
        let off = VerifiedCache::new(0);
        off.insert(token_digest("x"), id("a"), 100, 10, 0);
        assert!(off.is_empty());
    }
}
