//! The access log: one line per request. The JSON line is written by hand rather than
//! through `tracing`: formatting every request through a generic subscriber cost more
//! than a tenth of the proxy's CPU (docs/benchmarks.md). The binary decides where lines
//! go through an [`AccessLogSink`].

use std::io::Write;
use std::net::IpAddr;
use std::time::SystemTime;

/// Where access lines go; chosen by the binary (non-blocking stdout, or `tracing` for
/// the pretty format).
pub trait AccessLogSink: Send + Sync {
    fn record(&self, entry: &AccessEntry<'_>);
}

/// One request as the access log sees it.
#[derive(Debug)]
pub struct AccessEntry<'a> {
    pub time: SystemTime,
    pub request_id: &'a str,
    pub route: &'a str,
    pub method: &'a str,
    /// Without the query string, which may carry tokens.
    pub path: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    pub upstream: &'a str,
    pub bytes: u64,
    pub client_ip: IpAddr,
}

impl AccessEntry<'_> {
    /// The same shape as bulwark's other JSON log lines, with a trailing newline.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"timestamp\":\"");
        out.extend_from_slice(bulwark_events::time::rfc3339(self.time).as_bytes());
        out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"Request.\",\"request_id\":");
        push_json_str(out, self.request_id);
        out.extend_from_slice(b",\"route\":");
        push_json_str(out, self.route);
        out.extend_from_slice(b",\"method\":");
        push_json_str(out, self.method);
        out.extend_from_slice(b",\"path\":");
        push_json_str(out, self.path);
        let _ = write!(
            out,
            ",\"status\":{},\"latency_ms\":{:.3},\"upstream\":",
            self.status, self.latency_ms
        );
        push_json_str(out, self.upstream);
        let _ = writeln!(
            out,
            ",\"bytes\":{},\"client_ip\":\"{}\",\"target\":\"bulwark::access\"}}",
            self.bytes, self.client_ip
        );
    }
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
fn push_json_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for &b in text.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => {
                let _ = write!(out, "\\u{b:04x}");
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_line_is_valid_json_with_every_field() {
        let entry = AccessEntry {
            time: UNIX_EPOCH + Duration::from_millis(1_709_210_096_789),
            request_id: "id-\"quoted\"\\",
            route: "api",
            method: "GET",
            path: "/a\u{1}b",
            status: 502,
            latency_ms: 1.23456,
            upstream: "http://127.0.0.1:8000",
            bytes: 42,
            client_ip: "::1".parse().unwrap(),
        };
        let mut out = Vec::new();
        entry.write_json(&mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["timestamp"], "2024-02-29T12:34:56.789Z");
        assert_eq!(v["request_id"], "id-\"quoted\"\\");
        assert_eq!(v["path"], "/a\u{1}b");
        assert_eq!(v["status"], 502);
        assert_eq!(v["latency_ms"], 1.235);
        assert_eq!(v["bytes"], 42);
        assert_eq!(v["client_ip"], "::1");
        assert_eq!(v["target"], "bulwark::access");
    }
}
