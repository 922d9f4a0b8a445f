//! TLS on both sides of the proxy, all on the binary's one crypto provider (aws-lc-rs,
//! DESIGN.md): the public listener's server side, whose certificate a reload swaps
//! without touching open connections ([`server`]), and the client side for `https`
//! upstream targets ([`client`]).

pub mod client;
pub mod events;
pub mod server;

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

pub use client::client_config;
pub use server::TlsServer;

/// The one provider, named explicitly so that no code path depends on which provider
/// happens to be installed as the process default.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}
