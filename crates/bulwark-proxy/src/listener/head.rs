//! Reading the start of a connection before hyper takes it: either the HTTP/2 preface
//! or a complete HTTP/1 request head, each under its own deadline and size limit.
//! hyper's auto server has neither, which is how a slowloris client holds a connection
//! open for free.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

pub const HTTP2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[derive(Debug)]
pub enum Start {
    Http1(BytesMut),
    Http2(BytesMut),
}

#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("the client closed the connection before sending a request")]
    Closed,
    #[error("no complete request head within the deadline")]
    HeadTimeout { partial: bool },
    #[error("no complete HTTP/2 preface within the deadline")]
    PrefaceTimeout,
    #[error("the request head exceeds the size limit")]
    TooLarge,
    /// Both `Content-Length` and `Transfer-Encoding`: two ways to find the body's end,
    /// the classic request-smuggling shape. hyper would drop `Content-Length` and go on;
    /// bulwark refuses instead (RFC 9112 §6.3 allows either).
    #[error("the request head has both Content-Length and Transfer-Encoding")]
    AmbiguousLength,
    #[error("reading the request head failed")]
    Io(#[source] std::io::Error),
}

/// Reads until the protocol is known and, for HTTP/1, the first head is complete.
/// Deadlines run from `accepted`.
pub async fn read_start<R: AsyncRead + Unpin>(
    io: &mut R,
    accepted: Instant,
    head_timeout: Duration,
    preface_timeout: Duration,
    max_head: usize,
) -> Result<Start, HeadError> {
    let mut buf = BytesMut::with_capacity(4096);
    let mut searched: usize = 0;
    loop {
        let seen = buf.len().min(HTTP2_PREFACE.len());
        let maybe_h2 = !buf.is_empty() && buf[..seen] == HTTP2_PREFACE[..seen];
        if maybe_h2 && seen == HTTP2_PREFACE.len() {
            return Ok(Start::Http2(buf));
        }
        if !maybe_h2 && !buf.is_empty() {
            let from = searched.saturating_sub(3);
            if let Some(at) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                if from + at + 4 > max_head {
                    return Err(HeadError::TooLarge);
                }
                if has_both_lengths(&buf[..from + at + 4]) {
                    return Err(HeadError::AmbiguousLength);
                }
                return Ok(Start::Http1(buf));
            }
            searched = buf.len();
            if buf.len() > max_head {
                return Err(HeadError::TooLarge);
            }
        }
        let deadline = accepted
            + if maybe_h2 {
                preface_timeout
            } else {
                head_timeout
            };
        match tokio::time::timeout_at(deadline, io.read_buf(&mut buf)).await {
            Err(_) if maybe_h2 => return Err(HeadError::PrefaceTimeout),
            Err(_) => {
                return Err(HeadError::HeadTimeout {
                    partial: !buf.is_empty(),
                });
            }
            Ok(Ok(0)) => return Err(HeadError::Closed),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(HeadError::Io(e)),
        }
    }
}

/// Whether a request head has both a `Content-Length` and a `Transfer-Encoding` field
/// (names compared case-insensitively, at the start of a header line).
fn has_both_lengths(head: &[u8]) -> bool {
    let mut length = false;
    let mut encoding = false;
    for line in head.split(|b| *b == b'\n').skip(1) {
        let name = line.split(|b| *b == b':').next().unwrap_or_default();
        length |= name.eq_ignore_ascii_case(b"content-length");
        encoding |= name.eq_ignore_ascii_case(b"transfer-encoding");
    }
    length && encoding
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn content_length_with_transfer_encoding_is_spotted_in_any_case() {
        let both = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ntransfer-ENCODING: chunked\r\n\r\n";
        assert!(has_both_lengths(both));
        let one = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(!has_both_lengths(one));
        // A value that mentions the other header is not the header.
        let value = b"POST / HTTP/1.1\r\nX-Note: content-length\r\nContent-Length: 1\r\n\r\n";
        assert!(!has_both_lengths(value));
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn a_complete_head_in_pieces_is_http1() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        tokio::spawn(async move {
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: a\r")
                .await
                .unwrap();
            client.write_all(b"\n\r\nbody").await.unwrap();
            client
        });
        let start = read_start(&mut server, Instant::now(), SECOND, SECOND, 1024)
            .await
            .unwrap();
        assert!(matches!(start, Start::Http1(b) if b.ends_with(b"body")));
    }

    #[tokio::test]
    async fn the_preface_is_http2() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(HTTP2_PREFACE).await.unwrap();
        let start = read_start(&mut server, Instant::now(), SECOND, SECOND, 1024)
            .await
            .unwrap();
        assert!(matches!(start, Start::Http2(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_head_times_out_as_partial() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let err = read_start(&mut server, Instant::now(), SECOND, SECOND, 1024)
            .await
            .unwrap_err();
        assert!(matches!(err, HeadError::HeadTimeout { partial: true }));
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_partial_preface_uses_the_preface_deadline() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(&HTTP2_PREFACE[..10]).await.unwrap();
        let err = read_start(&mut server, Instant::now(), SECOND * 10, SECOND, 1024)
            .await
            .unwrap_err();
        assert!(matches!(err, HeadError::PrefaceTimeout));
        drop(client);
    }

    #[tokio::test]
    async fn a_complete_but_oversized_head_is_refused() {
        let (mut client, mut server) = tokio::io::duplex(8192);
        let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
        head.extend_from_slice(&[b'a'; 2000]);
        head.extend_from_slice(b"\r\n\r\n");
        client.write_all(&head).await.unwrap();
        let err = read_start(&mut server, Instant::now(), SECOND, SECOND, 1024)
            .await
            .unwrap_err();
        assert!(matches!(err, HeadError::TooLarge));
    }

    #[tokio::test]
    async fn an_oversized_head_is_refused() {
        let (mut client, mut server) = tokio::io::duplex(8192);
        client.write_all(b"GET / HTTP/1.1\r\nX: ").await.unwrap();
        client.write_all(&[b'a'; 3000]).await.unwrap();
        let err = read_start(&mut server, Instant::now(), SECOND, SECOND, 1024)
            .await
            .unwrap_err();
        assert!(matches!(err, HeadError::TooLarge));
    }
}
