//! Header rewriting at the proxy hop, pure: hop-by-hop headers (RFC 9110 §7.6.1),
//! `X-Forwarded-*` with trust limited to configured proxies, and `X-Request-Id`.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// Other headers proxies set to describe the client; only trusted peers may send them.
static CLIENT_DESCRIBING: [HeaderName; 4] = [
    HeaderName::from_static("x-real-ip"),
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-prefix"),
    HeaderName::from_static("x-forwarded-server"),
];

/// Removes the headers that describe one connection and must not cross the proxy:
/// the fixed list plus every header the `Connection` header names. On an upgrade
/// (WebSocket) the `Connection: upgrade` / `Upgrade` pair is kept, since it is the
/// request to the next hop.
pub fn remove_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        if keep_upgrade && name == header::UPGRADE {
            continue;
        }
        // End-to-end fields a client must not be able to hide from bulwark's own checks
        // (the declared body size, its type, the credentials, the target) by naming them
        // in `Connection`.
        if [
            header::CONTENT_LENGTH,
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HOST,
        ]
        .contains(&name)
        {
            continue;
        }
        headers.remove(&name);
    }
    for name in [
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &header::TE,
        &header::TRAILER,
        &header::TRANSFER_ENCODING,
    ] {
        headers.remove(name);
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::CONNECTION);
        headers.remove(header::UPGRADE);
    }
}

/// True when the request asks to switch to WebSocket, the one upgrade passed through;
/// any other (`h2c`, ...) is stripped as a hop-by-hop header, so a backend can never
/// hand the client a tunnel past routing.
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

pub fn is_trusted(peer: IpAddr, trusted: &[IpNet]) -> bool {
    let peer = canonical(peer);
    trusted.iter().any(|net| net.contains(&peer))
}

/// `::ffff:10.0.0.1` is `10.0.0.1` for trust decisions.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Sets `X-Forwarded-For/-Proto/-Host` and returns the client's address.
///
/// From a trusted proxy the existing chain is kept, the peer is appended, and the client
/// is the rightmost address not itself a trusted proxy. From anyone else the client's
/// own `X-Forwarded-*` values are replaced: a client must not choose its own IP.
pub fn set_forwarded(
    headers: &mut HeaderMap,
    peer: IpAddr,
    trusted: &[IpNet],
    scheme: &'static str,
    host: Option<&str>,
) -> IpAddr {
    let peer = canonical(peer);
    let client = if is_trusted(peer, trusted) {
        let mut chain: Vec<IpAddr> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        chain.push(peer);
        let joined = chain
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        headers.remove(&X_FORWARDED_FOR);
        if let Ok(value) = HeaderValue::from_str(&joined) {
            headers.insert(X_FORWARDED_FOR.clone(), value);
        }
        chain
            .iter()
            .rev()
            .find(|ip| !is_trusted(**ip, trusted))
            .or(chain.first())
            .copied()
            .unwrap_or(peer)
    } else {
        headers.remove(&X_FORWARDED_PROTO);
        headers.remove(&X_FORWARDED_HOST);
        headers.remove(header::FORWARDED);
        for name in &CLIENT_DESCRIBING {
            headers.remove(name);
        }
        // The common case on the hot path: the chain is just the peer.
        let mut text = [0u8; 48];
        let len = {
            use std::io::Write;
            let mut cursor = std::io::Cursor::new(&mut text[..]);
            let _ = write!(cursor, "{peer}");
            cursor.position() as usize
        };
        if let Ok(value) = HeaderValue::from_bytes(&text[..len]) {
            headers.insert(X_FORWARDED_FOR.clone(), value);
        }
        peer
    };
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(scheme));
    }
    if !headers.contains_key(&X_FORWARDED_HOST)
        && let Some(value) = host.and_then(|h| HeaderValue::from_str(h).ok())
    {
        headers.insert(X_FORWARDED_HOST.clone(), value);
    }
    client
}

/// A client's request id is kept when it looks like one (visible ASCII, at most 128
/// bytes), so ids chain across services; otherwise none is returned and one is made.
pub fn incoming_request_id(headers: &HeaderMap) -> Option<HeaderValue> {
    let value = headers.get(&X_REQUEST_ID)?;
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.as_bytes().iter().all(|b| b.is_ascii_graphic());
    ok.then(|| value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn hop_by_hop_headers_and_connection_named_ones_are_removed() {
        let mut h = headers(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-connection", "keep-alive"),
            ("x-end-to-end", "stays"),
        ]);
        remove_hop_by_hop(&mut h, false);
        let names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-end-to-end"]);
    }

    #[test]
    fn upgrades_keep_their_pair() {
        let mut h = headers(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        assert!(is_websocket_upgrade(&h));
        let h2c = headers(&[("connection", "Upgrade"), ("upgrade", "h2c")]);
        assert!(!is_websocket_upgrade(&h2c));
        remove_hop_by_hop(&mut h, true);
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["upgrade"], "websocket");
    }

    #[test]
    fn untrusted_peers_cannot_choose_their_address() {
        let mut h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("x-real-ip", "1.2.3.4"),
        ]);
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        let client = set_forwarded(&mut h, peer, &[], "http", Some("app.example"));
        assert_eq!(client, peer);
        assert_eq!(h["x-forwarded-for"], "203.0.113.9");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "app.example");
        assert!(!h.contains_key("x-real-ip"));
    }

    #[test]
    fn trusted_proxies_extend_the_chain() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = headers(&[
            ("x-forwarded-for", "198.51.100.7, 10.1.1.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example"),
        ]);
        let peer: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        let client = set_forwarded(&mut h, peer, &trusted, "http", Some("internal"));
        assert_eq!(client, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(h["x-forwarded-for"], "198.51.100.7, 10.1.1.1, 10.0.0.2");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "app.example");
    }

    #[test]
    fn request_ids_are_kept_only_when_well_formed() {
        assert!(incoming_request_id(&headers(&[("x-request-id", "abc-123")])).is_some());
        assert!(incoming_request_id(&headers(&[("x-request-id", "has space")])).is_none());
        assert!(incoming_request_id(&headers(&[("x-request-id", &"a".repeat(129))])).is_none());
    }
}
