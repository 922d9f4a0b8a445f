//! The public side of bulwark: a listener with the edge timeouts hyper does not set by
//! itself, a router that picks one route per request, and the route's action (`proxy`
//! for now; `inbox` and `publish` join later).
//!
//! Request flow: accept -> read the first request head (or HTTP/2 preface) under a
//! deadline -> hyper serves the connection -> [`service`] matches a route -> the route's
//! [`policy`] (limits, authentication, roles) -> the action forwards to an upstream target
//! or stores a webhook -> the response streams back while its bytes are counted for the
//! access log.

pub mod access_log;
pub mod events;
pub mod forwarded;
pub mod inbox;
pub mod listener;
pub mod pages;
pub mod policy;
pub mod problem;
pub mod proxy;
pub mod router;
pub mod service;
pub mod state;
pub mod target;
pub mod tls;
pub mod upstream;

pub use listener::serve;
pub use state::{ProxyState, SharedState};
