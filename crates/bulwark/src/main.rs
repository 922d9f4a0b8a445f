//! The bulwark binary: command line, and the wiring of config, events, proxy and ops.

mod admin_client;
mod alerting;
mod alerts_cli;
mod check;
mod demo;
mod dlq;
mod logging;
mod policies;
mod queue;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

// Proxying allocates and frees many small buffers per request; mimalloc does that with
// less work than glibc's allocator (measured in docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "bulwark",
    version,
    about = "One binary in front of your web backend: reverse proxy, health probes, metrics."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start bulwark with a config file.
    Run {
        /// Path to the TOML config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Log format; overrides `log.format` in the config.
        #[arg(long, value_enum)]
        log_format: Option<LogFormatArg>,
    },
    /// Validate a config file: prints every problem with its line and key, exit 1 if any.
    Check {
        /// Path to the TOML config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print version, git commit, build time and rustc version.
    Version,
    /// Browse, replay and purge the dead-letter queue (admin API; token in BULWARK_ADMIN_TOKEN).
    Dlq {
        /// The ops listener of the running bulwark.
        #[arg(long, default_value = "http://127.0.0.1:9090")]
        url: String,
        #[command(subcommand)]
        command: dlq::DlqCommand,
    },
    /// Alerts, their history and silences (admin API; token in BULWARK_ADMIN_TOKEN).
    Alerts {
        /// The ops listener of the running bulwark.
        #[arg(long, default_value = "http://127.0.0.1:9090")]
        url: String,
        #[command(subcommand)]
        command: alerts_cli::AlertsCommand,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Json,
    Pretty,
}

pub fn version_info() -> bulwark_ops::version::VersionInfo {
    bulwark_ops::version::VersionInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        commit: env!("BULWARK_GIT_COMMIT").to_string(),
        build_time: env!("BULWARK_BUILD_TIME").to_string(),
        rustc: env!("BULWARK_RUSTC_VERSION").to_string(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            let v = version_info();
            println!(
                "bulwark {} (commit {}, built {}, {})",
                v.version, v.commit, v.build_time, v.rustc
            );
            ExitCode::SUCCESS
        }
        Command::Check { config } => check::run(&config),
        Command::Dlq { url, command } => dlq::run(&url, command),
        Command::Alerts { url, command } => alerts_cli::run(&url, command),
        Command::Run { config, log_format } => {
            let format = log_format.map(|f| match f {
                LogFormatArg::Json => bulwark_config::telemetry::LogFormat::Json,
                LogFormatArg::Pretty => bulwark_config::telemetry::LogFormat::Pretty,
            });
            run::main(config, format)
        }
    }
}
