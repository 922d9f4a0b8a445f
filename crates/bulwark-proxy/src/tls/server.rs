//! The public listener's TLS: ALPN `h2` and `http/1.1`, and a certificate that a reload
//! replaces for new handshakes while connections already open keep the one they got.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bulwark_config::tls::ServerCertificate;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use super::events::certificate_loaded;

/// The certificate every new handshake gets; swapped as a whole on reload.
struct CurrentCertificate(ArcSwap<CertifiedKey>);

impl fmt::Debug for CurrentCertificate {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("CurrentCertificate")
    }
}

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// TLS for one listener.
pub struct TlsServer {
    acceptor: TlsAcceptor,
    current: Arc<CurrentCertificate>,
    listener: &'static str,
}

impl TlsServer {
    /// `listener` labels the expiry gauge (`public`).
    pub fn new(
        listener: &'static str,
        certificate: &ServerCertificate,
    ) -> Result<Self, rustls::Error> {
        let current = Arc::new(CurrentCertificate(ArcSwap::new(
            certificate.certified.clone(),
        )));
        let mut config = ServerConfig::builder_with_provider(super::provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        // h2 first: a client that offers both gets HTTP/2. The listener still tells the
        // protocols apart by the preface, so a client without ALPN works too.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let server = Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            current,
            listener,
        };
        server.announce(certificate);
        Ok(server)
    }

    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// New handshakes get `certificate` from now on; open connections are untouched.
    pub fn replace(&self, certificate: &ServerCertificate) {
        self.current.0.store(certificate.certified.clone());
        self.announce(certificate);
    }

    fn announce(&self, certificate: &ServerCertificate) {
        certificate_loaded(
            self.listener,
            certificate.not_after,
            &certificate.serial,
            &certificate.cert_file.display().to_string(),
        );
    }
}
