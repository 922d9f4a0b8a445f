//! PostgreSQL: connect and `SELECT 1`, one connection per check (a pool would hold a
//! connection per monitor open between checks, for no gain at these rates).

use std::str::FromStr;
use std::time::Instant;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::{ProbeError, ProbeResult, connect_error};

pub(super) async fn check(url: &str, started: Instant) -> ProbeResult {
    let options = match PgConnectOptions::from_str(url) {
        Ok(options) => options
            .application_name("bulwark-monitor")
            // One log line per check would drown the log.
            .disable_statement_logging(),
        Err(_) => return ProbeResult::failed(started, false, ProbeError::InvalidUrl),
    };
    let mut connection = match PgConnection::connect_with(&options).await {
        Ok(connection) => connection,
        Err(error) => return ProbeResult::failed(started, false, postgres_error(error)),
    };
    let one: Result<i32, _> = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut connection)
        .await;
    let response_time = started.elapsed();
    // The answer decides; a failed goodbye after it does not make the database down.
    let _ = connection.close().await;
    let error = match one {
        Ok(1) => None,
        Ok(_) => Some(ProbeError::UnexpectedReply),
        Err(error) => Some(postgres_error(error)),
    };
    ProbeResult {
        response_time,
        connected: true,
        error,
        ..ProbeResult::default()
    }
}

fn postgres_error(error: sqlx::Error) -> ProbeError {
    match error {
        sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_) => ProbeError::InvalidUrl,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // invalid_password, invalid_authorization_specification
            Some("28P01" | "28000") => ProbeError::AuthFailed,
            Some(code) if is_sqlstate(code) => ProbeError::Server(code.to_string()),
            _ => ProbeError::Protocol,
        },
        sqlx::Error::Io(io) => connect_error(&io),
        sqlx::Error::Tls(_) => ProbeError::Tls,
        sqlx::Error::PoolTimedOut => ProbeError::Timeout,
        sqlx::Error::RowNotFound
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => ProbeError::UnexpectedReply,
        _ => ProbeError::Protocol,
    }
}

/// Five digits or upper-case letters, so only a code gets through.
fn is_sqlstate(code: &str) -> bool {
    code.len() == 5
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}
