//! The dispatcher: takes due messages out of the [`Store`](crate::store::Store) under a
//! lease and delivers them to their destination over HTTP, one [`Destination`] per
//! receiving app.
//!
//! - **Claims** are per destination, at most as many as the destination has free
//!   delivery slots (its concurrency limit), so a claimed message never waits for a slot
//!   and its lease (`timeout + lease_margin`) covers the whole attempt. No transaction
//!   stays open during delivery.
//! - **Circuit breaker**: a destination whose breaker is open is skipped by claims, so its
//!   waiting messages keep their attempt counts; once `open_for` has passed, the
//!   breaker's probe count of messages is claimed, and their results decide.
//! - **410 Gone** pauses the destination: its messages stay pending and are skipped until
//!   it is resumed ([`Dispatcher::resume`], or the admin API changing the store). The
//!   pause is kept in the store, so a restart does not resume it.
//! - **No tight polling**: between rounds the dispatcher sleeps until the first of a
//!   wake-up ([`Dispatcher::waker`], notified by whoever persists a message, and by each
//!   finished delivery), the store's next due time for the destinations it would claim
//!   from, the end of a breaker's open period, or `max_idle`.
//! - **Contract with the app**: see [`delivery`].
//!
//! Messages for a destination that is not configured are dead-lettered (with the reason
//! in `last_error`), so an operator can replay them once it is configured again.

pub mod delivery;
pub mod events;
mod worker;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::breaker::BreakerConfig;
use crate::retry::{RetryPolicy, RetrySchedule};

pub use delivery::{
    EVENT_ID_HEADER, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER,
};
pub use worker::{Dispatcher, DispatcherStats};

/// Destinations named with this prefix hold alert notifications (`notify:<notifier>`).
/// Configured names cannot contain `:`, so the prefix never collides with a webhook's
/// destination; this dispatcher leaves those messages to the notification worker.
pub const NOTIFICATION_DESTINATION_PREFIX: &str = "notify:";

/// One receiving app, as the dispatcher needs it (validated elsewhere).
#[derive(Clone)]
pub struct Destination {
    /// The name stored with each message (`Message::destination`).
    pub name: String,
    /// Where deliveries are POSTed.
    pub url: reqwest::Url,
    /// How long one attempt may take, connection included.
    pub timeout: Duration,
    /// Deliveries in flight at most (at least 1).
    pub concurrency: u32,
    pub schedule: RetrySchedule,
    pub policy: RetryPolicy,
    pub breaker: BreakerConfig,
    /// Stored headers forwarded to the app besides `content-type` (case-insensitive).
    /// Signature-like headers are never forwarded, listed or not
    /// ([`delivery::is_forwardable`]).
    pub forward_headers: Vec<String>,
    /// bulwark's `whsec_...` secret for this destination: signs every attempt.
    pub signing_secret: Vec<u8>,
}

impl Destination {
    /// A destination with the default schedule, policy and breaker, a 30 s timeout and
    /// 8 deliveries in flight.
    pub fn new(name: impl Into<String>, url: reqwest::Url, signing_secret: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            url,
            timeout: Duration::from_secs(30),
            concurrency: 8,
            schedule: RetrySchedule::default(),
            policy: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            forward_headers: Vec::new(),
            signing_secret,
        }
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("name", &self.name)
            .field("url", &self.url.as_str())
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("schedule", &self.schedule)
            .field("policy", &self.policy)
            .field("breaker", &self.breaker)
            .field("forward_headers", &self.forward_headers)
            .field("signing_secret", &"***")
            .finish()
    }
}

/// A source of random numbers in [0, 1), for retry jitter.
pub type Random = Arc<dyn Fn() -> f64 + Send + Sync>;

/// How the dispatcher paces itself.
#[derive(Clone)]
pub struct DispatcherOptions {
    /// Added to a destination's timeout to make the lease, so a lease never expires
    /// while its attempt is still running.
    pub lease_margin: Duration,
    /// The longest sleep between rounds when nothing else wakes the dispatcher.
    pub max_idle: Duration,
    /// The sleep after a store error, instead of whatever was due.
    pub error_backoff: Duration,
    /// Messages claimed per destination and round at most.
    pub max_claim: u32,
    /// How often to look for messages whose destination is not configured (a webhook
    /// removed from the config, or a replay for one) and dead-letter them.
    pub unknown_sweep_every: Duration,
    /// Jitter source; the default is a small non-cryptographic generator.
    pub random: Random,
}

impl Default for DispatcherOptions {
    fn default() -> Self {
        Self {
            lease_margin: Duration::from_secs(5),
            max_idle: Duration::from_secs(5),
            error_backoff: Duration::from_secs(1),
            max_claim: 64,
            unknown_sweep_every: Duration::from_secs(60),
            random: worker::default_random(),
        }
    }
}

impl fmt::Debug for DispatcherOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherOptions")
            .field("lease_margin", &self.lease_margin)
            .field("max_idle", &self.max_idle)
            .field("error_backoff", &self.error_backoff)
            .field("unknown_sweep_every", &self.unknown_sweep_every)
            .field("max_claim", &self.max_claim)
            .finish_non_exhaustive()
    }
}

/// Why a dispatcher could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DispatcherError {
    #[error("destination {destination:?}: the signing secret is unusable")]
    Secret {
        destination: String,
        #[source]
        source: bulwark_signatures::SchemeError,
    },
    #[error("destination {destination:?}: the URL must be http or https")]
    Url { destination: String },
    #[error("destination {destination:?} is configured twice")]
    Duplicate { destination: String },
    #[error("the HTTP client could not be built")]
    Client(#[source] reqwest::Error),
}
