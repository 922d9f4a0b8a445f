//! Redis: `PING`, expecting `PONG`, on a connection of its own per check.

use std::io;
use std::time::Instant;

use super::{ProbeError, ProbeResult, root_io_kind};

pub(super) async fn check(url: &str, started: Instant) -> ProbeResult {
    let client = match ::redis::Client::open(url) {
        Ok(client) => client,
        Err(_) => return ProbeResult::failed(started, false, ProbeError::InvalidUrl),
    };
    let mut connection = match client.get_multiplexed_async_connection().await {
        Ok(connection) => connection,
        Err(error) => return ProbeResult::failed(started, false, redis_error(&error)),
    };
    let pong: Result<String, _> = ::redis::cmd("PING").query_async(&mut connection).await;
    let error = match pong {
        Ok(reply) if reply == "PONG" => None,
        Ok(_) => Some(ProbeError::UnexpectedReply),
        Err(error) => Some(redis_error(&error)),
    };
    ProbeResult {
        response_time: started.elapsed(),
        connected: true,
        error,
        ..ProbeResult::default()
    }
}

fn redis_error(error: &::redis::RedisError) -> ProbeError {
    if error.is_connection_refusal() {
        return ProbeError::ConnectRefused;
    }
    if error.is_timeout() {
        return ProbeError::Timeout;
    }
    match error.code() {
        Some("NOAUTH" | "WRONGPASS") => return ProbeError::AuthFailed,
        Some(code) if is_redis_code(code) => return ProbeError::Server(code.to_string()),
        _ => {}
    }
    match error.kind() {
        ::redis::ErrorKind::AuthenticationFailed => ProbeError::AuthFailed,
        ::redis::ErrorKind::InvalidClientConfig => ProbeError::InvalidUrl,
        ::redis::ErrorKind::UnexpectedReturnType => ProbeError::UnexpectedReply,
        ::redis::ErrorKind::Io => {
            ProbeError::Io(root_io_kind(error).unwrap_or(io::ErrorKind::Other))
        }
        _ => ProbeError::Protocol,
    }
}

/// Redis error prefixes are one upper-case word (`LOADING`, `READONLY`, `MISCONF`).
fn is_redis_code(code: &str) -> bool {
    (1..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase())
}
