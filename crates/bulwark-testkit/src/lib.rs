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
pub mod chromium;
mod postgres;
mod redis;
mod shared;
mod wait;

use std::net::{Ipv4Addr, TcpListener};

pub use postgres::PostgresServer;
pub use redis::RedisServer;
pub use shared::{shared_database_url, shared_redis_url};

/// A TCP port on 127.0.0.1 that was free a moment ago, from 12000-19999.
pub fn free_port() -> u16 {
    // Outside the kernel's ephemeral range (32768-60999) and the range scripts/test.sh
    // uses (20000-31999): a server stopped and restarted on its port must not find it
    // taken by some other test's outgoing connection in between.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id().rotate_left(16);
    for attempt in 0..2000u32 {
        let port = 12000 + (seed.wrapping_add(attempt.wrapping_mul(7919)) % 8000) as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 in 12000-19999")
}
