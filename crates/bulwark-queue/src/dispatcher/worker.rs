//! The dispatcher's loop: claim, deliver with a slot per destination, settle, sleep.

use bulwark_events::time::now_ms;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::delivery::{self, Attempt};
use super::events::{self, Settled};
use super::{Destination, DispatcherError, DispatcherOptions, Random};
use crate::breaker::{Breaker, BreakerState, Transition};
use crate::retry::{AttemptOutcome, Decision, classify, within_max_age};
use crate::store::{ClaimedMessage, LeaseOutcome, Leases, Pauses, StoreError};

/// Counters of what the dispatcher did since it was built (also exported as metrics);
/// tests and health checks read them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatcherStats {
    /// Rounds: each round claims from every claimable destination, then sleeps.
    pub rounds: u64,
    /// `claim` calls made to the store.
    pub claims: u64,
    /// Delivery attempts started.
    pub attempts: u64,
    pub delivered: u64,
    pub retried: u64,
    pub dead: u64,
    /// 410 answers (each pauses its destination).
    pub paused: u64,
    pub leases_lost: u64,
}

#[derive(Default)]
struct Counters {
    rounds: AtomicU64,
    claims: AtomicU64,
    attempts: AtomicU64,
    delivered: AtomicU64,
    retried: AtomicU64,
    dead: AtomicU64,
    paused: AtomicU64,
    leases_lost: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Runs deliveries for a set of destinations. Cheap to clone; clones share everything.
pub struct Dispatcher<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for Dispatcher<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Shared<S> {
    store: S,
    client: reqwest::Client,
    destinations: Vec<Lane>,
    /// Every configured name: the skip list of the claim for unknown destinations.
    names: Vec<String>,
    wake: Arc<Notify>,
    options: DispatcherOptions,
    counters: Counters,
}

/// One destination's runtime state.
struct Lane {
    config: Arc<Destination>,
    /// This lane's destination, as the one-element list claims take.
    claim_list: Vec<String>,
    slots: Arc<Semaphore>,
    in_flight: AtomicU32,
    breaker: Mutex<BreakerSlot>,
    paused: AtomicBool,
}

struct BreakerSlot {
    breaker: Breaker,
    /// When the current open period ends (the breaker keeps it private).
    open_until: Option<std::time::Instant>,
}

impl Lane {
    fn breaker(&self) -> MutexGuard<'_, BreakerSlot> {
        // A panic while holding this lock cannot leave the breaker half-updated in a way
        // that matters more than stopping deliveries would, so a poisoned lock is used.
        self.breaker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many messages this lane may claim now, or `None` to skip it (paused, breaker
    /// open, no free slot, or a half-open probe still out).
    fn claimable(&self, now: Instant, max_claim: u32) -> Option<u32> {
        if self.paused.load(Ordering::Acquire) {
            return None;
        }
        let free = u32::try_from(self.slots.available_permits()).unwrap_or(u32::MAX);
        if free == 0 {
            return None;
        }
        let slot = self.breaker();
        if slot.breaker.is_open(now.into_std()) {
            return None;
        }
        if slot.breaker.state() != BreakerState::Closed {
            // Due for probing: only the probes, and only when none is out.
            if self.in_flight.load(Ordering::Acquire) > 0 {
                return None;
            }
            return Some(free.min(self.config.breaker.half_open_probes.max(1)));
        }
        Some(free.min(max_claim))
    }

    fn record(&self, transition: Option<Transition>, now: std::time::Instant) {
        if let Some(transition) = transition {
            if transition.to == BreakerState::Open {
                self.breaker().open_until = Some(now + self.config.breaker.open_for);
            }
            events::breaker_transition(&self.config.name, transition);
        }
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A splitmix64 generator seeded from the clock: jitter only needs to spread retries,
/// not to be unpredictable.
pub(super) fn default_random() -> Random {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0x9e37_79b9, |d| d.as_nanos() as u64);
    let state = AtomicU64::new(seed);
    Arc::new(move || {
        let mut z = state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    })
}

impl<S: Leases + Pauses + 'static> Dispatcher<S> {
    /// Checks every destination (unique name, http(s) URL, usable secret) and builds the
    /// HTTP client. Registers the metric descriptions and sets each breaker gauge to 0.
    pub fn new(
        store: S,
        destinations: Vec<Destination>,
        options: DispatcherOptions,
    ) -> Result<Self, DispatcherError> {
        let mut seen = HashSet::new();
        for d in &destinations {
            if !seen.insert(d.name.clone()) {
                return Err(DispatcherError::Duplicate {
                    destination: d.name.clone(),
                });
            }
            if !matches!(d.url.scheme(), "http" | "https") {
                return Err(DispatcherError::Url {
                    destination: d.name.clone(),
                });
            }
            bulwark_signatures::standard::sign(&d.signing_secret, "check", 0, b"").map_err(
                |source| DispatcherError::Secret {
                    destination: d.name.clone(),
                    source,
                },
            )?;
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(DispatcherError::Client)?;
        events::describe();
        let names: Vec<String> = destinations.iter().map(|d| d.name.clone()).collect();
        let now = Instant::now().into_std();
        let lanes = destinations
            .into_iter()
            .map(|d| {
                events::breaker_state(&d.name, BreakerState::Closed);
                Lane {
                    claim_list: vec![d.name.clone()],
                    slots: Arc::new(Semaphore::new(d.concurrency.max(1) as usize)),
                    in_flight: AtomicU32::new(0),
                    breaker: Mutex::new(BreakerSlot {
                        breaker: Breaker::new(d.breaker, now),
                        open_until: None,
                    }),
                    paused: AtomicBool::new(false),
                    config: Arc::new(d),
                }
            })
            .collect();
        Ok(Self {
            shared: Arc::new(Shared {
                store,
                client,
                destinations: lanes,
                names,
                wake: Arc::new(Notify::new()),
                options,
                counters: Counters::default(),
            }),
        })
    }

    /// Notify this after persisting a message so it is claimed without waiting for the
    /// next due time. Spurious notifications cost one round.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.shared.wake)
    }

    pub fn stats(&self) -> DispatcherStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DispatcherStats {
            rounds: get(&c.rounds),
            claims: get(&c.claims),
            attempts: get(&c.attempts),
            delivered: get(&c.delivered),
            retried: get(&c.retried),
            dead: get(&c.dead),
            paused: get(&c.paused),
            leases_lost: get(&c.leases_lost),
        }
    }

    /// The breaker state of a destination, `None` if it is not configured.
    pub fn breaker_state(&self, destination: &str) -> Option<BreakerState> {
        self.lane(destination).map(|l| l.breaker().breaker.state())
    }

    /// Whether a destination is paused (it answered 410), `None` if not configured.
    pub fn is_paused(&self, destination: &str) -> Option<bool> {
        self.lane(destination)
            .map(|l| l.paused.load(Ordering::Acquire))
    }

    /// Resumes a paused destination in the store and here; `false` if it was not paused.
    /// (An operator resumes through the admin API, which only changes the store and
    /// wakes the dispatcher: each round re-reads the pauses while any lane is paused.)
    pub async fn resume(&self, destination: &str) -> Result<bool, StoreError> {
        let resumed = self.shared.store.resume(destination).await?;
        if let Some(lane) = self.lane(destination) {
            lane.paused.store(false, Ordering::Release);
        }
        self.shared.wake.notify_one();
        Ok(resumed)
    }

    fn lane(&self, name: &str) -> Option<&Lane> {
        self.shared
            .destinations
            .iter()
            .find(|l| l.config.name == name)
    }

    /// Delivers until `cancel` fires, then waits for the deliveries in flight to settle
    /// (each is bounded by its destination's timeout) and returns.
    pub async fn run(&self, cancel: CancellationToken) {
        let shared = &self.shared;
        let mut tasks = JoinSet::new();
        let mut pauses_known = false;
        let mut last_sweep: Option<Instant> = None;
        loop {
            while let Some(done) = tasks.try_join_next() {
                if let Err(error) = done {
                    tracing::error!(%error, "Delivery task failed.");
                }
            }
            bump(&shared.counters.rounds);
            let mut store_failed = false;
            // Pauses live in the store: read them at start, and while any lane is paused
            // (an operator may have resumed it through the admin API).
            let any_paused = shared
                .destinations
                .iter()
                .any(|l| l.paused.load(Ordering::Acquire));
            if !pauses_known || any_paused {
                match shared.store.paused().await {
                    Ok(paused) => {
                        pauses_known = true;
                        for lane in shared.destinations.iter() {
                            let is = paused.iter().any(|p| p.destination == lane.config.name);
                            lane.paused.store(is, Ordering::Release);
                        }
                    }
                    Err(error) => {
                        events::store_failed(&error, "read paused destinations");
                        store_failed = true;
                    }
                }
            }
            let now = Instant::now();
            let now_ms = now_ms();
            for (index, lane) in shared.destinations.iter().enumerate() {
                let Some(limit) = lane.claimable(now, shared.options.max_claim) else {
                    continue;
                };
                let lease_ms = duration_ms(lane.config.timeout + shared.options.lease_margin);
                bump(&shared.counters.claims);
                match shared
                    .store
                    .claim(&lane.claim_list, limit, lease_ms, now_ms)
                    .await
                {
                    Ok(claimed) => {
                        for message in claimed {
                            self.start(index, message, &mut tasks);
                        }
                    }
                    Err(error) => {
                        events::store_failed(&error, "claim");
                        store_failed = true;
                    }
                }
            }
            if last_sweep.is_none_or(|at| at.elapsed() >= shared.options.unknown_sweep_every) {
                last_sweep = Some(Instant::now());
                if let Err(error) = shared.dead_letter_unknown(now_ms).await {
                    events::store_failed(&error, "dead-letter messages of unknown destinations");
                    store_failed = true;
                }
            }

            let deadline = match self.next_wake(store_failed).await {
                Ok(deadline) => deadline,
                Err(error) => {
                    events::store_failed(&error, "find the next due time");
                    Instant::now() + shared.options.error_backoff.min(shared.options.max_idle)
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = shared.wake.notified() => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
        while let Some(done) = tasks.join_next().await {
            if let Err(error) = done {
                tracing::error!(%error, "Delivery task failed.");
            }
        }
    }

    /// The earliest of: the next due message of a destination that could be claimed
    /// from, the end of an open breaker period, `max_idle` from now.
    async fn next_wake(&self, store_failed: bool) -> Result<Instant, StoreError> {
        let shared = &self.shared;
        let now = Instant::now();
        let mut deadline = now + shared.options.max_idle;
        if store_failed {
            return Ok(now + shared.options.error_backoff.min(shared.options.max_idle));
        }
        let mut claimable = Vec::new();
        for lane in &shared.destinations {
            if lane.claimable(now, 1).is_some() {
                claimable.push(lane.config.name.clone());
            }
            let slot = lane.breaker();
            if slot.breaker.is_open(now.into_std())
                && let Some(until) = slot.open_until
            {
                deadline = deadline.min(Instant::from_std(until));
            }
        }
        if let Some(due_ms) = shared.store.next_due_at(&claimable).await? {
            let wait = u64::try_from(due_ms.saturating_sub(now_ms())).unwrap_or(0);
            deadline = deadline.min(Instant::now() + Duration::from_millis(wait));
        }
        Ok(deadline)
    }

    /// Takes a slot and a breaker permit for a claimed message and spawns its delivery.
    fn start(&self, index: usize, claimed: ClaimedMessage, tasks: &mut JoinSet<()>) {
        let lane = &self.shared.destinations[index];
        // Claims never exceed the free slots, and only this loop takes slots, so this
        // succeeds; if it did not, the task waits for a slot under its lease.
        let permit = Arc::clone(&lane.slots).try_acquire_owned().ok();
        let now = Instant::now().into_std();
        let (allowed, transition) = lane.breaker().breaker.try_acquire(now);
        lane.record(transition, now);
        if !allowed {
            // The breaker opened between the claim and now (another delivery failed).
            // The claim already counted the attempt, so the message is delivered anyway
            // rather than put back with an attempt burnt.
            tracing::debug!(destination = %lane.config.name, "Delivering a message claimed before the breaker opened.");
        }
        lane.in_flight.fetch_add(1, Ordering::AcqRel);
        bump(&self.shared.counters.attempts);
        let this = self.clone();
        tasks.spawn(async move {
            let lane = &this.shared.destinations[index];
            let _permit: OwnedSemaphorePermit = match permit {
                Some(permit) => permit,
                None => match Arc::clone(&lane.slots).acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => return, // the semaphore is never closed
                },
            };
            let unix_secs = u64::try_from(now_ms() / 1000).unwrap_or(0);
            let attempt = delivery::attempt(
                &this.shared.client,
                &lane.config,
                &claimed.message,
                unix_secs,
            )
            .await;
            this.settle(index, claimed, attempt).await;
            lane.in_flight.fetch_sub(1, Ordering::AcqRel);
            this.shared.wake.notify_one();
        });
    }

    async fn settle(&self, index: usize, claimed: ClaimedMessage, attempt: Attempt) {
        let shared = &self.shared;
        let lane = &shared.destinations[index];
        let config = &lane.config;
        let now = Instant::now().into_std();
        let transition = {
            let mut slot = lane.breaker();
            if is_breaker_failure(attempt.outcome) {
                slot.breaker.on_failure(now)
            } else {
                slot.breaker.on_success(now)
            }
        };
        lane.record(transition, now);

        let decision = classify(
            attempt.outcome,
            claimed.message.attempts,
            &config.schedule,
            &config.policy,
            (shared.options.random)(),
        );
        let now_ms = now_ms();
        let age = Duration::from_millis(
            u64::try_from(now_ms.saturating_sub(claimed.message.created_at_ms)).unwrap_or(0),
        );
        let aged = within_max_age(decision, age, &config.policy);
        let mut attempt = attempt;
        if aged != decision {
            attempt.detail = format!("{} (max age reached)", attempt.detail);
        }
        let decision = aged;
        let lease = claimed.lease;
        let (settled, result) = match decision {
            Decision::Delivered => (Settled::Delivered, shared.store.ack(lease, now_ms).await),
            Decision::Retry { after } => {
                let at = now_ms.saturating_add(duration_ms(after));
                let result = shared
                    .store
                    .retry(lease, at, attempt.detail.clone(), now_ms)
                    .await;
                (Settled::Retry, result)
            }
            Decision::Dead => {
                let result = shared
                    .store
                    .dead_letter(lease, attempt.detail.clone(), now_ms)
                    .await;
                (Settled::Dead, result)
            }
            Decision::PauseDestination => {
                lane.paused.store(true, Ordering::Release);
                // Kept in the store so that a restart does not resume it. If that write
                // fails, the next round's re-read resumes the lane and the next 410
                // pauses it again: one more attempt, nothing lost.
                if let Err(error) = shared
                    .store
                    .pause(&config.name, attempt.detail.clone(), now_ms)
                    .await
                {
                    events::store_failed(&error, "pause a destination");
                }
                // Back to pending, due now: it is delivered first once resumed.
                let result = shared
                    .store
                    .retry(lease, now_ms, attempt.detail.clone(), now_ms)
                    .await;
                (Settled::Paused, result)
            }
        };
        match result {
            Ok(LeaseOutcome::Applied) => {
                let counter = match settled {
                    Settled::Delivered => &shared.counters.delivered,
                    Settled::Retry => &shared.counters.retried,
                    Settled::Dead => &shared.counters.dead,
                    Settled::Paused => &shared.counters.paused,
                };
                bump(counter);
                events::attempt_settled(&config.name, settled, attempt.duration, &attempt.detail);
            }
            Ok(LeaseOutcome::LeaseLost) => {
                bump(&shared.counters.leases_lost);
                events::lease_lost(&config.name);
            }
            // The lease expires and the message is claimed again: at least once.
            Err(error) => events::store_failed(&error, "settle a delivery"),
        }
    }
}

impl<S: Leases + Pauses> Shared<S> {
    /// Dead-letters the messages whose destination is not configured.
    async fn dead_letter_unknown(&self, now_ms: i64) -> Result<(), StoreError> {
        let lease_ms = duration_ms(self.options.lease_margin);
        for destination in self.store.undelivered_destinations().await? {
            // Notifications share the store but have their own worker (bulwark-notify).
            if self.names.contains(&destination)
                || destination.starts_with(super::NOTIFICATION_DESTINATION_PREFIX)
            {
                continue;
            }
            let list = [destination];
            loop {
                bump(&self.counters.claims);
                let claimed = self
                    .store
                    .claim(&list, self.options.max_claim, lease_ms, now_ms)
                    .await?;
                if claimed.is_empty() {
                    break;
                }
                for c in claimed {
                    self.dead_letter_unknown_one(c, now_ms).await?;
                }
            }
        }
        Ok(())
    }

    async fn dead_letter_unknown_one(
        &self,
        c: ClaimedMessage,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let error = format!(
            "no destination named {:?} is configured",
            c.message.destination
        );
        let result = self
            .store
            .dead_letter(c.lease, error.clone(), now_ms)
            .await?;
        if result == LeaseOutcome::Applied {
            bump(&self.counters.dead);
            events::attempt_settled(
                &c.message.destination,
                Settled::Dead,
                Duration::ZERO,
                &error,
            );
        }
        Ok(())
    }
}

/// Whether an outcome counts against the destination's health: no answer, or an answer
/// that says the app is failing or overloaded. Other answers (even 4xx) show it is up.
fn is_breaker_failure(outcome: AttemptOutcome) -> bool {
    match outcome {
        AttemptOutcome::Timeout | AttemptOutcome::Transport => true,
        AttemptOutcome::Status { status, .. } => status >= 500 || status == 408 || status == 429,
    }
}
