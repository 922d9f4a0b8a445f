//! Store upkeep, beside the dispatcher. Every tick it proves that the store still takes
//! writes (readiness: DESIGN.md makes "store accepting writes" critical), publishes queue
//! depths and the age of the oldest undelivered message, and every minute prunes
//! delivered messages older than their retention.

pub mod depths;
pub mod events;

use bulwark_events::time::now_ms;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::{Inspect, Prune, StoreError};

#[derive(Clone, Debug)]
pub struct UpkeepOptions {
    /// How often to probe and count.
    pub interval: Duration,
    /// How long delivered messages are kept (dedup and `dlq show` look at them).
    pub retention: Duration,
    /// Configured destinations: each gets its series even while its queue is empty.
    pub destinations: Vec<String>,
}

impl Default for UpkeepOptions {
    fn default() -> Self {
        UpkeepOptions {
            interval: Duration::from_secs(5),
            retention: Duration::from_secs(7 * 24 * 3600),
            destinations: Vec::new(),
        }
    }
}

/// Pruning runs at most this often, or once per retention period when that is shorter
/// (tests use a retention of a second or two).
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Runs until `cancel`. `on_probe` hears every probe's result (the binary feeds it to the
/// health tracker).
pub async fn run<S, F>(store: S, options: UpkeepOptions, on_probe: F, cancel: CancellationToken)
where
    S: Inspect + Prune,
    F: Fn(Result<(), &StoreError>) + Send,
{
    events::describe();
    let mut ticker = tokio::time::interval(options.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_prune: Option<tokio::time::Instant> = None;
    let prune_every = PRUNE_EVERY.min(options.retention);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let now = now_ms();
        let probe = store.probe_write(now).await;
        if let Err(error) = &probe {
            events::store_failed(error, "probe writes");
        }
        on_probe(probe.as_ref().map(|_| ()));
        match store.depths().await {
            Ok(depths) => events::publish(&depths::summarise(&options.destinations, &depths, now)),
            Err(error) => events::store_failed(&error, "count queued messages"),
        }
        if last_prune.is_none_or(|at| at.elapsed() >= prune_every) {
            last_prune = Some(tokio::time::Instant::now());
            let cutoff = now.saturating_sub(duration_ms(options.retention));
            match store.prune_delivered(cutoff).await {
                Ok(pruned) => events::pruned(pruned),
                Err(error) => events::store_failed(&error, "prune delivered messages"),
            }
        }
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
