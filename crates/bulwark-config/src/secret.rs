//! Secrets: written in the config only as `"${ENV_VAR}"` or `{ file = "path" }`, held in a
//! type that prints `***`, and checked for strength before bulwark starts.
//!
//! Two kinds, because they fail differently. Secrets bulwark *owns* (admin tokens, its
//! hop-signing key, HS* JWT keys) are chosen by the operator, so a weak one is refused.
//! Secrets issued by someone else (a provider's signing secret, a database password) are
//! what they are: refused only when empty or an obvious placeholder, warned about when short.

use std::fmt;
use std::path::Path;

use base64::Engine;
use serde::Deserialize;

/// How the config file refers to a secret. Never the value itself.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SecretRef {
    /// `"${NAME}"`: read from the environment.
    Env(String),
    /// `{ file = "path" }`: read from a file (trailing newline removed); relative paths are
    /// resolved against the config file's folder.
    File(FileRef),
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    pub file: String,
}

/// Who issued the secret, which decides how strict the strength check is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// Chosen by the operator for bulwark: at least [`OWNED_MIN_BYTES`] after decoding.
    Owned,
    /// Issued elsewhere (provider signing secrets, connection strings).
    Issued,
}

/// Minimum decoded length of a secret bulwark owns.
pub const OWNED_MIN_BYTES: usize = 32;
/// Below this, an issued secret gets a warning.
pub const ISSUED_WARN_BYTES: usize = 16;

/// How to make a good secret; shown whenever one is refused.
pub const GENERATE_HINT: &str = "generate one with `openssl rand -base64 32`";

const PLACEHOLDERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "changeit",
    "secret",
    "mysecret",
    "my-secret",
    "supersecret",
    "your-secret-key-here",
    "your-secret-key",
    "your_secret_key",
    "yoursecretkey",
    "secret-key",
    "secretkey",
    "password",
    "passw0rd",
    "admin",
    "token",
    "default",
    "example",
    "test",
    "todo",
    "replace-me",
    "replaceme",
    "xxx",
    "placeholder",
];

/// A resolved secret. `Debug` and `Display` print `***`; the value is reachable only
/// through [`Secret::expose`], so a stray `{:?}` cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value. For tests and for secrets built in code, never from config text.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a secret could not be used. Never carries the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("write secrets as \"${{ENV_VAR}}\" or {{ file = \"path\" }}, never inline")]
    Inline,
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    #[error("cannot read secret file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("secret is empty")]
    Empty,
    #[error("secret is a well-known placeholder; {GENERATE_HINT}")]
    Placeholder,
    #[error(
        "secret is too weak: {bytes} bytes after decoding, at least {OWNED_MIN_BYTES} needed; {GENERATE_HINT}"
    )]
    TooShort { bytes: usize },
    #[error("secret is too repetitive to be random; {GENERATE_HINT}")]
    LowVariety,
}

/// A secret that passed, with a warning when it is usable but short.
#[derive(Debug)]
pub struct Resolved {
    pub secret: Secret,
    pub warning: Option<String>,
}

/// Reads the secret and checks its strength for its kind.
pub fn resolve(
    reference: &SecretRef,
    kind: SecretKind,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, SecretError> {
    let value = match reference {
        SecretRef::Env(text) => {
            let name = env_name(text).ok_or(SecretError::Inline)?;
            env(name).ok_or_else(|| SecretError::MissingEnv(name.to_string()))?
        }
        SecretRef::File(FileRef { file }) => {
            let path = base_dir.join(file);
            let mut text = std::fs::read_to_string(&path).map_err(|e| SecretError::File {
                path: path.display().to_string(),
                reason: e.kind().to_string(),
            })?;
            while text.ends_with(['\n', '\r']) {
                text.pop();
            }
            text
        }
    };
    let warning = check_strength(&value, kind)?;
    Ok(Resolved {
        secret: Secret(value),
        warning,
    })
}

/// `${NAME}` -> `NAME`, when NAME is a plausible variable name.
fn env_name(text: &str) -> Option<&str> {
    let name = text.strip_prefix("${")?.strip_suffix('}')?;
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    valid.then_some(name)
}

/// Pure strength rules; returns a warning for short issued secrets.
pub fn check_strength(value: &str, kind: SecretKind) -> Result<Option<String>, SecretError> {
    if value.trim().is_empty() {
        return Err(SecretError::Empty);
    }
    if is_placeholder(value) {
        return Err(SecretError::Placeholder);
    }
    let bytes = decoded_len(value);
    match kind {
        SecretKind::Owned => {
            if bytes < OWNED_MIN_BYTES {
                return Err(SecretError::TooShort { bytes });
            }
            let mut seen = [false; 256];
            value.bytes().for_each(|b| seen[b as usize] = true);
            if seen.iter().filter(|s| **s).count() < 8 {
                return Err(SecretError::LowVariety);
            }
            Ok(None)
        }
        SecretKind::Issued if bytes < ISSUED_WARN_BYTES => Ok(Some(format!(
            "secret is short ({bytes} bytes); check that it is the whole value the issuer gave"
        ))),
        SecretKind::Issued => Ok(None),
    }
}

fn is_placeholder(value: &str) -> bool {
    let lower = value.trim().to_ascii_lowercase();
    PLACEHOLDERS.contains(&lower.as_str())
        || lower.contains("changeme")
        || lower.contains("your-secret")
        || lower.contains("your_secret")
        || lower.starts_with("<") && lower.ends_with(">")
}

/// Length in bytes after decoding: hex first (even length, all hex digits), then
/// standard or URL-safe base64, otherwise the raw bytes. `openssl rand -hex 16` gives 32
/// characters but only 16 bytes of randomness, and must count as 16.
fn decoded_len(value: &str) -> usize {
    let v = value.trim();
    if v.len().is_multiple_of(2) && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return v.len() / 2;
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for engine in engines {
        if let Ok(decoded) = engine.decode(v) {
            return decoded.len();
        }
    }
    v.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRONG: &str = "q3n0bXh0ZWdqZ2N2b3l3eXpqcWx4a2p0dW9sYmZ2aGQ=";

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
    }

    #[test]
    fn owned_secrets_need_32_decoded_bytes() {
        assert_eq!(check_strength(STRONG, SecretKind::Owned), Ok(None));
        // 32 hex characters are only 16 bytes.
        assert_eq!(
            check_strength("0123456789abcdef0123456789abcdef", SecretKind::Owned),
            Err(SecretError::TooShort { bytes: 16 })
        );
        assert_eq!(
            check_strength(&"ab".repeat(32), SecretKind::Owned),
            Err(SecretError::LowVariety)
        );
    }

    #[test]
    fn placeholders_are_refused_for_every_kind() {
        for kind in [SecretKind::Owned, SecretKind::Issued] {
            for p in ["changeme", "Secret", "your-secret-key-here", "<token>"] {
                assert_eq!(
                    check_strength(p, kind),
                    Err(SecretError::Placeholder),
                    "{p}"
                );
            }
            assert_eq!(check_strength("  ", kind), Err(SecretError::Empty));
        }
    }

    #[test]
    fn short_issued_secrets_only_warn() {
        assert!(
            check_strength("abc123", SecretKind::Issued)
                .unwrap()
                .is_some()
        );
        assert_eq!(check_strength(STRONG, SecretKind::Issued), Ok(None));
    }

    #[test]
    fn resolves_env_and_files_and_refuses_inline() {
        let env = |name: &str| (name == "TOKEN").then(|| STRONG.to_string());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t"), format!("{STRONG}\n")).unwrap();
        let from_env = resolve(
            &SecretRef::Env("${TOKEN}".into()),
            SecretKind::Owned,
            dir.path(),
            &env,
        );
        assert_eq!(from_env.unwrap().secret.expose(), STRONG);
        let file = SecretRef::File(FileRef { file: "t".into() });
        let from_file = resolve(&file, SecretKind::Owned, dir.path(), &env);
        assert_eq!(from_file.unwrap().secret.expose(), STRONG);
        let inline = resolve(
            &SecretRef::Env(STRONG.into()),
            SecretKind::Owned,
            dir.path(),
            &env,
        );
        assert_eq!(inline.unwrap_err(), SecretError::Inline);
        let missing = resolve(
            &SecretRef::Env("${NOPE}".into()),
            SecretKind::Owned,
            dir.path(),
            &env,
        );
        assert_eq!(missing.unwrap_err(), SecretError::MissingEnv("NOPE".into()));
    }
}
