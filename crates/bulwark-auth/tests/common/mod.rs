//! Shared test helpers: the committed keys, minting tokens with jsonwebtoken (an outside
//! implementation, so our verifier is not checked against itself), and a JWKS server.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bulwark_auth::jwt::{Issuer, IssuerSettings, JwtAlgorithm, KeySource};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

pub const NOW: u64 = 1_800_000_000;
pub const ISS: &str = "https://idp.example";
pub const AUD: &str = "api";
/// 64 bytes: enough for HS512 too.
pub const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub fn key_file(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

pub fn jwt_alg(alg: JwtAlgorithm) -> Algorithm {
    alg.as_str()
        .parse()
        .expect("jsonwebtoken knows every JwtAlgorithm")
}

/// The signing key and the matching verification source for an algorithm.
pub fn keys_for(alg: JwtAlgorithm) -> (EncodingKey, KeySource) {
    use JwtAlgorithm::*;
    match alg {
        HS256 | HS384 | HS512 => (
            EncodingKey::from_secret(SECRET),
            KeySource::Secret(SECRET.to_vec()),
        ),
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => (
            EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap(),
            KeySource::PemPublicKey(key_file("rsa_public.pem")),
        ),
        ES256 => (
            EncodingKey::from_ec_pem(&key_file("ec256_private.pem")).unwrap(),
            KeySource::PemPublicKey(key_file("ec256_public.pem")),
        ),
        ES384 => (
            EncodingKey::from_ec_pem(&key_file("ec384_private.pem")).unwrap(),
            KeySource::PemPublicKey(key_file("ec384_public.pem")),
        ),
        EdDSA => (
            EncodingKey::from_ed_pem(&key_file("ed25519_private.pem")).unwrap(),
            KeySource::PemPublicKey(key_file("ed25519_public.pem")),
        ),
    }
}

pub fn claims() -> Value {
    json!({
        "iss": ISS,
        "aud": AUD,
        "sub": "user-1",
        "exp": NOW + 600,
        "iat": NOW - 10,
        "realm_access": {"roles": ["admin", "user"]},
        "plan": "pro",
    })
}

pub fn settings(alg: JwtAlgorithm, source: KeySource) -> IssuerSettings {
    let mut s = IssuerSettings::new(ISS, vec![AUD.into()], vec![alg], source);
    s.roles_claim = Some("realm_access.roles".into());
    s.plan_claim = Some("plan".into());
    s
}

pub fn issuer(alg: JwtAlgorithm) -> Issuer {
    Issuer::new(settings(alg, keys_for(alg).1)).unwrap()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with exactly this header and payload JSON, signed with `key` under `alg` by
/// jsonwebtoken (whatever the header claims).
pub fn mint_raw(header: &Value, payload: &Value, key: &EncodingKey, alg: JwtAlgorithm) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(payload.to_string()));
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, jwt_alg(alg)).unwrap();
    format!("{input}.{signature}")
}

/// A normal token for `alg` with the given claims and optional kid.
pub fn mint(alg: JwtAlgorithm, payload: &Value, kid: Option<&str>) -> String {
    let mut header = jsonwebtoken::Header::new(jwt_alg(alg));
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, payload, &keys_for(alg).0).unwrap()
}

/// A public JWK (with kid and use) for the private key used for `alg`, from jsonwebtoken.
pub fn public_jwk(key: &EncodingKey, alg: JwtAlgorithm, kid: &str) -> Value {
    let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(key, jwt_alg(alg)).unwrap();
    let mut v = serde_json::to_value(jwk).unwrap();
    v["kid"] = json!(kid);
    v["use"] = json!("sig");
    v
}

/// A JWKS endpoint on 127.0.0.1:0 whose answer the test changes at will.
pub struct JwksServer {
    pub url: String,
    state: Arc<ServerState>,
}

struct ServerState {
    response: Mutex<(u16, String)>,
    hits: AtomicUsize,
}

impl JwksServer {
    pub async fn start(body: String) -> Self {
        let state = Arc::new(ServerState {
            response: Mutex::new((200, body)),
            hits: AtomicUsize::new(0),
        });
        let shared = state.clone();
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let shared = shared.clone();
                async move {
                    shared.hits.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = shared.response.lock().unwrap().clone();
                    (axum::http::StatusCode::from_u16(status).unwrap(), body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}/jwks.json"),
            state,
        }
    }

    pub fn set(&self, status: u16, body: String) {
        *self.state.response.lock().unwrap() = (status, body);
    }

    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }
}

pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// Asserts that an error message carries no part of the token.
pub fn assert_no_token_in(error: &impl std::fmt::Display, token: &str) {
    let text = error.to_string();
    for part in token.split('.').filter(|p| p.len() >= 8) {
        assert!(!text.contains(part), "error {text:?} leaks a token part");
    }
}
