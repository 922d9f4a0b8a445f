//! TLS material named in the config: the public listener's certificate chain and key
//! (`[listen.tls]`), and the CA files that upstreams are verified against (`ca_file`).
//!
//! Files are read and checked when the config loads (start, `bulwark check`, SIGHUP), so
//! a missing file, a key that does not belong to the certificate, or a PEM file without a
//! certificate is refused with the key path and the file's path, and the running process
//! keeps its current certificate. The key file's content is never logged or echoed: its
//! errors name the path and the kind of problem only.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::problems::Problems;

/// `[listen.tls]`: when present, the public listener speaks HTTPS only.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, leaf first (what certbot calls `fullchain.pem`).
    pub cert_file: Option<String>,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1). Relative paths, here as
    /// for secret files, are relative to bulwark's working directory.
    pub key_file: Option<String>,
}

/// A certificate chain with the key that belongs to it, checked at load.
#[derive(Clone)]
pub struct ServerCertificate {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Chain and signing key, ready for rustls. The key stays inside rustls' signer.
    pub certified: Arc<CertifiedKey>,
    /// The leaf's notAfter, in Unix seconds.
    pub not_after: i64,
    /// The leaf's serial number, lowercase hex, for logs.
    pub serial: String,
}

impl fmt::Debug for ServerCertificate {
    // Only what identifies the certificate; the signing key is not shown in any form.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("not_after", &self.not_after)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ServerCertificate {
    /// Same files and same chain. The key is covered: it was checked to match the leaf.
    fn eq(&self, other: &Self) -> bool {
        self.cert_file == other.cert_file
            && self.key_file == other.key_file
            && self.certified.cert == other.certified.cert
    }
}

impl Eq for ServerCertificate {}

impl TlsConfig {
    pub(crate) fn validate(
        &self,
        path: &str,
        base_dir: &Path,
        problems: &mut Problems,
    ) -> Option<ServerCertificate> {
        let (cert_file, key_file) = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => (base_dir.join(cert), base_dir.join(key)),
            (Some(_), None) => {
                problems.error(
                    path,
                    "key_file is missing: a certificate needs its private key (key_file = \"path/to/key.pem\")",
                );
                return None;
            }
            (None, Some(_)) => {
                problems.error(
                    path,
                    "cert_file is missing: a key needs its certificate chain (cert_file = \"path/to/fullchain.pem\")",
                );
                return None;
            }
            (None, None) => {
                problems.error(
                    path,
                    "needs cert_file and key_file (PEM), or remove [listen.tls] to serve plain HTTP",
                );
                return None;
            }
        };
        let chain = read_certificates(&cert_file, &format!("{path}.cert_file"), problems);
        let key = read_private_key(&key_file, &format!("{path}.key_file"), problems);
        let (chain, key) = (chain?, key?);
        let leaf = match LeafFacts::parse(&chain[0]) {
            Ok(leaf) => leaf,
            Err(reason) => {
                problems.error(
                    format!("{path}.cert_file"),
                    format!(
                        "the first certificate in {} cannot be parsed ({reason})",
                        cert_file.display()
                    ),
                );
                return None;
            }
        };
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let certified = match CertifiedKey::from_der(chain, key, &provider) {
            Ok(certified) => certified,
            Err(rustls::Error::InconsistentKeys(_)) => {
                problems.error(
                    format!("{path}.key_file"),
                    format!(
                        "the key in {} does not belong to the first certificate in {}",
                        key_file.display(),
                        cert_file.display()
                    ),
                );
                return None;
            }
            Err(error) => {
                // rustls' message says what is unsupported, never the key's bytes.
                problems.error(
                    format!("{path}.key_file"),
                    format!("the key in {} is not usable: {error}", key_file.display()),
                );
                return None;
            }
        };
        if leaf.not_after <= unix_now() {
            problems.warn(
                format!("{path}.cert_file"),
                format!(
                    "the certificate in {} has expired; clients will refuse it",
                    cert_file.display()
                ),
            );
        }
        Some(ServerCertificate {
            cert_file,
            key_file,
            certified: Arc::new(certified),
            not_after: leaf.not_after,
            serial: leaf.serial,
        })
    }
}

/// What the listener reports about its leaf certificate.
struct LeafFacts {
    not_after: i64,
    serial: String,
}

impl LeafFacts {
    fn parse(der: &CertificateDer<'_>) -> Result<Self, String> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| e.to_string())?;
        Ok(Self {
            not_after: cert.validity().not_after.timestamp(),
            serial: hex_lower(cert.raw_serial()),
        })
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Every certificate in a PEM file; at least one, or a problem naming the file.
pub(crate) fn read_certificates(
    file: &Path,
    key_path: &str,
    problems: &mut Problems,
) -> Option<Vec<CertificateDer<'static>>> {
    let bytes = read(file, key_path, problems)?;
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(&bytes) {
        match item {
            Ok(cert) => certs.push(cert),
            Err(error) => {
                problems.error(
                    key_path,
                    format!(
                        "{} is not valid PEM: {}",
                        file.display(),
                        pem_reason(&error)
                    ),
                );
                return None;
            }
        }
    }
    if certs.is_empty() {
        problems.error(
            key_path,
            format!(
                "{} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
                file.display()
            ),
        );
        return None;
    }
    Some(certs)
}

fn read_private_key(
    file: &Path,
    key_path: &str,
    problems: &mut Problems,
) -> Option<PrivateKeyDer<'static>> {
    let bytes = read(file, key_path, problems)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Some(key),
        Err(pem::Error::NoItemsFound) => {
            problems.error(
                key_path,
                format!(
                    "{} holds no private key (expected -----BEGIN PRIVATE KEY----- or the RSA/EC forms)",
                    file.display()
                ),
            );
            None
        }
        Err(error) => {
            problems.error(
                key_path,
                format!(
                    "{} is not valid PEM: {}",
                    file.display(),
                    pem_reason(&error)
                ),
            );
            None
        }
    }
}

/// The kind of PEM problem, without any of the file's content (a key file's bytes would
/// otherwise end up in a log line).
fn pem_reason(error: &pem::Error) -> &'static str {
    match error {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "bad base64",
        pem::Error::Io(_) => "read failed",
        pem::Error::NoItemsFound => "nothing found",
        _ => "unreadable",
    }
}

fn read(file: &Path, key_path: &str, problems: &mut Problems) -> Option<Vec<u8>> {
    match std::fs::read(file) {
        Ok(bytes) => Some(bytes),
        Err(error) => {
            problems.error(key_path, format!("cannot read {}: {error}", file.display()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Self {
            Self {
                dir: tempfile::tempdir().unwrap(),
            }
        }
        fn write(&self, name: &str, text: &str) {
            std::fs::write(self.dir.path().join(name), text).unwrap();
        }
    }

    fn leaf() -> (String, String) {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (cert.pem(), signing_key.serialize_pem())
    }

    fn config(cert: Option<&str>, key: Option<&str>) -> TlsConfig {
        TlsConfig {
            cert_file: cert.map(Into::into),
            key_file: key.map(Into::into),
        }
    }

    fn check(files: &Files, tls: &TlsConfig) -> (Option<ServerCertificate>, Problems) {
        let mut problems = Problems::default();
        let out = tls.validate("listen.tls", files.dir.path(), &mut problems);
        (out, problems)
    }

    #[test]
    fn a_matching_pair_loads_with_its_dates() {
        let files = Files::new();
        let (cert, key) = leaf();
        files.write("cert.pem", &cert);
        files.write("key.pem", &key);
        let (loaded, problems) = check(&files, &config(Some("cert.pem"), Some("key.pem")));
        assert!(problems.errors.is_empty(), "{:?}", problems.errors);
        let loaded = loaded.unwrap();
        assert!(loaded.not_after > unix_now());
        assert!(!loaded.serial.is_empty());
        assert_eq!(loaded.cert_file, files.dir.path().join("cert.pem"));
    }

    #[test]
    fn a_certificate_without_a_key_is_refused() {
        let files = Files::new();
        let (_, problems) = check(&files, &config(Some("cert.pem"), None));
        assert_eq!(problems.errors.len(), 1);
        assert_eq!(problems.errors[0].path, "listen.tls");
        assert!(
            problems.errors[0]
                .message
                .starts_with("key_file is missing")
        );
    }

    #[test]
    fn a_key_without_a_certificate_is_refused() {
        let files = Files::new();
        let (_, problems) = check(&files, &config(None, Some("key.pem")));
        assert_eq!(problems.errors[0].path, "listen.tls");
        assert!(
            problems.errors[0]
                .message
                .starts_with("cert_file is missing")
        );
    }

    #[test]
    fn unreadable_files_are_named() {
        let files = Files::new();
        let (_, problems) = check(&files, &config(Some("nope.pem"), Some("nokey.pem")));
        assert_eq!(problems.errors.len(), 2, "{:?}", problems.errors);
        assert_eq!(problems.errors[0].path, "listen.tls.cert_file");
        assert!(problems.errors[0].message.contains("nope.pem"));
        assert_eq!(problems.errors[1].path, "listen.tls.key_file");
        assert!(problems.errors[1].message.contains("nokey.pem"));
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let files = Files::new();
        let (cert, _) = leaf();
        let (_, other_key) = leaf();
        files.write("cert.pem", &cert);
        files.write("key.pem", &other_key);
        let (loaded, problems) = check(&files, &config(Some("cert.pem"), Some("key.pem")));
        assert!(loaded.is_none());
        assert_eq!(problems.errors.len(), 1);
        assert_eq!(problems.errors[0].path, "listen.tls.key_file");
        assert!(
            problems.errors[0].message.contains("does not belong"),
            "{}",
            problems.errors[0].message
        );
    }

    #[test]
    fn key_errors_never_echo_the_key() {
        let files = Files::new();
        let (cert, key) = leaf();
        files.write("cert.pem", &cert);
        // A key file whose base64 is damaged: the message must not quote any of it.
        let damaged = key.replace("-----END PRIVATE KEY-----", "");
        files.write("key.pem", &damaged);
        let (_, problems) = check(&files, &config(Some("cert.pem"), Some("key.pem")));
        assert_eq!(problems.errors.len(), 1, "{:?}", problems.errors);
        let body: String = key.lines().nth(1).unwrap().chars().take(16).collect();
        assert!(!problems.errors[0].message.contains(&body));
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let files = Files::new();
        let (_, key) = leaf();
        files.write("cert.pem", "not a certificate\n");
        files.write("key.pem", &key);
        let (_, problems) = check(&files, &config(Some("cert.pem"), Some("key.pem")));
        assert_eq!(problems.errors[0].path, "listen.tls.cert_file");
        assert!(problems.errors[0].message.contains("no certificate"));
    }

    fn load(files: &Files, body: &str) -> Result<crate::Loaded, crate::LoadError> {
        let text = format!(
            "data_dir = {:?}\n{body}",
            files.dir.path().join("data").display().to_string()
        );
        crate::load_str(&text, Path::new("bulwark.toml"), &|_| None)
    }

    fn problems_of(result: Result<crate::Loaded, crate::LoadError>) -> Vec<crate::Problem> {
        match result {
            Err(crate::LoadError::Invalid { problems, .. }) => problems,
            other => panic!("expected an invalid config, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let files = Files::new();
        let cert = files.dir.path().join("cert.pem");
        let body = format!(
            "[listen]\npublic = \"127.0.0.1:0\"\n\n[listen.tls]\ncert_file = {:?}\n",
            cert.display().to_string()
        );
        let error = load(&files, &body).unwrap_err();
        let shown = error.to_string();
        assert!(
            shown.contains("bulwark.toml:line 5: listen.tls: key_file is missing"),
            "{shown}"
        );
    }

    #[test]
    fn a_listener_with_tls_and_a_redirect_loads() {
        let files = Files::new();
        let (cert, key) = leaf();
        files.write("cert.pem", &cert);
        files.write("key.pem", &key);
        let dir = files.dir.path().display().to_string();
        let body = format!(
            "[listen]\npublic = \"127.0.0.1:0\"\nredirect_http = \"127.0.0.1:0\"\n[listen.tls]\ncert_file = \"{dir}/cert.pem\"\nkey_file = \"{dir}/key.pem\"\n[timeouts]\ntls_handshake = \"250ms\"\n"
        );
        let loaded = load(&files, &body).unwrap().config;
        assert!(loaded.listen.tls.is_some());
        assert!(loaded.listen.redirect_http.is_some());
        assert_eq!(
            loaded.timeouts.tls_handshake,
            std::time::Duration::from_millis(250)
        );
    }

    #[test]
    fn a_redirect_needs_tls() {
        let files = Files::new();
        let problems = problems_of(load(&files, "[listen]\nredirect_http = \"127.0.0.1:0\"\n"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "listen.redirect_http");
        assert_eq!(problems[0].line, Some(3));
    }

    #[test]
    fn a_zero_handshake_timeout_is_refused() {
        let files = Files::new();
        let problems = problems_of(load(&files, "[timeouts]\ntls_handshake = \"0s\"\n"));
        assert_eq!(problems[0].path, "timeouts.tls_handshake");
    }

    #[test]
    fn https_targets_load_with_or_without_a_ca_file() {
        let files = Files::new();
        let (cert, _) = leaf();
        files.write("ca.pem", &cert);
        let dir = files.dir.path().display().to_string();
        let body = format!(
            "[[upstreams]]\nname = \"a\"\ntargets = [\"https://127.0.0.1:8443\"]\nca_file = \"{dir}/ca.pem\"\n\n[[upstreams]]\nname = \"b\"\ntargets = [\"https://example.com\"]\n"
        );
        let loaded = load(&files, &body).unwrap().config;
        assert_eq!(
            loaded.upstreams[0].targets[0].scheme,
            http::uri::Scheme::HTTPS
        );
        assert_eq!(loaded.upstreams[0].ca.as_ref().unwrap().certs.len(), 1);
        assert!(loaded.upstreams[1].ca.is_none());
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let files = Files::new();
        let missing = files.dir.path().join("missing-ca.pem");
        let body = format!(
            "[[upstreams]]\nname = \"a\"\ntargets = [\"https://127.0.0.1:8443\"]\nca_file = {:?}\n",
            missing.display().to_string()
        );
        let problems = problems_of(load(&files, &body));
        assert_eq!(problems[0].path, "upstreams[0].ca_file");
        assert_eq!(problems[0].line, Some(5));
        assert!(problems[0].message.contains("missing-ca.pem"));
    }

    #[test]
    fn the_key_is_not_in_debug_output() {
        let files = Files::new();
        let (cert, key) = leaf();
        files.write("cert.pem", &cert);
        files.write("key.pem", &key);
        let (loaded, _) = check(&files, &config(Some("cert.pem"), Some("key.pem")));
        let shown = format!("{:?}", loaded.unwrap());
        assert!(shown.contains("cert.pem"));
        assert!(!shown.contains("key:"), "{shown}");
    }
}
