//! `bulwark dlq`: the dead-letter queue from a terminal, through the admin API on the
//! ops listener. The token comes from `BULWARK_ADMIN_TOKEN` (never a flag: flags end up
//! in shell history and `ps`).

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum DlqCommand {
    /// List dead messages (newest first), optionally for one destination and time range.
    List {
        #[arg(long)]
        destination: Option<String>,
        /// Only messages that died at or after this Unix time (ms).
        #[arg(long)]
        since_ms: Option<i64>,
        /// Only messages that died before this Unix time (ms).
        #[arg(long)]
        until_ms: Option<i64>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one message (metadata only; bodies and headers stay in the store).
    Show { id: String },
    /// Put a dead message back in the queue, attempts reset.
    Replay { id: String },
    /// Delete one dead message, or every dead message of a destination and time range.
    Purge {
        id: Option<String>,
        #[arg(long)]
        destination: Option<String>,
        #[arg(long)]
        since_ms: Option<i64>,
        #[arg(long)]
        until_ms: Option<i64>,
    },
    /// List destinations paused because they answered 410 Gone.
    Paused,
    /// Resume a paused destination: its waiting messages are delivered again.
    Resume { destination: String },
}

pub fn run(url: &str, command: DlqCommand) -> ExitCode {
    let Ok(token) = std::env::var("BULWARK_ADMIN_TOKEN") else {
        eprintln!(
            "set BULWARK_ADMIN_TOKEN to an admin token with the needed scope (read, replay or purge)"
        );
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(call(url.trim_end_matches('/'), &token, command))
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

async fn call(base: &str, token: &str, command: DlqCommand) -> ExitCode {
    let client = reqwest::Client::new();
    let request = match command {
        DlqCommand::List {
            destination,
            since_ms,
            until_ms,
            limit,
        } => client.get(format!(
            "{base}/admin/v1/dead-letters{}",
            query(&[
                ("destination", destination),
                ("since_ms", since_ms.map(|v| v.to_string())),
                ("until_ms", until_ms.map(|v| v.to_string())),
                ("limit", Some(limit.to_string())),
            ])
        )),
        DlqCommand::Show { id } => client.get(format!("{base}/admin/v1/messages/{id}")),
        DlqCommand::Replay { id } => client.post(format!("{base}/admin/v1/messages/{id}/replay")),
        DlqCommand::Paused => client.get(format!("{base}/admin/v1/destinations/paused")),
        DlqCommand::Resume { destination } => {
            client.post(format!("{base}/admin/v1/destinations/{destination}/resume"))
        }
        DlqCommand::Purge { id: Some(id), .. } => {
            client.delete(format!("{base}/admin/v1/messages/{id}"))
        }
        DlqCommand::Purge {
            id: None,
            destination,
            since_ms,
            until_ms,
        } => {
            if destination.is_none() && since_ms.is_none() && until_ms.is_none() {
                eprintln!("purge needs a message id, or --destination and/or a time range");
                return ExitCode::FAILURE;
            }
            client.post(format!(
                "{base}/admin/v1/dead-letters/purge{}",
                query(&[
                    ("destination", destination),
                    ("since_ms", since_ms.map(|v| v.to_string())),
                    ("until_ms", until_ms.map(|v| v.to_string())),
                ])
            ))
        }
    };
    let response = match request.bearer_auth(token).send().await {
        Ok(response) => response,
        Err(error) => {
            eprintln!("cannot reach the admin API at {base}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let pretty = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(text);
    if status.is_success() {
        if !pretty.is_empty() {
            println!("{pretty}");
        }
        ExitCode::SUCCESS
    } else {
        eprintln!("{status}: {pretty}");
        ExitCode::FAILURE
    }
}
