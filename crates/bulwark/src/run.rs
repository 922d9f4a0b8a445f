//! `bulwark run`: load the config, start every part, print the bound addresses as one
//! JSON line, then serve until SIGTERM/SIGINT, reloading on SIGHUP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use arc_swap::ArcSwap;
use bulwark_config::ValidatedConfig;
use bulwark_config::telemetry::LogFormat;
use bulwark_events::{Bus, BusEvent};
use bulwark_ops::health::Health;
use bulwark_proxy::access_log::AccessLogSink;
use bulwark_proxy::{ProxyState, SharedState};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const CONFIG_RELOADS: &str = "bulwark_config_reloads_total";
const CONFIG_LAST_SUCCESS: &str = "bulwark_config_last_reload_success_timestamp_seconds";
const BUILD_INFO: &str = "bulwark_build_info";
const LOG_LINES_DROPPED: &str = "bulwark_log_lines_dropped_total";

pub fn main(config_path: PathBuf, log_format: Option<LogFormat>) -> ExitCode {
    // The one rustls provider of the binary (DESIGN.md), as the process default for the
    // libraries that ask for it (reqwest); bulwark's own TLS names it explicitly. An
    // error only means it is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let loaded = match bulwark_config::load_file_checked(&config_path, &extra_checks) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let config = loaded.config;
    let format = log_format.unwrap_or(config.log.format);
    // The guard lives until main returns: dropping it flushes queued log lines.
    let crate::logging::Logging {
        guard: _log_guard,
        access_log,
        dropped: dropped_log_lines,
    } = match crate::logging::init(format, &config.log.level) {
        Ok(logging) => logging,
        Err(error) => {
            eprintln!("{error:#}");
            return ExitCode::FAILURE;
        }
    };
    // One worker: a current-thread runtime does the same work without the multi-thread
    // scheduler's cross-thread wake-ups.
    let mut runtime = if config.workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    runtime.enable_all();
    if config.workers > 1 {
        runtime.worker_threads(config.workers);
    }
    let runtime = match runtime.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(
        config_path,
        config,
        loaded.warnings,
        access_log,
        dropped_log_lines,
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "bulwark stopped.");
            eprintln!("bulwark: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Config checks that need the crates above the config: monitor conditions, alert rules.
pub fn extra_checks(config: &ValidatedConfig) -> Vec<(String, String)> {
    let mut problems = crate::alerting::monitors::condition_problems(config);
    problems.extend(crate::alerting::engine_config::problems(config));
    problems
}

fn describe_metrics() {
    metrics::describe_counter!(
        CONFIG_RELOADS,
        "Config reloads on SIGHUP, by result (success, failure)."
    );
    metrics::describe_gauge!(
        CONFIG_LAST_SUCCESS,
        metrics::Unit::Seconds,
        "Unix time of the last successful config load (start or reload)."
    );
    metrics::describe_gauge!(
        BUILD_INFO,
        "Always 1; labels carry the version and git commit."
    );
    metrics::describe_counter!(
        bulwark_events::subscribers::EVENTS_METRIC,
        "Bus events published, by event name."
    );
    metrics::describe_counter!(
        bulwark_events::subscribers::SECURITY_EVENTS_METRIC,
        "Security violations (auth failures, refused roles, rate limits, forged webhooks, malformed requests), by type and severity."
    );
    metrics::describe_counter!(
        "bulwark_bus_events_dropped_total",
        "Bus events a lagging subscriber lost, by subscriber."
    );
    metrics::describe_counter!(
        LOG_LINES_DROPPED,
        "Log lines dropped because the log writer fell behind (requests are never slowed for logs)."
    );
}

async fn bind(addr: SocketAddr, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {key} = {addr}"))
}

async fn serve(
    config_path: PathBuf,
    config: ValidatedConfig,
    warnings: Vec<bulwark_config::Problem>,
    access_log: Arc<dyn AccessLogSink>,
    dropped_log_lines: tracing_appender::non_blocking::ErrorCounter,
) -> anyhow::Result<()> {
    let metrics_handle =
        bulwark_ops::metrics::install().context("cannot install the metrics recorder")?;
    bulwark_proxy::events::describe();
    bulwark_proxy::tls::events::describe();
    describe_metrics();
    let version = crate::version_info();
    metrics::gauge!(BUILD_INFO, "version" => version.version.clone(), "commit" => version.commit.clone()).set(1.0);
    for result in ["success", "failure"] {
        metrics::counter!(CONFIG_RELOADS, "result" => result).absolute(0);
    }
    metrics::gauge!(bulwark_proxy::events::OPEN_CONNECTIONS).set(0.0);
    metrics::counter!("bulwark_bus_events_dropped_total", "subscriber" => "audit").absolute(0);
    mark_config_loaded();

    // Background work that outlives the drain: event subscribers, checks, ops, demo.
    let background = CancellationToken::new();
    // The lossy log writer only counts what it drops; publish that count regularly.
    let logs_cancel = background.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = every.tick() => {
                    metrics::counter!(LOG_LINES_DROPPED).absolute(dropped_log_lines.dropped_lines() as u64);
                }
                () = logs_cancel.cancelled() => return,
            }
        }
    });
    // Without a scrape, histogram samples would pile up; upkeep folds them regularly.
    tokio::spawn(bulwark_ops::metrics::run_upkeep(
        metrics_handle.clone(),
        Duration::from_secs(5),
        background.clone(),
    ));
    let bus = Bus::new(1024);
    let mut subscribers = Vec::new();
    subscribers.push(tokio::spawn(bulwark_events::subscribers::run_metrics(
        bus.subscribe("metrics"),
        background.clone(),
    )));
    tokio::fs::create_dir_all(&config.data_dir)
        .await
        .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
    if let Some(path) = &config.audit_path {
        let audit = bulwark_events::subscribers::AuditLog::open(path).await?;
        subscribers.push(tokio::spawn(
            audit.run(bus.subscribe("audit"), background.clone()),
        ));
    }

    let queue = crate::queue::start(&config, &background).await?;
    let public = bind(config.listen.public, "listen.public").await?;
    let ops = bind(config.listen.ops, "listen.ops").await?;
    let redirect = match config.listen.redirect_http {
        Some(addr) => Some(bind(addr, "listen.redirect_http").await?),
        None => None,
    };
    let tls = match &config.listen.tls {
        Some(certificate) => Some(Arc::new(
            bulwark_proxy::tls::TlsServer::new("public", certificate)
                .context("cannot set up TLS on listen.public")?,
        )),
        None => None,
    };
    let demo = match config.demo_listen {
        Some(addr) => Some(bind(addr, "demo.listen").await?),
        None => None,
    };

    let health = Health::new(bus.clone());
    health.set_builtin("config", true, None);
    health.set_builtin("listeners", true, None);
    if let Some(queue) = &queue {
        // Critical like the other built-ins: without its store the inbox can only
        // answer 503, so a load balancer should send webhooks elsewhere. The upkeep's
        // write probe keeps it current; it passes until the first probe says otherwise.
        health.set_builtin(bulwark_config::checks::STORE_CHECK, true, None);
        crate::queue::spawn_upkeep(queue, &config, health.clone(), &background);
    }
    health.apply(&config.checks, &config.upstreams, &background);

    let alerting = crate::alerting::start(
        &config,
        &bus,
        queue.as_ref().map(|q| &q.store),
        &health,
        metrics_handle.clone(),
        &background,
    )
    .await?;
    let pages: Option<Arc<dyn bulwark_proxy::pages::PublicPages>> = match (
        crate::alerting::status_page::PageConfig::from_config(&config),
        &alerting.monitors,
    ) {
        (Some(page), Some(monitors)) => Some(
            crate::alerting::status_page::start(page, monitors.clone(), background.clone()).await,
        ),
        _ => None,
    };
    let alert_admin = crate::alerting::admin::AlertAdmin {
        alerting: alerting.clone(),
        tokens: Arc::new(config.admin_tokens.clone()),
        bus: bus.clone(),
    };

    let ops_state = bulwark_ops::server::OpsState {
        health: health.clone(),
        metrics: metrics_handle,
        version,
    };
    let ops_addr = ops.local_addr()?;
    // The dead-letter admin API exists with the store, i.e. when webhooks are configured.
    let admin = queue.as_ref().map(|q| bulwark_ops::admin::AdminState {
        store: q.store.clone(),
        tokens: config.admin_tokens.clone(),
        waker: Some(q.waker.clone()),
        bus: Some(bus.clone()),
    });
    bulwark_ops::admin::events::describe();
    let ops_cancel = background.clone();
    tokio::spawn(async move {
        let mut app = bulwark_ops::server::router(ops_state);
        if let Some(admin) = admin {
            app = app.merge(bulwark_ops::admin::router(admin));
        }
        app = app.merge(crate::alerting::admin::router(alert_admin));
        let served = axum::serve(ops, app)
            .with_graceful_shutdown(async move { ops_cancel.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "Ops listener stopped.");
        }
    });

    let demo_addr = match demo {
        Some(listener) => {
            let addr = listener.local_addr()?;
            tokio::spawn(crate::demo::serve(listener, background.clone()));
            Some(addr)
        }
        None => None,
    };

    let policies = crate::policies::build(&config, bus.clone(), &health, &background)?;
    let mut state = ProxyState::build(
        &config,
        bus.clone(),
        access_log.clone(),
        queue.as_ref(),
        &policies,
    )
    .context("cannot compile the routes' rate limits")?;
    state.pages = pages.clone();
    let shared: SharedState = Arc::new(ArcSwap::from_pointee(state));
    let public_addr = public.local_addr()?;
    let draining = CancellationToken::new();
    let connections = TaskTracker::new();
    let accept = tokio::spawn(bulwark_proxy::serve(
        public,
        tls.clone(),
        shared.clone(),
        draining.clone(),
        connections.clone(),
    ));
    let redirect_addr = match redirect {
        Some(listener) => {
            let addr = listener.local_addr()?;
            tokio::spawn(bulwark_proxy::listener::redirect::serve(
                listener,
                public_addr.port(),
                shared.clone(),
                draining.clone(),
                connections.clone(),
            ));
            Some(addr)
        }
        None => None,
    };

    // Handlers go in before anyone learns we are up: a signal sent right after the
    // addresses line must reload or drain, not kill with the default action.
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;

    // One line, first on stdout, so scripts and tests can use port 0.
    println!(
        "{}",
        serde_json::json!({ "listening": { "public": public_addr, "ops": ops_addr, "demo": demo_addr, "redirect_http": redirect_addr, "tls": tls.is_some() } })
    );
    // Warnings go after the addresses line, which must stay the first line on stdout.
    log_warnings(&warnings);
    tracing::info!(public = %public_addr, ops = %ops_addr, "bulwark started.");
    bus.publish(BusEvent::Started {
        version: env!("CARGO_PKG_VERSION").to_string(),
    });

    let running = Running {
        shared: shared.clone(),
        health: health.clone(),
        bus: bus.clone(),
        background: background.clone(),
        access_log: access_log.clone(),
        queue: queue.clone(),
        policies,
        tls,
        pages,
    };
    let mut current = config;
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                if let Some(next) = reload(&config_path, &current, &running) {
                    current = next;
                }
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }

    tracing::info!(
        timeout_ms = current.timeouts.shutdown.as_millis() as u64,
        "Shutting down; draining connections."
    );
    bus.publish(BusEvent::ShutdownStarted);
    // Load balancers polling readiness stop sending new traffic.
    health.set_builtin("listeners", false, Some("shutting down".into()));
    draining.cancel();
    let _ = accept.await;
    connections.close();
    // A second SIGTERM/SIGINT cuts the drain short, as operators expect from Ctrl-C twice.
    tokio::select! {
        () = connections.wait() => {}
        () = tokio::time::sleep(current.timeouts.shutdown) => {
            tracing::warn!(
                remaining = connections.len(),
                "Drain timed out; closing remaining connections."
            );
        }
        _ = terminate.recv() => {
            tracing::warn!(remaining = connections.len(), "Second signal; closing remaining connections now.");
        }
        _ = interrupt.recv() => {
            tracing::warn!(remaining = connections.len(), "Second signal; closing remaining connections now.");
        }
    }
    background.cancel();
    // Monitors flush their last results; notifications in flight finish.
    if tokio::time::timeout(Duration::from_secs(5), alerting.stopped())
        .await
        .is_err()
    {
        tracing::warn!("Monitors or notifications did not stop within 5 s.");
    }
    for task in subscribers {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    tracing::info!("bulwark stopped.");
    Ok(())
}

fn log_warnings(warnings: &[bulwark_config::Problem]) {
    for warning in warnings {
        tracing::warn!(key = %warning.path, line = ?warning.line, "Config warning: {}.", warning.message);
    }
}

fn mark_config_loaded() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    metrics::gauge!(CONFIG_LAST_SUCCESS).set(now);
}

/// The parts of a running bulwark that a reload swaps or restarts.
struct Running {
    shared: SharedState,
    health: Health,
    bus: Bus,
    background: CancellationToken,
    access_log: Arc<dyn AccessLogSink>,
    queue: Option<bulwark_proxy::state::QueueHandle>,
    policies: bulwark_proxy::state::Policies,
    /// The public listener's TLS, whose certificate a reload replaces.
    tls: Option<Arc<bulwark_proxy::tls::TlsServer>>,
    /// The status page, kept across reloads.
    pages: Option<Arc<dyn bulwark_proxy::pages::PublicPages>>,
}

/// Loads the file again. A bad config keeps the running one and says why; listener
/// addresses, turning TLS on or off, and worker count need a restart and are kept as
/// they are. A new certificate (same or other files) serves new handshakes from here on.
fn reload(path: &Path, current: &ValidatedConfig, running: &Running) -> Option<ValidatedConfig> {
    let loaded = match bulwark_config::load_file_checked(path, &extra_checks) {
        Ok(loaded) => loaded,
        Err(error) => {
            let problems = match &error {
                bulwark_config::LoadError::Invalid { problems, .. } => problems.len(),
                bulwark_config::LoadError::Read { .. } => 1,
            };
            tracing::error!(error = %error, "Config reload refused; the running config stays.");
            metrics::counter!(CONFIG_RELOADS, "result" => "failure").increment(1);
            running
                .bus
                .publish(BusEvent::ConfigReloadFailed { problems });
            return None;
        }
    };
    log_warnings(&loaded.warnings);
    let mut next = loaded.config;
    if next.listen.addresses() != current.listen.addresses()
        || next.demo_listen != current.demo_listen
        || next.workers != current.workers
    {
        tracing::warn!(
            "Listener addresses and workers change only on restart; keeping the current ones."
        );
        next.listen.public = current.listen.public;
        next.listen.ops = current.listen.ops;
        next.listen.redirect_http = current.listen.redirect_http;
        next.demo_listen = current.demo_listen;
        next.workers = current.workers;
    }
    if next.listen.tls.is_some() != current.listen.tls.is_some() {
        tracing::warn!(
            "Turning TLS on or off changes only on restart; keeping the current setting."
        );
        next.listen.tls = current.listen.tls.clone();
    }
    if next.webhooks != current.webhooks || next.signing_key != current.signing_key {
        tracing::warn!(
            "Webhooks and the signing key change only on restart; keeping the current ones."
        );
        next.webhooks = current.webhooks.clone();
        next.signing_key = current.signing_key.clone();
    }
    if next.log != current.log {
        tracing::warn!("Log settings change only on restart; keeping the current ones.");
        next.log = current.log.clone();
    }
    if next.auth != current.auth || next.rate_limit != current.rate_limit {
        tracing::warn!("[auth] and [rate_limit] change only on restart; keeping the current ones.");
        next.auth = current.auth.clone();
        next.rate_limit = current.rate_limit.clone();
    }
    if next.monitors != current.monitors
        || next.notifiers != current.notifiers
        || next.alerts != current.alerts
        || next.status_page != current.status_page
        || next.maintenance != current.maintenance
    {
        tracing::warn!(
            "Monitors, notifiers, [alerts], the status page and maintenance windows change only on restart; keeping the current ones."
        );
        next.monitors = current.monitors.clone();
        next.notifiers = current.notifiers.clone();
        next.alerts = current.alerts.clone();
        next.status_page = current.status_page.clone();
        next.maintenance = current.maintenance.clone();
    }
    let state = match ProxyState::build(
        &next,
        running.bus.clone(),
        running.access_log.clone(),
        running.queue.as_ref(),
        &running.policies,
    ) {
        Ok(mut state) => {
            state.pages = running.pages.clone();
            state
        }
        Err(error) => {
            tracing::error!(%error, "Reload refused; the running config stays.");
            metrics::counter!(CONFIG_RELOADS, "result" => "failure").increment(1);
            return None;
        }
    };
    running.shared.store(Arc::new(state));
    if let (Some(server), Some(certificate)) = (&running.tls, &next.listen.tls)
        && current.listen.tls.as_ref() != Some(certificate)
    {
        server.replace(certificate);
    }
    running
        .health
        .apply(&next.checks, &next.upstreams, &running.background);
    metrics::counter!(CONFIG_RELOADS, "result" => "success").increment(1);
    mark_config_loaded();
    running.bus.publish(BusEvent::ConfigReloaded);
    tracing::info!(
        routes = next.routes.len(),
        upstreams = next.upstreams.len(),
        "Config reloaded."
    );
    Some(next)
}
