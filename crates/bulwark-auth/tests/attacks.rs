//! The attack suite: every way a token is known to be forged or misused, refused with the
//! specific error, and no error message leaking the token.

mod common;

use bulwark_auth::jwt::{
    Issuer, JwtAlgorithm, JwtError, KeySource, MAX_TOKEN_BYTES, ParseError, VerifyKey,
};
use common::*;
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};

fn hs_key() -> EncodingKey {
    EncodingKey::from_secret(SECRET)
}

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap()
}

/// Verifies with the issuer, asserts the error, and that the error does not echo the token.
fn refused(issuer: &Issuer, token: &str, expected: JwtError) {
    let err = issuer.verify_offline(token, NOW).unwrap_err();
    assert_eq!(err, expected, "token: {token}");
    assert_no_token_in(&err, token);
}

#[test]
fn a_valid_token_passes_the_same_issuers() {
    // The control: without it, every refusal below could be a broken setup.
    assert!(
        issuer(JwtAlgorithm::HS256)
            .verify_offline(&mint(JwtAlgorithm::HS256, &claims(), None), NOW)
            .is_ok()
    );
    assert!(
        issuer(JwtAlgorithm::RS256)
            .verify_offline(&mint(JwtAlgorithm::RS256, &claims(), None), NOW)
            .is_ok()
    );
}

#[test]
fn alg_none_in_every_spelling() {
    let issuer = issuer(JwtAlgorithm::HS256);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(json!({"alg": alg, "typ": "JWT"}).to_string());
        let payload = b64(claims().to_string());
        // The unsecured form: no signature at all.
        refused(
            &issuer,
            &format!("{header}.{payload}."),
            JwtError::Malformed(ParseError::EmptySignature),
        );
        // With a signature stuck on (a real HS256 one over the same input): refused by name.
        let signed = mint_raw(
            &json!({"alg": alg, "typ": "JWT"}),
            &claims(),
            &hs_key(),
            JwtAlgorithm::HS256,
        );
        refused(&issuer, &signed, JwtError::AlgorithmNone);
    }
}

#[test]
fn rs256_to_hs256_key_confusion() {
    // The classic: sign HS256 with the issuer's *public* RSA key (PEM text) as HMAC secret.
    let public_pem = key_file("rsa_public.pem");
    let token = mint_raw(
        &json!({"alg": "HS256"}),
        &claims(),
        &EncodingKey::from_secret(&public_pem),
        JwtAlgorithm::HS256,
    );
    let issuer = issuer(JwtAlgorithm::RS256);
    refused(
        &issuer,
        &token,
        JwtError::AlgorithmNotAllowed(JwtAlgorithm::HS256),
    );
    // Even an issuer allowing both families cannot exist with a public key...
    let mut s = settings(
        JwtAlgorithm::RS256,
        KeySource::PemPublicKey(public_pem.clone()),
    );
    s.algorithms.push(JwtAlgorithm::HS256);
    assert!(Issuer::new(s).is_err());
    // ...and the key itself refuses to act as an HMAC secret.
    let key = VerifyKey::from_pem(&public_pem).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    assert!(!key.verify(JwtAlgorithm::HS256, input.as_bytes(), &sig));
}

#[test]
fn tampered_payload() {
    let issuer = issuer(JwtAlgorithm::RS256);
    let token = mint(JwtAlgorithm::RS256, &claims(), None);
    let (header, rest) = token.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let mut evil = claims();
    evil["sub"] = json!("admin");
    evil["realm_access"]["roles"] = json!(["admin", "superuser"]);
    let tampered = format!("{header}.{}.{sig}", b64(evil.to_string()));
    refused(&issuer, &tampered, JwtError::InvalidSignature);
    // Tampered header (kid added) with the old signature.
    let (_, rest) = token.split_once('.').unwrap();
    let tampered = format!(
        "{}.{rest}",
        b64(json!({"alg": "RS256", "kid": "x"}).to_string())
    );
    refused(&issuer, &tampered, JwtError::InvalidSignature);
}

fn with(change: impl FnOnce(&mut Value)) -> Value {
    let mut c = claims();
    change(&mut c);
    c
}

#[test]
fn time_and_identity_claims() {
    let issuer = issuer(JwtAlgorithm::ES256);
    let mint = |c: Value| mint(JwtAlgorithm::ES256, &c, None);
    refused(
        &issuer,
        &mint(with(|c| c["exp"] = json!(NOW - 31))),
        JwtError::Expired,
    );
    refused(
        &issuer,
        &mint(with(|c| c["nbf"] = json!(NOW + 31))),
        JwtError::NotYetValid,
    );
    refused(
        &issuer,
        &mint(with(|c| c["iat"] = json!(NOW + 3600))),
        JwtError::IssuedInFuture,
    );
    refused(
        &issuer,
        &mint(with(|c| c["aud"] = json!("other-api"))),
        JwtError::WrongAudience,
    );
    refused(
        &issuer,
        &mint(with(|c| c["aud"] = json!(["a", "b"]))),
        JwtError::WrongAudience,
    );
    refused(
        &issuer,
        &mint(with(|c| c["iss"] = json!("https://evil.example"))),
        JwtError::WrongIssuer,
    );
    refused(
        &issuer,
        &mint(with(|c| c["iss"] = json!("https://idp.example/"))),
        JwtError::WrongIssuer,
    );
    refused(
        &issuer,
        &mint(with(|c| drop(c.as_object_mut().unwrap().remove("exp")))),
        JwtError::MissingClaim("exp"),
    );
    refused(
        &issuer,
        &mint(with(|c| drop(c.as_object_mut().unwrap().remove("aud")))),
        JwtError::MissingClaim("aud"),
    );
    refused(
        &issuer,
        &mint(with(|c| drop(c.as_object_mut().unwrap().remove("iss")))),
        JwtError::MissingClaim("iss"),
    );
    refused(
        &issuer,
        &mint(with(|c| c["exp"] = json!("tomorrow"))),
        JwtError::InvalidClaim("exp"),
    );
    // Within the leeway both ways: accepted.
    assert!(
        issuer
            .verify_offline(&mint(with(|c| c["exp"] = json!(NOW - 29))), NOW)
            .is_ok()
    );
    assert!(
        issuer
            .verify_offline(&mint(with(|c| c["nbf"] = json!(NOW + 29))), NOW)
            .is_ok()
    );
}

#[test]
fn header_parameters_that_point_at_keys() {
    let issuer = issuer(JwtAlgorithm::RS256);
    let sign = |header: Value| mint_raw(&header, &claims(), &rsa_key(), JwtAlgorithm::RS256);
    let attacker_jwk = public_jwk(
        &EncodingKey::from_rsa_pem(&key_file("rsa2_private.pem")).unwrap(),
        JwtAlgorithm::RS256,
        "evil",
    );
    refused(
        &issuer,
        &sign(json!({"alg": "RS256", "crit": ["exp"], "exp": 1})),
        JwtError::CriticalHeader,
    );
    refused(
        &issuer,
        &sign(json!({"alg": "RS256", "crit": []})),
        JwtError::CriticalHeader,
    );
    refused(
        &issuer,
        &sign(json!({"alg": "RS256", "jku": "https://evil.example/jwks.json"})),
        JwtError::EmbeddedKeyReference("jku"),
    );
    refused(
        &issuer,
        &sign(json!({"alg": "RS256", "x5u": "https://evil.example/cert.pem"})),
        JwtError::EmbeddedKeyReference("x5u"),
    );
    refused(
        &issuer,
        &sign(json!({"alg": "RS256", "jwk": attacker_jwk})),
        JwtError::EmbeddedKeyReference("jwk"),
    );
    refused(
        &issuer,
        &sign(json!({"alg": "RS256", "x5c": ["MIIB"]})),
        JwtError::EmbeddedKeyReference("x5c"),
    );
    // A token signed by the attacker's key with its own jwk embedded: refused before any
    // signature work, and certainly not verified with the embedded key.
    let attacker = mint_raw(
        &json!({"alg": "RS256", "jwk": attacker_jwk}),
        &claims(),
        &EncodingKey::from_rsa_pem(&key_file("rsa2_private.pem")).unwrap(),
        JwtAlgorithm::RS256,
    );
    refused(&issuer, &attacker, JwtError::EmbeddedKeyReference("jwk"));
}

#[test]
fn kid_is_never_a_path() {
    // With a single configured key the kid is not consulted at all: a traversal kid is inert.
    let issuer = issuer(JwtAlgorithm::RS256);
    let token = mint(
        JwtAlgorithm::RS256,
        &claims(),
        Some("../../../../etc/passwd"),
    );
    assert!(issuer.verify_offline(&token, NOW).is_ok());
    let token = mint(JwtAlgorithm::RS256, &claims(), Some("/dev/null"));
    assert!(issuer.verify_offline(&token, NOW).is_ok());
    // (With a JWKS, such a kid simply finds nothing: tests/jwks.rs.)
}

#[test]
fn malformed_tokens() {
    let issuer = issuer(JwtAlgorithm::HS256);
    let good = mint(JwtAlgorithm::HS256, &claims(), None);
    let (input, _) = good.rsplit_once('.').unwrap();
    refused(
        &issuer,
        &format!("{input}."),
        JwtError::Malformed(ParseError::EmptySignature),
    );
    refused(
        &issuer,
        &format!("{input}.!!!"),
        JwtError::Malformed(ParseError::Base64 { part: "signature" }),
    );
    refused(
        &issuer,
        &format!("{input}.AAAA="),
        JwtError::Malformed(ParseError::Base64 { part: "signature" }),
    );
    refused(
        &issuer,
        "%%%.%%%.%%%",
        JwtError::Malformed(ParseError::Base64 { part: "header" }),
    );
    refused(
        &issuer,
        "not a token",
        JwtError::Malformed(ParseError::NotCompactJws),
    );
    refused(&issuer, "", JwtError::Malformed(ParseError::NotCompactJws));
    refused(
        &issuer,
        &format!("{good}.{good}"),
        JwtError::Malformed(ParseError::NotCompactJws),
    );
    refused(
        &issuer,
        &format!("{}.{}.AAAA", b64("{\"alg\":\"HS256\""), b64("{}")),
        JwtError::Malformed(ParseError::Json { part: "header" }),
    );
    refused(
        &issuer,
        &format!("{}.{}.AAAA", b64(r#"{"alg":"HS256"}"#), b64("null")),
        JwtError::Malformed(ParseError::Json { part: "payload" }),
    );
    refused(
        &issuer,
        &format!("{}.{}.AAAA", b64(r#"{"alg":"hs256"}"#), b64("{}")),
        JwtError::UnsupportedAlgorithm,
    );
    refused(
        &issuer,
        &format!("{}.{}.AAAA", b64(r#"{"typ":"JWT"}"#), b64("{}")),
        JwtError::Malformed(ParseError::MissingAlg),
    );
    // Oversized: refused before any decoding, even when otherwise well formed.
    let padding = "x".repeat(MAX_TOKEN_BYTES);
    let fat = mint(
        JwtAlgorithm::HS256,
        &with(|c| c["pad"] = json!(padding)),
        None,
    );
    let err = issuer.verify_offline(&fat, NOW).unwrap_err();
    assert!(
        matches!(err, JwtError::Malformed(ParseError::TooLarge { .. })),
        "{err}"
    );
    assert_eq!(err.reason(), "too_large");
}

#[test]
fn refused_tokens_are_not_cached() {
    let issuer = issuer(JwtAlgorithm::HS256);
    let expired = mint(
        JwtAlgorithm::HS256,
        &with(|c| c["exp"] = json!(NOW - 100)),
        None,
    );
    for _ in 0..3 {
        assert_eq!(
            issuer.verify_offline(&expired, NOW).unwrap_err(),
            JwtError::Expired
        );
    }
    assert_eq!(issuer.cached_tokens(), 0);
}
