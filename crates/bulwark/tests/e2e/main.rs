//! End-to-end tests: each starts the real bulwark binary on port 0.

mod support;

mod alerting;
mod config;
mod delivery;
mod dlq;
mod edge_security;
mod hardening;
mod health;
mod lifecycle;
mod metrics;
mod proxy;
mod request_policy;
mod status_page;
mod timeouts;
mod tls;
mod webhook_sources;
mod webhooks;
