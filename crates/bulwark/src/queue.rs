//! Wiring of the durable queue: the SQLite store in the data folder and the dispatcher
//! that delivers stored webhooks to their destinations. The store is opened only when
//! webhooks or notifiers (whose notifications it also holds) are configured, so a pure
//! proxy never takes the data folder's lock.

use anyhow::Context;
use bulwark_config::ValidatedConfig;
use bulwark_config::checks::STORE_CHECK;
use bulwark_proxy::state::QueueHandle;
use bulwark_queue::breaker::BreakerConfig;
use bulwark_queue::dispatcher::{Destination, Dispatcher, DispatcherOptions};
use bulwark_queue::retry::RetrySchedule;
use bulwark_queue::store::{Leases, SqliteStore, StoreError};
use bulwark_queue::upkeep::UpkeepOptions;
use tokio_util::sync::CancellationToken;

/// Opens the store and starts the dispatcher (with webhooks); `None` without webhooks
/// and notifiers.
pub async fn start(
    config: &ValidatedConfig,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<QueueHandle>> {
    if config.webhooks.is_empty() && config.notifiers.is_empty() {
        return Ok(None);
    }
    let dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&dir))
        .await
        .context("opening the store")?
        .with_context(|| {
            format!(
                "cannot open the message store in {}",
                config.data_dir.display()
            )
        })?;
    // A previous process may have died holding leases; free them now rather than wait.
    store
        .release_all()
        .await
        .context("releasing leases at start")?;
    if config.webhooks.is_empty() {
        // Notifications only: their own worker delivers them.
        return Ok(Some(QueueHandle {
            store,
            waker: std::sync::Arc::new(tokio::sync::Notify::new()),
        }));
    }
    let signing_key = config
        .signing_key
        .as_ref()
        .context("validation requires signing.key with webhooks")?
        .expose()
        .as_bytes()
        .to_vec();
    bulwark_queue::dispatcher::events::describe();
    let mut destinations = Vec::new();
    for webhook in &config.webhooks {
        // Series that exist from the start, so dashboards and alerts see 0, not nothing.
        let name = webhook.name.clone();
        metrics::gauge!(bulwark_queue::dispatcher::events::BREAKER_STATE, "destination" => name.clone()).set(0.0);
        metrics::counter!(bulwark_queue::dispatcher::events::LEASES_LOST, "destination" => name)
            .absolute(0);
        let url = webhook
            .destination
            .parse()
            .with_context(|| format!("webhook {}: destination is not a URL", webhook.name))?;
        let mut destination = Destination::new(&webhook.name, url, signing_key.clone());
        destination.timeout = webhook.delivery_timeout;
        destination.concurrency = webhook.concurrency;
        destination.forward_headers = webhook.forward_headers.clone();
        destination.policy.dead_on_4xx = webhook.dead_on_4xx;
        destination.policy.max_age = Some(webhook.max_age);
        let breaker = &webhook.breaker;
        destination.breaker = BreakerConfig {
            consecutive_failures: breaker.consecutive_failures,
            failure_ratio: f64::from(breaker.failure_percent) / 100.0,
            min_volume: breaker.min_volume,
            window: breaker.window,
            open_for: breaker.open_for,
            ..BreakerConfig::default()
        };
        if let Some(delays) = &webhook.retry_schedule {
            destination.schedule = RetrySchedule {
                delays: delays.clone(),
            };
        }
        destinations.push(destination);
    }
    let dispatcher = Dispatcher::new(store.clone(), destinations, DispatcherOptions::default())
        .context("signing.key must be a Standard Webhooks secret: whsec_ followed by base64")?;
    let waker = dispatcher.waker();
    let cancel = cancel.clone();
    tokio::spawn(async move { dispatcher.run(cancel).await });
    tracing::info!(
        webhooks = config.webhooks.len(),
        "Message store open; dispatcher started."
    );
    Ok(Some(QueueHandle { store, waker }))
}

/// Starts the store's upkeep: the write probe behind the `store` readiness check, the
/// queue gauges, and pruning of delivered messages.
pub fn spawn_upkeep(
    queue: &QueueHandle,
    config: &ValidatedConfig,
    health: bulwark_ops::health::Health,
    cancel: &CancellationToken,
) {
    let options = UpkeepOptions {
        retention: config.store.retention,
        destinations: config.webhooks.iter().map(|w| w.name.clone()).collect(),
        ..UpkeepOptions::default()
    };
    let on_probe = move |probe: Result<(), &StoreError>| {
        let output = probe.err().map(ToString::to_string);
        health.set_builtin(STORE_CHECK, output.is_none(), output);
    };
    tokio::spawn(bulwark_queue::upkeep::run(
        queue.store.clone(),
        options,
        on_probe,
        cancel.clone(),
    ));
}
