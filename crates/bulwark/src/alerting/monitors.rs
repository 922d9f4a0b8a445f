//! The configured uptime monitors: conditions parsed at load (as config problems), specs
//! built from the validated config, and the runner started on `data_dir/monitors.db`.

use anyhow::Context;
use bulwark_config::ValidatedConfig;
use bulwark_config::monitors::{Monitor, MonitorKind};
use bulwark_events::Bus;
use bulwark_monitor::{Condition, HistoryStore, HttpClients, MonitorSpec, Monitors, ProbeSpec};
use tokio_util::sync::CancellationToken;

/// Config problems of the monitors' conditions, located by key (the config crate keeps
/// conditions as text; the language lives in `bulwark-monitor`).
pub fn condition_problems(config: &ValidatedConfig) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (i, monitor) in config.monitors.iter().enumerate() {
        for (j, text) in monitor.conditions.iter().enumerate() {
            if let Err(error) = Condition::parse(text) {
                problems.push((format!("monitors[{i}].conditions[{j}]"), error.to_string()));
            }
        }
    }
    problems
}

/// Starts every monitor; `None` without monitors.
pub async fn start(
    config: &ValidatedConfig,
    bus: &Bus,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<Monitors>> {
    if config.monitors.is_empty() {
        return Ok(None);
    }
    let specs = config
        .monitors
        .iter()
        .map(spec)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dir = config.data_dir.clone();
    let history = tokio::task::spawn_blocking(move || HistoryStore::open(&dir))
        .await
        .context("opening the monitor history")?
        .with_context(|| {
            format!(
                "cannot open the monitor history in {}",
                config.data_dir.display()
            )
        })?;
    bulwark_monitor::runner::describe();
    // The CAs of bulwark's own upstreams, so that monitors of https upstreams behind a
    // private CA verify like the proxy does.
    let roots: Vec<Vec<u8>> = config
        .upstreams
        .iter()
        .filter_map(|u| u.ca.as_ref())
        .flat_map(|ca| ca.certs.iter().map(|c| c.as_ref().to_vec()))
        .collect();
    let clients =
        HttpClients::with_extra_roots(&roots).context("cannot set up the monitors' HTTP client")?;
    let monitors =
        Monitors::start_with_clients(specs, history, bus.clone(), cancel.clone(), clients);
    tracing::info!(monitors = config.monitors.len(), "Monitors started.");
    Ok(Some(monitors))
}

fn spec(monitor: &Monitor) -> anyhow::Result<MonitorSpec> {
    let probe = match &monitor.kind {
        MonitorKind::Http {
            url,
            method,
            headers,
            body,
            follow_redirects,
        } => ProbeSpec::Http {
            url: url
                .expose()
                .parse()
                .with_context(|| format!("monitor {}: url is not a URL", monitor.name))?,
            method: method
                .parse()
                .with_context(|| format!("monitor {}: not an HTTP method", monitor.name))?,
            headers: headers
                .iter()
                .map(|(name, value)| (name.clone(), value.expose().to_string()))
                .collect(),
            body: body.clone().map(bytes::Bytes::from),
            follow_redirects: *follow_redirects,
        },
        MonitorKind::Tcp { address } => ProbeSpec::Tcp {
            address: address.clone(),
        },
        MonitorKind::Postgres { url } => ProbeSpec::Postgres {
            url: url.expose().to_string(),
        },
        MonitorKind::Redis { url } => ProbeSpec::Redis {
            url: url.expose().to_string(),
        },
    };
    let conditions = monitor
        .conditions
        .iter()
        .map(|text| Condition::parse(text))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("monitor {}: a condition does not parse", monitor.name))?;
    let mut spec = MonitorSpec::new(&monitor.name, probe);
    spec.interval = monitor.interval;
    spec.timeout = monitor.timeout;
    spec.failures_before_down = monitor.failures_before_down;
    spec.successes_before_up = monitor.successes_before_up;
    spec.conditions = conditions;
    spec.display_name = Some(monitor.display_name.clone());
    Ok(spec)
}
