//! TLS to `https` upstream targets: verified against the upstream's `ca_file` when it
//! has one, else against the system's roots (rustls-native-certs: the OS store, which is
//! where operators already put their private CAs; `SSL_CERT_FILE`/`SSL_CERT_DIR` are
//! honoured). The proxy speaks HTTP/1.1 upstream, so ALPN offers only that.

use std::sync::{Arc, OnceLock};

use bulwark_config::upstreams::Upstream;
use http::uri::Scheme;
use rustls::{ClientConfig, RootCertStore};

/// The rustls client config for one upstream. The system's roots are read only when an
/// `https` target needs them.
pub fn client_config(config: &Upstream) -> ClientConfig {
    let upstream = config.name.as_str();
    let needs_roots = config.targets.iter().any(|t| t.scheme == Scheme::HTTPS);
    let roots = match &config.ca {
        _ if !needs_roots => Arc::new(RootCertStore::empty()),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            let (added, ignored) = roots.add_parsable_certificates(ca.certs.iter().cloned());
            if added == 0 {
                tracing::error!(upstream, ca_file = %ca.file.display(), "No usable CA certificate in ca_file; https targets of this upstream will fail.");
            } else if ignored > 0 {
                tracing::warn!(upstream, ca_file = %ca.file.display(), ignored, "Some certificates in ca_file are unusable and were skipped.");
            }
            Arc::new(roots)
        }
        None => system_roots(),
    };
    let builder = ClientConfig::builder_with_provider(super::provider())
        .with_safe_default_protocol_versions()
        .expect("the aws-lc-rs provider supports rustls' default protocol versions");
    builder.with_root_certificates(roots).with_no_client_auth()
}

/// Read once per process: the store is a few hundred files.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::warn!(%error, "Reading the system's CA certificates failed in part.");
            }
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(
                    "No system CA certificates found; https upstreams without ca_file will fail."
                );
            }
            Arc::new(roots)
        })
        .clone()
}
