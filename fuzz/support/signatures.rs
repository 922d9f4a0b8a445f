// What the signature fuzz targets run, shared with the corpus replay test so CI replays
// exactly what the fuzzer exercised. Included with `include!` by
// fuzz_targets/signature_*.rs and by crates/bulwark-signatures/tests/fuzz_corpus.rs.
//
// Input layout: header values one per line, then the body (the rest, any bytes). Header
// values must be UTF-8 to reach the parsers at all, as in a real request; a non-UTF-8
// value is checked to fail cleanly.

#[allow(dead_code)]
const NOW: u64 = 1_700_000_000;

/// Splits off `n` lines as header values; `None` when there are fewer lines.
#[allow(dead_code)]
fn split_lines(data: &[u8], n: usize) -> Option<(Vec<&str>, &[u8])> {
    let mut rest = data;
    let mut values = Vec::with_capacity(n);
    for _ in 0..n {
        let end = rest.iter().position(|&b| b == b'\n')?;
        values.push(std::str::from_utf8(&rest[..end]).ok()?);
        rest = &rest[end + 1..];
    }
    Some((values, rest))
}

#[allow(dead_code)]
fn verify(
    scheme: &bulwark_signatures::Scheme,
    headers: &[(&str, &str)],
    body: &[u8],
    secrets: &[&str],
) {
    let headers = headers.to_vec();
    let request = bulwark_signatures::SignedRequest::new(body, &headers)
        .with_url("https://example.com/hook?x=1")
        .with_form(&[("a", "1")]);
    if let Ok(verified) = scheme.verify(&request, secrets, NOW) {
        // A random input that verifies would mean the check is broken.
        panic!("fuzz input verified: {verified:?}");
    }
}

#[allow(dead_code)]
pub fn stripe(data: &[u8]) {
    let Some((values, body)) = split_lines(data, 1) else {
        return;
    };
    let _ = bulwark_signatures::schemes::stripe::parse_header(values[0]);
    let scheme = bulwark_signatures::Scheme::Stripe(Default::default());
    verify(
        &scheme,
        &[("Stripe-Signature", values[0])],
        body,
        &["whsec_fuzz"],
    );
}

#[allow(dead_code)]
pub fn standard(data: &[u8]) {
    let Some((values, body)) = split_lines(data, 3) else {
        return;
    };
    let _ = bulwark_signatures::schemes::standard::parse_signatures("webhook-signature", values[2]);
    let scheme = bulwark_signatures::Scheme::Standard(Default::default());
    let headers = [
        ("webhook-id", values[0]),
        ("webhook-timestamp", values[1]),
        ("webhook-signature", values[2]),
    ];
    // One HMAC secret and one ed25519 public key, so both verifiers run.
    let secrets = [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whpk_O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=",
    ];
    verify(&scheme, &headers, body, &secrets);
    // Secrets come from config, but a bad one must fail cleanly too.
    let _ = bulwark_signatures::standard::Key::parse(values[0].as_bytes());
    let _ = bulwark_signatures::standard::sign(values[0].as_bytes(), values[1], NOW, body);
}

#[allow(dead_code)]
pub fn slack(data: &[u8]) {
    let Some((values, body)) = split_lines(data, 2) else {
        return;
    };
    let _ = bulwark_signatures::schemes::slack::parse_signature(values[0]);
    let scheme = bulwark_signatures::Scheme::Slack(Default::default());
    let headers = [
        ("X-Slack-Signature", values[0]),
        ("X-Slack-Request-Timestamp", values[1]),
    ];
    verify(
        &scheme,
        &headers,
        body,
        &["8f742231b10e8888abcd99yyyzzz85a5"],
    );
}

#[allow(dead_code)]
pub fn other(data: &[u8]) {
    // GitHub, Shopify, Twilio, generic HMAC and token: one header each, same input.
    let Some((values, body)) = split_lines(data, 2) else {
        return;
    };
    let _ = bulwark_signatures::schemes::github::parse_header(values[0]);
    let mut params = bulwark_signatures::HmacParams::new(
        "X-Sig",
        bulwark_signatures::Algorithm::Sha512,
        bulwark_signatures::Encoding::Base64,
    );
    params.prefix = Some("sha512=".into());
    params.timestamp_header = Some("X-Ts".into());
    params.template = Some("{timestamp}:{body}".into());
    let schemes = [
        bulwark_signatures::Scheme::Github,
        bulwark_signatures::Scheme::Shopify,
        bulwark_signatures::Scheme::Twilio(Default::default()),
        bulwark_signatures::Scheme::Hmac(
            bulwark_signatures::HmacScheme::new(params).expect("invariant: fixed params are valid"),
        ),
        bulwark_signatures::Scheme::Token(
            bulwark_signatures::TokenScheme::new("Authorization", Some("Bearer "))
                .expect("invariant: fixed params are valid"),
        ),
    ];
    let headers = [
        ("X-Hub-Signature-256", values[0]),
        ("X-Shopify-Hmac-Sha256", values[0]),
        ("X-Twilio-Signature", values[0]),
        ("X-Sig", values[0]),
        ("X-Ts", values[1]),
        ("Authorization", values[0]),
    ];
    for scheme in &schemes {
        verify(scheme, &headers, body, &["fuzz-q7Zk2vT9xLm4Rp8Wc3Nb6Hd1"]);
    }
}
