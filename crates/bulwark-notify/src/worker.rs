//! The notification worker: claims due `notify:<name>` messages of the configured
//! notifiers from the store, sends each with its notifier, and settles it.
//!
//! - sent (2xx, SMTP accepted) → ack, `bulwark_notifications_total{outcome="sent"}`;
//! - a firing message superseded by a newer resolved one (see [`crate::outbox`]) → ack
//!   without sending, `outcome="superseded"`;
//! - older than the expiry (the repeat interval: a newer notification of the group will
//!   have been made by then) → dead-lettered with reason `expired`,
//!   `bulwark_notifications_expired_total`;
//! - failed → retried on the notification schedule ([`NotifySchedule`]), never later than
//!   the expiry, `outcome="failed"`, and a [`BusEvent::NotificationFailed`] (which the
//!   alert engine ignores, so a failing notifier cannot alert about itself in a loop).
//!
//! Claimed messages are sent concurrently, each under its own lease (the notifier's
//! timeout plus a margin); a group's messages are never claimed together (ordering key).
//! Between rounds the worker sleeps until the store's next due time or a wake-up from the
//! outbox, and stops on its cancellation token after the sends in flight finish.

use bulwark_events::time::now_ms;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bulwark_events::{Bus, BusEvent};
use bulwark_queue::store::{ClaimedMessage, LeaseOutcome, Leases, StoreError};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::events::NotifyStats;
use crate::model::Notification;
use crate::notifier::{Notifier, NotifierKind};
use crate::outbox::{self, Outbox, Shared};
use crate::schedule::NotifySchedule;

/// The default expiry: the default repeat interval (DESIGN.md).
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(4 * 60 * 60);

/// How the worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    pub schedule: NotifySchedule,
    /// A notification older than this is dead-lettered as `expired` (the repeat interval).
    pub expiry: Duration,
    /// Added to the notifier's timeout for the lease of one attempt.
    pub lease_margin: Duration,
    /// Messages claimed per round at most.
    pub batch: u32,
    /// Longest sleep without a wake-up, a safety net only.
    pub max_idle: Duration,
    /// Pause after the store fails, before trying again.
    pub store_backoff: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            schedule: NotifySchedule::default(),
            expiry: DEFAULT_EXPIRY,
            lease_margin: Duration::from_secs(5),
            batch: 16,
            max_idle: Duration::from_secs(60),
            store_backoff: Duration::from_secs(1),
        }
    }
}

/// Delivers the queued notifications of a set of notifiers.
pub struct NotificationWorker<S> {
    store: S,
    /// By destination (`notify:<name>`).
    notifiers: Arc<HashMap<String, Arc<Notifier>>>,
    destinations: Vec<String>,
    lease_ms: i64,
    shared: Arc<Shared>,
    bus: Option<Bus>,
    options: Arc<WorkerOptions>,
}

impl<S> NotificationWorker<S>
where
    S: Leases + Clone + Send + Sync + 'static,
{
    /// A worker for `notifiers`, sharing the supersede map, the wake-up and the counts of
    /// `outbox`. `bus` receives [`BusEvent::NotificationFailed`].
    pub fn new<P>(
        store: S,
        notifiers: &[Arc<Notifier>],
        outbox: &Outbox<P>,
        options: WorkerOptions,
        bus: Option<Bus>,
    ) -> Self {
        let by_destination: HashMap<String, Arc<Notifier>> = notifiers
            .iter()
            .map(|n| (outbox::destination(n.name()), Arc::clone(n)))
            .collect();
        let mut destinations: Vec<String> = by_destination.keys().cloned().collect();
        destinations.sort();
        // An SMS attempt sends one request per recipient, each bounded by the timeout.
        let longest = notifiers
            .iter()
            .map(|n| {
                let requests = match &n.spec().kind {
                    NotifierKind::Sms(sms) => sms.to.len().max(1),
                    _ => 1,
                };
                n.timeout()
                    .saturating_mul(u32::try_from(requests).unwrap_or(u32::MAX))
            })
            .max()
            .unwrap_or(Duration::ZERO);
        let lease_ms = millis(longest.saturating_add(options.lease_margin));
        Self {
            store,
            notifiers: Arc::new(by_destination),
            destinations,
            lease_ms,
            shared: Arc::clone(&outbox.shared),
            bus,
            options: Arc::new(options),
        }
    }

    /// Counts since start (shared with the outbox).
    pub fn stats(&self) -> NotifyStats {
        self.shared.counters.snapshot()
    }

    /// The store destinations this worker claims from.
    pub fn destinations(&self) -> &[String] {
        &self.destinations
    }

    /// Runs until `cancel` fires; sends in flight are finished first.
    ///
    /// Sends run concurrently, up to [`MAX_IN_FLIGHT`], and claiming goes on while they
    /// run: a slow notifier (an SMTP server taking its whole timeout) holds its own
    /// messages only, never the others' (each claimed message keeps its lease until it
    /// is settled, so nothing is claimed twice).
    pub async fn run(self, cancel: CancellationToken) {
        if self.destinations.is_empty() {
            cancel.cancelled().await;
            return;
        }
        let mut sends: JoinSet<()> = JoinSet::new();
        while !cancel.is_cancelled() {
            while let Some(done) = sends.try_join_next() {
                log_join(done);
            }
            let free = MAX_IN_FLIGHT.saturating_sub(sends.len());
            let wait = if free == 0 {
                self.options.max_idle
            } else {
                let limit = u32::try_from(free)
                    .unwrap_or(u32::MAX)
                    .min(self.options.batch);
                match self.claim_into(&mut sends, limit, now_ms()).await {
                    Ok(0) => self.idle_wait().await,
                    Ok(_) => continue,
                    Err(error) => {
                        warn!(%error, "Cannot claim notifications; trying again shortly.");
                        self.options.store_backoff
                    }
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = self.shared.waker.notified() => {}
                () = tokio::time::sleep(wait) => {}
                // A settled send may free a slot or the next message of its group.
                Some(done) = sends.join_next(), if !sends.is_empty() => log_join(done),
            }
        }
        while let Some(done) = sends.join_next().await {
            log_join(done);
        }
    }

    /// Claims up to `limit` messages and starts their sends in `sends`.
    async fn claim_into(
        &self,
        sends: &mut JoinSet<()>,
        limit: u32,
        now_ms: i64,
    ) -> Result<usize, StoreError> {
        self.shared.counters.claimed();
        let claimed = self
            .store
            .claim(&self.destinations, limit, self.lease_ms, now_ms)
            .await?;
        let count = claimed.len();
        for message in claimed {
            let Some(notifier) = self.notifiers.get(&message.message.destination).cloned() else {
                continue;
            };
            let delivery = Delivery {
                store: self.store.clone(),
                notifier,
                shared: Arc::clone(&self.shared),
                bus: self.bus.clone(),
                options: Arc::clone(&self.options),
            };
            sends.spawn(async move { delivery.settle(message).await });
        }
        Ok(count)
    }

    /// Claims one batch and settles every message of it; returns how many were claimed.
    /// (Tests drive rounds one by one; [`run`](Self::run) overlaps them.)
    pub async fn round(&self, now_ms: i64) -> Result<usize, StoreError> {
        let mut sends = JoinSet::new();
        let count = self
            .claim_into(&mut sends, self.options.batch, now_ms)
            .await?;
        while let Some(done) = sends.join_next().await {
            log_join(done);
        }
        Ok(count)
    }

    /// How long to sleep when nothing was due: until the store's next due time.
    async fn idle_wait(&self) -> Duration {
        match self.store.next_due_at(&self.destinations).await {
            Ok(Some(at)) => {
                let wait = Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0));
                // A due time in the past with nothing claimable (a group's earlier
                // message leased elsewhere): wait a little instead of spinning.
                wait.clamp(Duration::from_millis(50), self.options.max_idle)
            }
            Ok(None) => self.options.max_idle,
            Err(error) => {
                warn!(%error, "Cannot read the next notification due time.");
                self.options.store_backoff
            }
        }
    }
}

/// One claimed message and what is needed to settle it.
struct Delivery<S> {
    store: S,
    notifier: Arc<Notifier>,
    shared: Arc<Shared>,
    bus: Option<Bus>,
    options: Arc<WorkerOptions>,
}

impl<S: Leases> Delivery<S> {
    async fn settle(self, claimed: ClaimedMessage) {
        let name = self.notifier.name().to_string();
        let message = &claimed.message;
        let lease = claimed.lease;
        let notification: Notification = match serde_json::from_slice(&message.body) {
            Ok(n) => n,
            Err(error) => {
                let reason = format!("undecodable notification: {error}");
                self.report(self.store.dead_letter(lease, reason, now_ms()).await, &name);
                return;
            }
        };
        // The ordering key may also name an SMS recipient; supersede is per group.
        let group_key = notification.group_key.clone();
        let recipient = message
            .headers
            .iter()
            .find(|(k, _)| k == crate::outbox::RECIPIENT_HEADER)
            .and_then(|(_, v)| String::from_utf8(v.clone()).ok());
        if self
            .shared
            .is_superseded(&name, &group_key, message.id, notification.status)
        {
            self.shared.counters.superseded(&name);
            let outcome = self.store.ack(lease, now_ms()).await;
            self.report(outcome, &name);
            return;
        }
        let expires_at = message
            .created_at_ms
            .saturating_add(millis(self.options.expiry));
        if now_ms() >= expires_at {
            self.shared.counters.expired(&name, message.attempts);
            let outcome = self
                .store
                .dead_letter(lease, "expired".into(), now_ms())
                .await;
            self.report(outcome, &name);
            self.shared.settled(&name, &group_key, message.id);
            return;
        }
        match self
            .notifier
            .send_to(&notification, recipient.as_deref())
            .await
        {
            Ok(()) => {
                self.shared.counters.sent(&name, message.attempts);
                let outcome = self.store.ack(lease, now_ms()).await;
                self.report(outcome, &name);
                self.shared.settled(&name, &group_key, message.id);
            }
            Err(error) => {
                let reason = error.to_string();
                self.shared
                    .counters
                    .failed(&name, message.attempts, &reason);
                if let Some(bus) = &self.bus {
                    bus.publish(BusEvent::NotificationFailed {
                        notifier: name.clone(),
                        reason: reason.clone(),
                    });
                }
                let now = now_ms();
                let delay = millis(self.options.schedule.next_delay(message.attempts));
                // Never later than the expiry, so an expired message leaves promptly.
                let at = now.saturating_add(delay).min(expires_at);
                let outcome = self.store.retry(lease, at, reason, now).await;
                self.report(outcome, &name);
            }
        }
    }

    fn report(&self, outcome: Result<LeaseOutcome, StoreError>, notifier: &str) {
        match outcome {
            Ok(LeaseOutcome::Applied) => {}
            Ok(LeaseOutcome::LeaseLost) => {
                warn!(
                    notifier,
                    "Notification lease lost before settling; it will be claimed again."
                );
            }
            Err(error) => {
                warn!(%error, notifier, "Cannot settle a notification; it will be claimed again.");
            }
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Sends in flight at most, over all notifiers.
pub const MAX_IN_FLIGHT: usize = 32;

fn log_join(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done {
        warn!(%error, "A notification delivery task failed.");
    }
}
