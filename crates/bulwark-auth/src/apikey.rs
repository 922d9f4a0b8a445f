//! API keys, configured only as SHA-256 hashes and presented in a configured header.
//!
//! Storing hashes means a leaked config file or backup does not leak usable keys. API keys
//! are high-entropy random strings (generate with `openssl rand -base64 32`), so a plain
//! SHA-256 is enough: password-style slow hashing protects guessable secrets, which these
//! are not. The presented key is hashed and compared in constant time against **every**
//! configured hash, with no early exit, so timing says nothing about which entry (if any)
//! matched; hashing first already means an attacker cannot steer the compared bytes.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::Identity;

/// Presented keys longer than this are refused without hashing (real keys are ~44 bytes).
pub const MAX_API_KEY_BYTES: usize = 1024;

/// One configured key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyEntry {
    /// The key's name: the identity's subject, and how logs refer to the key.
    pub name: String,
    /// Lower- or upper-case hex of SHA-256(key) (e.g. `printf %s "$KEY" | sha256sum`).
    pub sha256_hex: String,
    /// Roles granted to callers with this key.
    pub roles: Vec<String>,
    /// Plan, for plan-based rate limits.
    pub plan: Option<String>,
}

impl fmt::Debug for ApiKeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash is not the key, but there is no reason to print it either.
        f.debug_struct("ApiKeyEntry")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

/// Why API-key authentication or setup failed. Never carries a key or a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    /// No key was presented (missing or empty header).
    #[error("no API key presented")]
    Missing,
    /// The presented key matches no configured hash.
    #[error("API key not recognised")]
    Unknown,
    /// Setup: an entry's hash is not 64 hex digits.
    #[error("API key \"{name}\": sha256 must be 64 hex digits")]
    BadHash {
        /// The entry's name.
        name: String,
    },
    /// Setup: two entries have the same hash (the same key under two names).
    #[error("API keys \"{first}\" and \"{second}\" have the same hash")]
    DuplicateHash {
        /// The first entry's name.
        first: String,
        /// The second entry's name.
        second: String,
    },
    /// Setup: the header name is empty.
    #[error("API key header name must not be empty")]
    EmptyHeader,
}

#[derive(Debug, Clone)]
struct Stored {
    hash: [u8; 32],
    name: String,
    roles: Vec<String>,
    plan: Option<String>,
}

/// The API-key authenticator: a header name and the configured hashes.
#[derive(Debug, Clone)]
pub struct ApiKeys {
    header: String,
    keys: Vec<Stored>,
}

impl ApiKeys {
    /// Validates the entries (hex, no duplicates). `header` is the request header carrying
    /// the key (e.g. `X-Api-Key`), stored lower-cased as HTTP header names compare.
    pub fn new(header: &str, entries: Vec<ApiKeyEntry>) -> Result<Self, ApiKeyError> {
        if header.is_empty() {
            return Err(ApiKeyError::EmptyHeader);
        }
        let mut keys: Vec<Stored> = Vec::with_capacity(entries.len());
        for entry in entries {
            let mut hash = [0u8; 32];
            hex::decode_to_slice(entry.sha256_hex.trim(), &mut hash).map_err(|_| {
                ApiKeyError::BadHash {
                    name: entry.name.clone(),
                }
            })?;
            if let Some(other) = keys.iter().find(|k| k.hash == hash) {
                return Err(ApiKeyError::DuplicateHash {
                    first: other.name.clone(),
                    second: entry.name,
                });
            }
            keys.push(Stored {
                hash,
                name: entry.name,
                roles: entry.roles,
                plan: entry.plan,
            });
        }
        Ok(Self {
            header: header.to_ascii_lowercase(),
            keys,
        })
    }

    /// The header carrying the key, lower-case.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// Number of configured keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is configured (every request is refused).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Authenticates a presented key (the header value's bytes).
    pub fn authenticate(&self, presented: &[u8]) -> Result<Identity, ApiKeyError> {
        if presented.is_empty() {
            return Err(ApiKeyError::Missing);
        }
        if presented.len() > MAX_API_KEY_BYTES {
            return Err(ApiKeyError::Unknown);
        }
        let digest: [u8; 32] = Sha256::digest(presented).into();
        // Visit every entry; remember the match with constant-time selects, no branch.
        let mut found = subtle::Choice::from(0);
        let mut index = 0u32;
        for (i, key) in self.keys.iter().enumerate() {
            let equal = key.hash.ct_eq(&digest);
            // Entry counts are tiny (config); `i` fits in u32 by a wide margin.
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            index = u32::conditional_select(&index, &i, equal & !found);
            found |= equal;
        }
        if !bool::from(found) {
            return Err(ApiKeyError::Unknown);
        }
        let key = self.keys.get(index as usize).ok_or(ApiKeyError::Unknown)?;
        Ok(Identity {
            subject: key.name.clone(),
            roles: key.roles.clone(),
            plan: key.plan.clone(),
            expires_at: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // SHA-256("abc") from FIPS 180-2 appendix B.1, and SHA-256("") (widely published):
    // expected values from outside this code.
    const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const SHA256_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn entry(name: &str, hash: &str) -> ApiKeyEntry {
        ApiKeyEntry {
            name: name.into(),
            sha256_hex: hash.into(),
            roles: vec!["svc".into()],
            plan: Some("pro".into()),
        }
    }

    #[test]
    fn finds_the_key_by_its_hash() {
        let keys = ApiKeys::new(
            "X-Api-Key",
            vec![
                entry("empty", SHA256_EMPTY),
                entry("abc-key", &SHA256_ABC.to_uppercase()),
            ],
        )
        .unwrap();
        assert_eq!(keys.header(), "x-api-key");
        let id = keys.authenticate(b"abc").unwrap();
        assert_eq!(id.subject, "abc-key");
        assert_eq!(id.roles, ["svc"]);
        assert_eq!(id.plan.as_deref(), Some("pro"));
        assert_eq!(id.expires_at, None);
        assert_eq!(keys.authenticate(b"abd"), Err(ApiKeyError::Unknown));
        assert_eq!(
            keys.authenticate(SHA256_ABC.as_bytes()),
            Err(ApiKeyError::Unknown),
            "the hash is not the key"
        );
        assert_eq!(keys.authenticate(b""), Err(ApiKeyError::Missing));
        assert_eq!(
            keys.authenticate(&[b'a'; MAX_API_KEY_BYTES + 1]),
            Err(ApiKeyError::Unknown)
        );
    }

    #[test]
    fn setup_errors_do_not_echo_hashes() {
        let err = ApiKeys::new("h", vec![entry("k1", "xyz")]).unwrap_err();
        assert_eq!(err, ApiKeyError::BadHash { name: "k1".into() });
        let err =
            ApiKeys::new("h", vec![entry("a", SHA256_ABC), entry("b", SHA256_ABC)]).unwrap_err();
        assert!(!err.to_string().contains(SHA256_ABC));
        assert!(matches!(err, ApiKeyError::DuplicateHash { .. }));
        assert_eq!(
            ApiKeys::new("", vec![]).unwrap_err(),
            ApiKeyError::EmptyHeader
        );
        assert!(!format!("{:?}", entry("a", SHA256_ABC)).contains(SHA256_ABC));
    }
}
