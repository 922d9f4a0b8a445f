//! bulwark's ops listener: liveness, readiness and detailed health with dependency checks
//! (`/health*`, `/livez`, `/readyz`), Prometheus metrics (`/metrics`) and `/version`.
//!
//! The listener is meant for 127.0.0.1 only: failure reasons appear here and nowhere
//! else. The binary wires it: [`metrics::install`] once at start, a [`health::Health`]
//! fed with the built-in checks and the configured ones, and [`server::router`].

pub mod admin;
pub mod health;
pub mod metrics;
pub mod server;
pub mod version;
