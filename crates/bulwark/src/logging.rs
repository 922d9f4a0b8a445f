//! Logs: JSON lines (or pretty lines for people) on stdout through a non-blocking
//! writer, so a slow terminal or pipe never stalls a request.

use std::io::Write;
use std::sync::Arc;

use bulwark_config::telemetry::LogFormat;
use bulwark_proxy::access_log::{AccessEntry, AccessLogSink};
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, WorkerGuard};
use tracing_subscriber::EnvFilter;

pub struct Logging {
    /// Keep alive until exit: dropping it flushes what is still queued.
    pub guard: WorkerGuard,
    pub access_log: Arc<dyn AccessLogSink>,
    /// How many lines the lossy writer dropped.
    pub dropped: ErrorCounter,
}

pub fn init(format: LogFormat, level: &str) -> anyhow::Result<Logging> {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        // Under a flood, drop log lines rather than block request handling.
        .lossy(true)
        .buffered_lines_limit(64 * 1024)
        // Stdout is line-buffered: one write(2) per line. Buffered, the writer thread
        // writes whatever queued up in one call and flushes whenever it has caught up.
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ));
    let filter = EnvFilter::try_new(level)
        .map_err(|e| anyhow::anyhow!("log.level is not a valid filter: {e}"))?;
    let dropped = writer.error_counter();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone());
    let access_log: Arc<dyn AccessLogSink> = match format {
        LogFormat::Json => {
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .init();
            Arc::new(JsonAccessLog { writer })
        }
        LogFormat::Pretty => {
            builder.with_ansi(false).init();
            Arc::new(PrettyAccessLog)
        }
    };
    Ok(Logging {
        guard,
        access_log,
        dropped,
    })
}

/// Access lines as JSON, straight onto the same non-blocking writer as the other logs.
struct JsonAccessLog {
    writer: NonBlocking,
}

impl AccessLogSink for JsonAccessLog {
    fn record(&self, entry: &AccessEntry<'_>) {
        let mut line = Vec::with_capacity(320);
        entry.write_json(&mut line);
        // Lossy: a full queue drops the line, as for every other log line.
        let _ = self.writer.clone().write_all(&line);
    }
}

/// For people at a terminal: through `tracing`, formatted like the other lines.
struct PrettyAccessLog;

impl AccessLogSink for PrettyAccessLog {
    fn record(&self, e: &AccessEntry<'_>) {
        tracing::info!(
            target: "bulwark::access",
            request_id = e.request_id,
            route = e.route,
            method = e.method,
            path = e.path,
            status = e.status,
            latency_ms = e.latency_ms,
            upstream = e.upstream,
            bytes = e.bytes,
            client_ip = %e.client_ip,
            "Request."
        );
    }
}
