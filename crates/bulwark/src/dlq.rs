//! `bulwark dlq`: the dead-letter queue from a terminal, through the admin API on the
//! ops listener (see [`crate::admin_client`]).

use std::process::ExitCode;

use clap::Subcommand;

use crate::admin_client::query;

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
    crate::admin_client::run(url, "read, replay or purge", |client, base| {
        request(client, base, command)
    })
}

fn request(
    client: &reqwest::Client,
    base: &str,
    command: DlqCommand,
) -> Result<reqwest::RequestBuilder, String> {
    Ok(match command {
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
                return Err(
                    "purge needs a message id, or --destination and/or a time range".into(),
                );
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
    })
}
