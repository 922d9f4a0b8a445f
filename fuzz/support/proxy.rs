// What the fuzz targets run, shared with the corpus replay tests so CI replays exactly
// what the fuzzer exercised. Included with `include!` by fuzz_targets/ and by
// crates/bulwark-proxy/tests/fuzz_corpus.rs.

#[allow(dead_code)]
pub fn forwarded(data: &[u8]) {
    use bulwark_proxy::forwarded;
    use http::header::{HeaderMap, HeaderValue};
    // Split the input into header values at 0xff bytes.
    let mut parts = data.split(|b| *b == 0xff);
    let mut headers = HeaderMap::new();
    for name in [
        "connection",
        "x-forwarded-for",
        "x-request-id",
        "upgrade",
        "x-forwarded-host",
    ] {
        if let Some(value) = parts.next().and_then(|p| HeaderValue::from_bytes(p).ok()) {
            headers.append(name, value);
        }
    }
    let trusted = ["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
    let _ = forwarded::incoming_request_id(&headers);
    let upgrade = forwarded::is_websocket_upgrade(&headers);
    let peer = if data.len().is_multiple_of(2) {
        "10.1.2.3"
    } else {
        "203.0.113.5"
    };
    let client = forwarded::set_forwarded(
        &mut headers,
        peer.parse().unwrap(),
        &trusted,
        "http",
        Some("example.test"),
    );
    assert!(
        headers.contains_key("x-forwarded-for"),
        "the chain is always set"
    );
    let _ = client;
    forwarded::remove_hop_by_hop(&mut headers, upgrade);
    assert!(!headers.contains_key("keep-alive"));
    if let Some(path) = parts.next().and_then(|p| std::str::from_utf8(p).ok()) {
        let _ = bulwark_proxy::target::has_dot_segments(path);
        if let Ok(mut request) = http::Request::builder().uri(path).body(()) {
            *request.headers_mut() = headers;
            let _ = bulwark_proxy::target::normalize_host(&mut request);
        }
    }
}

/// Path normalisation on any path a client can send (anything `http` parses as a
/// path): never panics, and what it returns is stable, parses, and has no `//` and no
/// dot segments.
#[allow(dead_code)]
pub fn path_normalize(data: &[u8]) {
    use bulwark_proxy::target::{normalize_path, with_path};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = text.parse::<http::Uri>() else {
        return;
    };
    let Ok(first) = normalize_path(uri.path()) else {
        return;
    };
    let again = normalize_path(&first.path).expect("a normalised path normalises again");
    assert_eq!(again.path, first.path, "normalising is idempotent");
    assert_eq!(again.encoded_slash, first.encoded_slash);
    if first.path.starts_with('/') {
        assert!(!first.path.contains("//"), "{}", first.path);
        assert!(
            !first.path.split('/').any(|s| s == "." || s == ".."),
            "{}",
            first.path
        );
    }
    // As the service does: a changed path replaces the URI's, the query stays.
    if let std::borrow::Cow::Owned(path) = &first.path {
        let rebuilt = with_path(&uri, path).expect("the normalised path makes a valid URI");
        assert_eq!(rebuilt.query(), uri.query(), "the query is kept as sent");
        assert_eq!(rebuilt.path(), path);
    }
}

/// Screening and the JSON checks on arbitrary input: never panic.
#[allow(dead_code)]
pub fn screening(data: &[u8]) {
    use bulwark_proxy::policy::request::{json, screening};
    let text = String::from_utf8_lossy(data);
    let _ = screening::screen(&text);
    let _ = screening::screen_query(&text);
    let max_depth = usize::from(data.first().copied().unwrap_or(8) % 40) + 1;
    if let Ok(Some(document)) = json::check(data, max_depth, true) {
        let _ = screening::screen_json(&document);
    }
}
