//! Test support for real services on loopback, used as a dev-dependency by the other
//! crates' tests. No mocks where the real thing can run (DESIGN.md, "Real services in
//! tests").
//!
//! Two ways to get a service:
//!
//! - The shared PostgreSQL and Redis started once by `scripts/test.sh`:
//!   [`shared_database_url`] and [`shared_redis_url`]. Tests that share them keep to
//!   their own database and key prefix.
//! - A server of the test's own, [`PostgresServer`] or [`RedisServer`], on a free
//!   loopback port, for tests that stop, restart or otherwise disturb the service.
//!   It is killed, and its files removed, when dropped.
//!
//! Everything is synchronous (std::process, std::net): call it from a plain `#[test]` or
//! before building a runtime.

mod binaries;
mod postgres;
mod redis;
mod shared;
mod wait;

use std::net::{Ipv4Addr, TcpListener};

pub use postgres::PostgresServer;
pub use redis::RedisServer;
pub use shared::{shared_database_url, shared_redis_url};

/// A free TCP port on 127.0.0.1 (bind port 0, read, drop).
///
/// Another process may take the port between this call and its use; the window is short
/// and the kernel hands out ephemeral ports in turn, so in practice it does not happen.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("binding 127.0.0.1:0 works on any machine with a loopback interface");
    listener
        .local_addr()
        .expect("a bound listener has a local address")
        .port()
}
