//! RFC 7515 appendix A examples, verbatim: expected values from outside this code.
//!
//! The examples are JWS, not access tokens for us: their payload has `iss` and `exp` but no
//! `aud` or `sub`. The signature path is checked with `verify_signature_only` (the header
//! rules and the signature, no claims), and the full `Issuer` path is shown to get past the
//! signature and stop at the first missing claim, with `now` pinned before the examples'
//! `exp` (1300819380).
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bulwark_auth::jwt::{
    Issuer, IssuerSettings, JwtAlgorithm, JwtError, KeySource, ParseError, VerifyKey,
    verify_signature_only,
};
use serde_json::{Map, Value, json};

/// Before the examples' exp of 1300819380 (2011-03-22T18:43:00Z).
const NOW: u64 = 1_300_819_000;

const PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

// A.1: HS256.
const A1_KEY_K: &str =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
const A1_HEADER: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
const A1_SIG: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

// A.2: RS256.
const A2_N: &str = concat!(
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx",
    "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs",
    "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH",
    "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV",
    "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8",
    "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
);
const A2_HEADER: &str = "eyJhbGciOiJSUzI1NiJ9";
const A2_SIG: &str = concat!(
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7",
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4",
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K",
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv",
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB",
    "p0igcN_IoypGlUPQGe77Rw",
);

// A.3: ES256.
const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const A3_HEADER: &str = "eyJhbGciOiJFUzI1NiJ9";
const A3_SIG: &str =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

// A.5: the unsecured JWS (alg "none", empty signature).
const A5_HEADER: &str = "eyJhbGciOiJub25lIn0";

fn token(header: &str, sig: &str) -> String {
    format!("{header}.{PAYLOAD}.{sig}")
}

fn a1_key() -> VerifyKey {
    VerifyKey::hmac(&URL_SAFE_NO_PAD.decode(A1_KEY_K).unwrap())
}

fn a2_key() -> VerifyKey {
    let jwk = json!({"kty": "RSA", "n": A2_N, "e": "AQAB"});
    VerifyKey::from_jwk(jwk.as_object().unwrap()).unwrap()
}

fn a3_key() -> VerifyKey {
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": A3_X, "y": A3_Y});
    VerifyKey::from_jwk(jwk.as_object().unwrap()).unwrap()
}

fn expected_claims() -> Map<String, Value> {
    json!({"iss": "joe", "exp": 1300819380, "http://example.com/is_root": true})
        .as_object()
        .unwrap()
        .clone()
}

#[test]
fn a1_hs256_verifies() {
    let t = token(A1_HEADER, A1_SIG);
    let parsed = verify_signature_only(&t, &a1_key(), &[JwtAlgorithm::HS256]).unwrap();
    assert_eq!(parsed.claims, expected_claims());
    assert_eq!(parsed.header.typ.as_deref(), Some("JWT"));
}

#[test]
fn a2_rs256_verifies() {
    let t = token(A2_HEADER, A2_SIG);
    let parsed = verify_signature_only(&t, &a2_key(), &[JwtAlgorithm::RS256]).unwrap();
    assert_eq!(parsed.claims, expected_claims());
}

#[test]
fn a3_es256_verifies() {
    let t = token(A3_HEADER, A3_SIG);
    let parsed = verify_signature_only(&t, &a3_key(), &[JwtAlgorithm::ES256]).unwrap();
    assert_eq!(parsed.claims, expected_claims());
}

#[test]
fn vectors_fail_with_a_flipped_bit_or_the_wrong_key() {
    let mut sig = URL_SAFE_NO_PAD.decode(A1_SIG).unwrap();
    sig[0] ^= 1;
    let t = token(A1_HEADER, &URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(
        verify_signature_only(&t, &a1_key(), &[JwtAlgorithm::HS256]).unwrap_err(),
        JwtError::InvalidSignature
    );
    // A.2's token against A.3's key: the key does not fit RS256 at all.
    let t = token(A2_HEADER, A2_SIG);
    assert!(verify_signature_only(&t, &a3_key(), &[JwtAlgorithm::RS256]).is_err());
    // The right key but RS256 not allowed.
    assert_eq!(
        verify_signature_only(&t, &a2_key(), &[JwtAlgorithm::PS256]).unwrap_err(),
        JwtError::AlgorithmNotAllowed(JwtAlgorithm::RS256)
    );
}

#[test]
fn a5_unsecured_jws_is_refused() {
    let t = format!("{A5_HEADER}.{PAYLOAD}.");
    assert_eq!(
        verify_signature_only(&t, &a1_key(), &[JwtAlgorithm::HS256]).unwrap_err(),
        JwtError::Malformed(ParseError::EmptySignature)
    );
    // Even with some signature bytes attached, "none" is refused by name.
    let t = format!("{A5_HEADER}.{PAYLOAD}.{A1_SIG}");
    assert_eq!(
        verify_signature_only(&t, &a1_key(), &[JwtAlgorithm::HS256]).unwrap_err(),
        JwtError::AlgorithmNone
    );
}

#[tokio::test]
async fn a1_through_the_issuer_reaches_the_claims_and_needs_aud() {
    let secret = URL_SAFE_NO_PAD.decode(A1_KEY_K).unwrap();
    let settings = IssuerSettings::new(
        "joe",
        vec!["api".into()],
        vec![JwtAlgorithm::HS256],
        KeySource::Secret(secret),
    );
    let issuer = Issuer::new(settings).unwrap();
    let t = token(A1_HEADER, A1_SIG);
    // Signature good, exp good at NOW, iss good: stops at the missing aud.
    assert_eq!(
        issuer.verify(&t, NOW).await.unwrap_err(),
        JwtError::MissingClaim("aud")
    );
    // After exp (plus the 30 s leeway), expiry is what fails first.
    assert_eq!(
        issuer.verify(&t, 1_300_819_380 + 30).await.unwrap_err(),
        JwtError::Expired
    );
    // A wrong signature is caught before any claim is looked at.
    let bad = token(A1_HEADER, A2_SIG);
    assert_eq!(
        issuer.verify(&bad, NOW).await.unwrap_err(),
        JwtError::InvalidSignature
    );
}
