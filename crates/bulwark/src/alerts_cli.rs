//! `bulwark alerts`: active alerts and the alert history, silences, and raising an alert
//! from a script, through the admin API (see [`crate::admin_client`]).

use std::process::ExitCode;

use clap::Subcommand;

use crate::admin_client::query;

#[derive(Subcommand)]
pub enum AlertsCommand {
    /// Active alerts and the history (newest first).
    List {
        /// Only history rows in this state: firing, resolved or suppressed.
        #[arg(long)]
        state: Option<String>,
        /// Only rows that started at or after this Unix time (ms).
        #[arg(long)]
        since_ms: Option<i64>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Active and pending silences.
    Silences,
    /// Silence alerts whose labels match every `name=value` for a duration ("2h").
    Silence {
        #[arg(required = true)]
        matchers: Vec<String>,
        #[arg(long)]
        duration: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// End a silence now.
    Expire { id: String },
}

pub fn run(url: &str, command: AlertsCommand) -> ExitCode {
    crate::admin_client::run(url, "read or alerts:write", |client, base| {
        Ok(match command {
            AlertsCommand::List {
                state,
                since_ms,
                limit,
            } => client.get(format!(
                "{base}/admin/v1/alerts{}",
                query(&[
                    ("state", state),
                    ("since_ms", since_ms.map(|v| v.to_string())),
                    ("limit", Some(limit.to_string())),
                ])
            )),
            AlertsCommand::Silences => client.get(format!("{base}/admin/v1/silences")),
            AlertsCommand::Silence {
                matchers,
                duration,
                comment,
            } => {
                let matchers = matchers
                    .iter()
                    .map(|m| match m.split_once("!=") {
                        Some((name, value)) => Ok(serde_json::json!({
                            "name": name, "value": value, "isEqual": false
                        })),
                        None => m
                            .split_once('=')
                            .map(
                                |(name, value)| serde_json::json!({ "name": name, "value": value }),
                            )
                            .ok_or_else(|| format!("{m:?} is not name=value or name!=value")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let body = serde_json::json!({
                    "matchers": matchers,
                    "duration": duration,
                    "comment": comment,
                });
                client
                    .post(format!("{base}/admin/v1/silences"))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string())
            }
            AlertsCommand::Expire { id } => client.delete(format!("{base}/admin/v1/silences/{id}")),
        })
    })
}
