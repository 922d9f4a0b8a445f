//! Telemetry of TLS: the certificate's expiry gauge and refused handshakes.

use crate::events::HTTP_REJECTED;

/// Unix seconds of the serving leaf certificate's notAfter, by listener.
pub const TLS_CERT_NOT_AFTER: &str = "tls_cert_not_after";

pub fn describe() {
    metrics::describe_gauge!(
        TLS_CERT_NOT_AFTER,
        metrics::Unit::Seconds,
        "Unix time at which the certificate served by a TLS listener expires (its notAfter), by listener."
    );
}

/// A connection closed before its TLS handshake finished.
#[derive(Clone, Copy, Debug)]
pub enum HandshakeRefused {
    /// No finished handshake within `timeouts.tls_handshake`.
    Timeout,
    /// The client sent something that is not a usable TLS handshake (plain HTTP, no
    /// common version or cipher, a bad record).
    Failed,
}

impl HandshakeRefused {
    pub fn record(self, error: Option<&std::io::Error>) {
        let reason = match self {
            HandshakeRefused::Timeout => "tls_handshake_timeout",
            HandshakeRefused::Failed => "tls_handshake_failed",
        };
        metrics::counter!(HTTP_REJECTED, "reason" => reason).increment(1);
        // Debug only: scanners fail handshakes all day long.
        match error {
            Some(error) => tracing::debug!(reason, %error, "TLS handshake refused."),
            None => tracing::debug!(reason, "TLS handshake refused."),
        }
    }
}

pub fn certificate_loaded(listener: &'static str, not_after: i64, serial: &str, file: &str) {
    metrics::gauge!(TLS_CERT_NOT_AFTER, "listener" => listener).set(not_after as f64);
    tracing::info!(
        listener,
        serial,
        not_after,
        cert_file = file,
        "TLS certificate loaded."
    );
}
