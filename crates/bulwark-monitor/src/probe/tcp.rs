//! TCP: up when a connection is established.

use std::time::Instant;

use super::{ProbeError, ProbeResult, connect_error};

pub(super) async fn check(address: &str, started: Instant) -> ProbeResult {
    let addrs = match tokio::net::lookup_host(address).await {
        Ok(addrs) => addrs,
        Err(_) => return ProbeResult::failed(started, false, ProbeError::Resolve),
    };
    let mut last = ProbeError::Resolve;
    for addr in addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(_connected_is_all_we_ask) => {
                return ProbeResult {
                    response_time: started.elapsed(),
                    connected: true,
                    ..ProbeResult::default()
                };
            }
            Err(error) => last = connect_error(&error),
        }
    }
    ProbeResult::failed(started, false, last)
}
