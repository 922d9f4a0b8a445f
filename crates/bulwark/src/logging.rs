//! Logs: JSON lines (or pretty lines for people) on stdout through a non-blocking
//! writer, so a slow terminal or pipe never stalls a request.

use bulwark_config::telemetry::LogFormat;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Keep the guard alive until exit: dropping it flushes what is still queued.
pub fn init(format: LogFormat, level: &str) -> anyhow::Result<WorkerGuard> {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        // Under a flood, drop log lines rather than block request handling.
        .lossy(true)
        .buffered_lines_limit(64 * 1024)
        .finish(std::io::stdout());
    let filter = EnvFilter::try_new(level)
        .map_err(|e| anyhow::anyhow!("log.level is not a valid filter: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
        LogFormat::Pretty => builder.with_ansi(false).init(),
    }
    Ok(guard)
}
