//! JWKS against a real HTTP server on 127.0.0.1:0 whose key set the test rotates.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bulwark_auth::jwt::{
    Issuer, JwksCache, JwksError, JwksSettings, JwtAlgorithm, JwtError, KeySource,
};
use common::*;
use jsonwebtoken::EncodingKey;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Long enough that 100 concurrent verifications finish well inside one interval even on
/// a loaded CI machine (the spam test relies on it).
const REFETCH: Duration = Duration::from_millis(1000);

fn rsa() -> EncodingKey {
    EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap()
}
fn rsa2() -> EncodingKey {
    EncodingKey::from_rsa_pem(&key_file("rsa2_private.pem")).unwrap()
}
fn ec256() -> EncodingKey {
    EncodingKey::from_ec_pem(&key_file("ec256_private.pem")).unwrap()
}
fn ec384() -> EncodingKey {
    EncodingKey::from_ec_pem(&key_file("ec384_private.pem")).unwrap()
}
fn ed() -> EncodingKey {
    EncodingKey::from_ed_pem(&key_file("ed25519_private.pem")).unwrap()
}

fn token(key: &EncodingKey, alg: JwtAlgorithm, kid: &str) -> String {
    mint_raw(
        &json!({"alg": alg.as_str(), "kid": kid}),
        &claims(),
        key,
        alg,
    )
}

fn cache(server: &JwksServer) -> Arc<JwksCache> {
    let mut s = JwksSettings::new(server.url.clone());
    s.min_refetch_interval = REFETCH;
    s.refresh_interval = Duration::from_secs(3600);
    s.timeout = Duration::from_secs(2);
    Arc::new(JwksCache::new(s).unwrap())
}

fn jwks_issuer(cache: &Arc<JwksCache>) -> Issuer {
    let mut s = settings(JwtAlgorithm::RS256, KeySource::Jwks(cache.clone()));
    s.algorithms = vec![
        JwtAlgorithm::RS256,
        JwtAlgorithm::PS256,
        JwtAlgorithm::ES256,
        JwtAlgorithm::ES384,
        JwtAlgorithm::EdDSA,
    ];
    Issuer::new(s).unwrap()
}

#[tokio::test]
async fn rsa_ec_and_okp_keys_verify_and_others_are_skipped() {
    let server = JwksServer::start(jwks(&[
        public_jwk(&rsa(), JwtAlgorithm::RS256, "rsa"),
        public_jwk(&ec256(), JwtAlgorithm::ES256, "p256"),
        public_jwk(&ec384(), JwtAlgorithm::ES384, "p384"),
        public_jwk(&ed(), JwtAlgorithm::EdDSA, "ed"),
        // Skipped: an encryption key, a symmetric key, an unknown kty.
        {
            let mut k = public_jwk(&rsa2(), JwtAlgorithm::RS256, "enc");
            k["use"] = json!("enc");
            k
        },
        json!({"kty": "oct", "kid": "oct", "k": b64(SECRET)}),
        json!({"kty": "XYZ", "kid": "xyz"}),
    ]))
    .await;
    let cache = cache(&server);
    assert_eq!(cache.refresh().await.unwrap(), 4);
    let issuer = jwks_issuer(&cache);
    for (key, alg, kid) in [
        (rsa(), JwtAlgorithm::RS256, "rsa"),
        (ec256(), JwtAlgorithm::ES256, "p256"),
        (ec384(), JwtAlgorithm::ES384, "p384"),
        (ed(), JwtAlgorithm::EdDSA, "ed"),
    ] {
        let id = issuer
            .verify(&token(&key, alg, kid), NOW)
            .await
            .unwrap_or_else(|e| panic!("{kid}: {e}"));
        assert_eq!(id.subject, "user-1");
    }
    // The JWK's own alg pins the key: the RS256 key may not verify PS256.
    let ps = token(&rsa(), JwtAlgorithm::PS256, "rsa");
    assert_eq!(
        issuer.verify_offline(&ps, NOW).unwrap_err(),
        JwtError::UnknownKid
    );
    // The `use: enc` key is not there, whatever the token says.
    assert_eq!(
        issuer
            .verify_offline(&token(&rsa2(), JwtAlgorithm::RS256, "enc"), NOW)
            .unwrap_err(),
        JwtError::UnknownKid
    );
    // HMAC can never be configured on a JWKS issuer (the oct key could never be used).
    let mut s = settings(JwtAlgorithm::HS256, KeySource::Jwks(cache.clone()));
    s.algorithms = vec![JwtAlgorithm::HS256];
    assert!(Issuer::new(s).is_err());
}

#[tokio::test]
async fn rotation_new_kid_verifies_after_the_rate_limited_refetch() {
    let server = JwksServer::start(jwks(&[public_jwk(&rsa(), JwtAlgorithm::RS256, "k1")])).await;
    let cache = cache(&server);
    cache.refresh().await.unwrap();
    let issuer = jwks_issuer(&cache);
    assert!(
        issuer
            .verify(&token(&rsa(), JwtAlgorithm::RS256, "k1"), NOW)
            .await
            .is_ok()
    );

    // The IdP starts publishing k2, and tokens signed with it arrive at once.
    server.set(
        200,
        jwks(&[
            public_jwk(&rsa(), JwtAlgorithm::RS256, "k1"),
            public_jwk(&rsa2(), JwtAlgorithm::RS256, "k2"),
        ]),
    );
    let t2 = token(&rsa2(), JwtAlgorithm::RS256, "k2");
    // The last fetch was just now: no refetch yet, so k2 is unknown.
    assert_eq!(
        issuer.verify(&t2, NOW).await.unwrap_err(),
        JwtError::UnknownKid
    );
    assert_eq!(server.hits(), 1);
    tokio::time::sleep(REFETCH + Duration::from_millis(50)).await;
    // Now the unknown kid triggers one refetch, and the token verifies.
    assert_eq!(issuer.verify(&t2, NOW).await.unwrap().subject, "user-1");
    assert_eq!(server.hits(), 2);
    assert!(cache.keys().contains_kid("k2"));
}

#[tokio::test]
async fn a_removed_key_stops_verifying_even_for_cached_tokens() {
    let server = JwksServer::start(jwks(&[public_jwk(&rsa(), JwtAlgorithm::RS256, "k1")])).await;
    let cache = cache(&server);
    cache.refresh().await.unwrap();
    let issuer = jwks_issuer(&cache);
    let t1 = token(&rsa(), JwtAlgorithm::RS256, "k1");
    assert!(issuer.verify_offline(&t1, NOW).is_ok());
    assert_eq!(issuer.cached_tokens(), 1);
    server.set(200, jwks(&[public_jwk(&rsa2(), JwtAlgorithm::RS256, "k2")]));
    cache.refresh().await.unwrap();
    assert_eq!(
        issuer.verify_offline(&t1, NOW).unwrap_err(),
        JwtError::UnknownKid
    );
}

#[tokio::test]
async fn a_failed_fetch_keeps_the_last_good_keys() {
    let server = JwksServer::start(jwks(&[public_jwk(&rsa(), JwtAlgorithm::RS256, "k1")])).await;
    let cache = cache(&server);
    cache.refresh().await.unwrap();
    let issuer = jwks_issuer(&cache);
    let t1 = token(&rsa(), JwtAlgorithm::RS256, "k1");
    let generation = cache.keys().generation();

    server.set(500, "oops".into());
    assert!(matches!(cache.refresh().await, Err(JwksError::Status(500))));
    server.set(200, "<html>not json</html>".into());
    assert!(matches!(cache.refresh().await, Err(JwksError::NotAKeySet)));
    server.set(200, jwks(&[]));
    assert!(matches!(
        cache.refresh().await,
        Err(JwksError::NoUsableKeys)
    ));
    server.set(
        200,
        format!(
            "{{\"keys\":[],\"pad\":\"{}\"}}",
            "x".repeat(2 * 1024 * 1024)
        ),
    );
    assert!(matches!(cache.refresh().await, Err(JwksError::TooLarge(_))));

    assert_eq!(cache.keys().generation(), generation);
    assert_eq!(issuer.verify(&t1, NOW).await.unwrap().subject, "user-1");
    // An unreachable server: same.
    let mut s = cache.settings().clone();
    s.url = "http://127.0.0.1:9/jwks.json".into();
    let dead = JwksCache::new(s).unwrap();
    assert!(matches!(dead.refresh().await, Err(JwksError::Request(_))));
    let dead_issuer = jwks_issuer(&Arc::new(dead));
    assert_eq!(
        dead_issuer.verify_offline(&t1, NOW).unwrap_err(),
        JwtError::NoKeys
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_spam_causes_at_most_one_refetch_per_interval() {
    let server = JwksServer::start(jwks(&[public_jwk(&rsa(), JwtAlgorithm::RS256, "k1")])).await;
    let cache = cache(&server);
    cache.refresh().await.unwrap();
    let issuer = Arc::new(jwks_issuer(&cache));
    tokio::time::sleep(REFETCH + Duration::from_millis(50)).await;

    for round in 1..=2 {
        // Mint first (RSA signing is slow in debug builds), then fire all at once.
        let tokens: Vec<String> = (0..100)
            .map(|i| {
                // Including path-traversal kids: plain strings that match nothing.
                let kid = if i % 2 == 0 {
                    format!("../../../etc/passwd{i}")
                } else {
                    format!("random-{round}-{i}")
                };
                token(&rsa(), JwtAlgorithm::RS256, &kid)
            })
            .collect();
        let tasks: Vec<_> = tokens
            .into_iter()
            .map(|t| {
                let issuer = issuer.clone();
                tokio::spawn(async move { issuer.verify(&t, NOW).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap_err(), JwtError::UnknownKid);
        }
        assert_eq!(
            server.hits(),
            1 + round,
            "one refetch for 100 unknown kids in round {round}"
        );
        tokio::time::sleep(REFETCH + Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_background_loop_fetches_at_start_and_stops_on_cancel() {
    let server = JwksServer::start(jwks(&[public_jwk(&rsa(), JwtAlgorithm::RS256, "k1")])).await;
    let mut s = JwksSettings::new(server.url.clone());
    s.refresh_interval = Duration::from_millis(100);
    let cache = Arc::new(JwksCache::new(s).unwrap());
    let cancel = CancellationToken::new();
    let task = tokio::spawn(cache.clone().run(cancel.clone()));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(cache.keys().contains_kid("k1"));
    let hits = server.hits();
    assert!(
        (2..=5).contains(&hits),
        "initial fetch plus periodic refreshes, got {hits}"
    );
    cancel.cancel();
    task.await.unwrap();
    let after = server.hits();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(server.hits(), after, "no fetch after cancel");
}
