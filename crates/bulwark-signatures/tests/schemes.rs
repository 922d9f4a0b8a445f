//! Behaviour that the vector files do not pin down: tokens, secrets checked at config
//! load, `http::HeaderMap` lookups, and error messages that leak nothing.

use bulwark_signatures::{
    Scheme, SchemeError, SignatureError, SignedRequest, Standard, Stripe, TokenScheme, standard,
};

const NOW: u64 = 1_700_000_000;

#[test]
fn token_in_a_bearer_header() {
    let scheme = Scheme::Token(TokenScheme::new("Authorization", Some("Bearer ")).unwrap());
    let check = |value: &str, secrets: &[&str]| {
        let headers = [("authorization", value)];
        scheme.verify(&SignedRequest::new(b"{}", &headers), secrets, NOW)
    };
    assert_eq!(
        check("Bearer s3cr3t-token", &["s3cr3t-token"])
            .unwrap()
            .secret_index,
        0
    );
    assert_eq!(
        check("bearer s3cr3t-token", &["old", "s3cr3t-token"])
            .unwrap()
            .secret_index,
        1
    );
    assert_eq!(
        check("Bearer s3cr3t-tokeN", &["s3cr3t-token"]),
        Err(SignatureError::NoMatch)
    );
    // HTTP strips the trailing space, so a bare `Bearer` lacks the prefix.
    assert!(matches!(
        check("Bearer ", &["s3cr3t-token"]),
        Err(SignatureError::MalformedHeader { .. })
    ));
    assert!(matches!(
        check("Bearers3cr3t-token", &["s3cr3t-token"]),
        Err(SignatureError::MalformedHeader { .. })
    ));
    assert!(matches!(
        check("Basic s3cr3t-token", &["s3cr3t-token"]),
        Err(SignatureError::MalformedHeader { .. })
    ));
    // An empty configured token must never accept an empty presented one.
    assert_eq!(check("Bearer ", &[""]), Err(SignatureError::NoSecrets));
    assert_eq!(check("Bearer y", &["", "x"]), Err(SignatureError::NoMatch));
}

#[test]
fn token_without_prefix() {
    let scheme = Scheme::Token(TokenScheme::new("X-Api-Token", None).unwrap());
    let headers = [("x-api-token", "abc")];
    let request = SignedRequest::new(b"", &headers);
    assert!(scheme.verify(&request, &["abc"], NOW).is_ok());
    assert!(scheme.verify(&request, &["abcd"], NOW).is_err());
    assert!(TokenScheme::new("bad header", None).is_err());
}

#[test]
fn header_map_lookup_is_case_insensitive() {
    let mut map = http::HeaderMap::new();
    map.insert(
        "x-hub-signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
            .parse()
            .unwrap(),
    );
    let request = SignedRequest::new(b"Hello, World!", &map);
    let verified = Scheme::Github
        .verify(&request, &["It's a Secret to Everybody"], 0)
        .unwrap();
    assert_eq!(verified.event_id, None);
}

#[test]
fn non_utf8_header_is_malformed_not_a_panic() {
    let mut map = http::HeaderMap::new();
    map.insert(
        "stripe-signature",
        http::HeaderValue::from_bytes(b"t=1,v1=\xff").unwrap(),
    );
    let result =
        Scheme::Stripe(Stripe::default()).verify(&SignedRequest::new(b"", &map), &["whsec_x"], NOW);
    assert!(matches!(
        result,
        Err(SignatureError::MalformedHeader { .. })
    ));
}

#[test]
fn standard_secrets_are_checked_at_load() {
    let scheme = Scheme::Standard(Standard::default());
    assert!(
        scheme
            .check_secret(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .is_ok()
    );
    assert_eq!(
        scheme.check_secret(b"whsec_not base64!"),
        Err(SchemeError::SecretNotBase64)
    );
    assert_eq!(scheme.check_secret(b""), Err(SchemeError::EmptySecret));
    assert_eq!(
        scheme.check_secret(b"whsec_"),
        Err(SchemeError::EmptySecret)
    );
    assert_eq!(
        scheme.check_secret(b"whsk_AAAA"),
        Err(SchemeError::PrivateKeyGiven)
    );
    assert_eq!(
        scheme.check_secret(b"whpk_AAAA"),
        Err(SchemeError::BadPublicKey)
    );
    assert!(Scheme::Github.check_secret(b"anything").is_ok());
    assert_eq!(
        standard::sign(b"whpk_AAAA", "id", 1, b""),
        Err(SchemeError::BadPublicKey)
    );
}

#[test]
fn sign_then_verify_round_trips() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let sig = standard::sign(secret.as_bytes(), "msg_1", NOW, b"{}").unwrap();
    let ts = NOW.to_string();
    let headers = [
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", sig.as_str()),
    ];
    let verified = Scheme::Standard(Standard::default())
        .verify(&SignedRequest::new(b"{}", &headers), &[secret], NOW)
        .unwrap();
    assert_eq!(verified.event_id.as_deref(), Some("msg_1"));
    assert_eq!(verified.timestamp, Some(NOW));
}

#[test]
fn errors_never_show_secrets_or_signatures() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let good = standard::sign(secret.as_bytes(), "msg_1", NOW, b"{}").unwrap();
    let ts = NOW.to_string();
    let headers = [
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", "v1,AAAA"),
    ];
    let error = Scheme::Standard(Standard::default())
        .verify(&SignedRequest::new(b"{}", &headers), &[secret], NOW)
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(error.is_mismatch());
    assert!(
        !shown.contains("MfKQ9r8") && !shown.contains(&good[3..]),
        "{shown}"
    );
    let key = standard::Key::parse(secret.as_bytes()).unwrap();
    assert!(!format!("{key:?}").contains("MfKQ"));
}

#[test]
fn twilio_without_url_is_refused() {
    let headers = [("X-Twilio-Signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")];
    let result = Scheme::Twilio(Default::default()).verify(
        &SignedRequest::new(b"", &headers),
        &["12345"],
        NOW,
    );
    assert_eq!(result, Err(SignatureError::MissingUrl));
}
