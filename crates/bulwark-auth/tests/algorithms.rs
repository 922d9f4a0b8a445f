//! Every supported algorithm signs (jsonwebtoken) and verifies (bulwark) end to end, so a
//! crypto backend feature that goes missing fails here, not at first use in production.

mod common;

use bulwark_auth::jwt::{Issuer, IssuerError, JwtAlgorithm, JwtError, KeySource};
use common::*;

#[tokio::test]
async fn every_algorithm_verifies_through_an_issuer() {
    for alg in JwtAlgorithm::ALL {
        let issuer = issuer(alg);
        let token = mint(alg, &claims(), None);
        let id = issuer
            .verify(&token, NOW)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(id.subject, "user-1", "{alg}");
        assert_eq!(id.roles, ["admin", "user"], "{alg}");
        assert_eq!(id.plan.as_deref(), Some("pro"), "{alg}");
        assert_eq!(id.expires_at, Some(NOW + 600), "{alg}");
    }
}

#[test]
fn every_algorithm_refuses_a_flipped_signature_bit() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for alg in JwtAlgorithm::ALL {
        let issuer = issuer(alg);
        let token = mint(alg, &claims(), None);
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let last = sig.len() - 1;
        sig[last / 2] ^= 0x01;
        let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
        assert_eq!(
            issuer.verify_offline(&forged, NOW).unwrap_err(),
            JwtError::InvalidSignature,
            "{alg}"
        );
    }
}

#[test]
fn tokens_of_another_key_are_refused() {
    let other_rsa = jsonwebtoken::EncodingKey::from_rsa_pem(&key_file("rsa2_private.pem")).unwrap();
    for alg in [
        JwtAlgorithm::RS256,
        JwtAlgorithm::PS256,
        JwtAlgorithm::RS512,
    ] {
        let token = mint_raw(
            &serde_json::json!({"alg": alg.as_str()}),
            &claims(),
            &other_rsa,
            alg,
        );
        assert_eq!(
            issuer(alg).verify_offline(&token, NOW).unwrap_err(),
            JwtError::InvalidSignature
        );
    }
    let other_secret =
        jsonwebtoken::EncodingKey::from_secret(b"another secret of at least thirty-two bytes");
    let token = mint_raw(
        &serde_json::json!({"alg": "HS256"}),
        &claims(),
        &other_secret,
        JwtAlgorithm::HS256,
    );
    assert_eq!(
        issuer(JwtAlgorithm::HS256)
            .verify_offline(&token, NOW)
            .unwrap_err(),
        JwtError::InvalidSignature
    );
    // An ES256 token against a P-384 issuer: not even an allowed algorithm.
    let es384 = issuer(JwtAlgorithm::ES384);
    let token = mint(JwtAlgorithm::ES256, &claims(), None);
    assert_eq!(
        es384.verify_offline(&token, NOW).unwrap_err(),
        JwtError::AlgorithmNotAllowed(JwtAlgorithm::ES256)
    );
}

#[test]
fn allow_lists_must_fit_the_key_source() {
    let cases = [
        (
            JwtAlgorithm::HS256,
            KeySource::PemPublicKey(key_file("rsa_public.pem")),
        ),
        (JwtAlgorithm::RS256, KeySource::Secret(SECRET.to_vec())),
        (
            JwtAlgorithm::ES384,
            KeySource::PemPublicKey(key_file("ec256_public.pem")),
        ),
        (
            JwtAlgorithm::EdDSA,
            KeySource::PemPublicKey(key_file("ec256_public.pem")),
        ),
        (
            JwtAlgorithm::RS256,
            KeySource::PemPublicKey(key_file("ed25519_public.pem")),
        ),
    ];
    for (alg, source) in cases {
        let err = Issuer::new(settings(alg, source)).unwrap_err();
        assert!(
            matches!(err, IssuerError::AlgorithmKeyMismatch { .. }),
            "{alg}: {err}"
        );
    }
    let err = Issuer::new(settings(
        JwtAlgorithm::HS256,
        KeySource::Secret(b"short".to_vec()),
    ))
    .unwrap_err();
    assert!(matches!(err, IssuerError::WeakSecret));
    assert!(!format!("{:?}", KeySource::Secret(SECRET.to_vec())).contains("0123"));
    let mut s = settings(JwtAlgorithm::HS256, KeySource::Secret(SECRET.to_vec()));
    s.algorithms.clear();
    assert!(matches!(
        Issuer::new(s).unwrap_err(),
        IssuerError::NoAlgorithms
    ));
    let mut s = settings(JwtAlgorithm::HS256, KeySource::Secret(SECRET.to_vec()));
    s.audiences.clear();
    assert!(matches!(
        Issuer::new(s).unwrap_err(),
        IssuerError::NoAudience
    ));
    let err = Issuer::new(settings(
        JwtAlgorithm::RS256,
        KeySource::PemPublicKey(b"not a pem".to_vec()),
    ))
    .unwrap_err();
    assert!(matches!(err, IssuerError::Key(_)));
    let private = KeySource::PemPublicKey(key_file("rsa_private.pem"));
    let err = Issuer::new(settings(JwtAlgorithm::RS256, private)).unwrap_err();
    assert!(matches!(
        err,
        IssuerError::Key(bulwark_auth::jwt::KeyError::PrivateKeyGiven)
    ));
}

#[tokio::test]
async fn repeated_tokens_come_from_the_cache_until_they_expire() {
    let issuer = issuer(JwtAlgorithm::RS256);
    let token = mint(JwtAlgorithm::RS256, &claims(), None);
    let first = issuer.verify(&token, NOW).await.unwrap();
    assert_eq!(issuer.cached_tokens(), 1);
    assert_eq!(issuer.verify(&token, NOW + 1).await.unwrap(), first);
    assert_eq!(issuer.cached_tokens(), 1);
    // exp + leeway: the cache does not outlive the token.
    assert_eq!(
        issuer.verify(&token, NOW + 600 + 30).await.unwrap_err(),
        JwtError::Expired
    );
}
