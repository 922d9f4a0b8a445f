//! `bulwark check`: load and validate, list every problem, exit 1 if any.

use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path) -> ExitCode {
    match bulwark_config::load_file_checked(path, &crate::run::extra_checks) {
        Ok(loaded) => {
            // The filter syntax belongs to the logging library; `run` would refuse it.
            if let Err(error) = tracing_subscriber::EnvFilter::try_new(&loaded.config.log.level) {
                eprintln!(
                    "config file {}: log.level: not a valid filter ({error})",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
            for warning in &loaded.warnings {
                eprintln!("warning: {}:{warning}", path.display());
            }
            let c = &loaded.config;
            println!(
                "{}: OK ({} routes, {} upstreams, {} checks)",
                path.display(),
                c.routes.len(),
                c.upstreams.len(),
                c.checks.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
