//! Runs every vector in `tests/vectors/*.json` through the schemes. The vectors come from
//! the providers' published examples and official SDKs, written by
//! `scripts/gen-signature-vectors.py`; nothing here computes an expected signature.

use std::collections::BTreeMap;

use bulwark_signatures::{
    Algorithm, Encoding, HmacParams, HmacScheme, Scheme, SignatureError, SignedRequest, Slack,
    Standard, Stripe, Twilio, standard,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct File<V> {
    source: String,
    vectors: Vec<V>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    secrets: Vec<String>,
    body: String,
    headers: BTreeMap<String, String>,
    now: u64,
    expect: String,
    event_id: Option<String>,
    secret_index: Option<usize>,
    url: Option<String>,
    #[serde(default)]
    form: Vec<(String, String)>,
    params: Option<Params>,
}

#[derive(Deserialize)]
struct Params {
    header: String,
    algorithm: String,
    encoding: String,
    prefix: Option<String>,
    timestamp_header: Option<String>,
    template: Option<String>,
}

fn load<V: serde::de::DeserializeOwned>(name: &str) -> File<V> {
    let path = format!("{}/tests/vectors/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let file: File<V> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(!file.source.is_empty(), "{path} cites its source");
    assert!(!file.vectors.is_empty(), "{path} has vectors");
    file
}

fn hmac_scheme(p: &Params) -> Scheme {
    let algorithm = match p.algorithm.as_str() {
        "sha1" => Algorithm::Sha1,
        "sha256" => Algorithm::Sha256,
        "sha512" => Algorithm::Sha512,
        other => panic!("algorithm {other}"),
    };
    let encoding = match p.encoding.as_str() {
        "hex" => Encoding::Hex,
        "base64" => Encoding::Base64,
        other => panic!("encoding {other}"),
    };
    let mut params = HmacParams::new(&p.header, algorithm, encoding);
    params.prefix = p.prefix.clone();
    params.timestamp_header = p.timestamp_header.clone();
    params.template = p.template.clone();
    Scheme::Hmac(HmacScheme::new(params).expect("valid params"))
}

fn run(file: &str, scheme: impl Fn(&Vector) -> Scheme) {
    let vectors = load::<Vector>(file).vectors;
    let mut seen = BTreeMap::new();
    for v in &vectors {
        let scheme = scheme(v);
        let headers: Vec<(&str, &str)> = v
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let form: Vec<(&str, &str)> = v
            .form
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut request = SignedRequest::new(v.body.as_bytes(), &headers).with_form(&form);
        if let Some(url) = &v.url {
            request = request.with_url(url);
        }
        let result = scheme.verify(&request, &v.secrets, v.now);
        let what = format!("{file}: {}: {result:?}", v.name);
        match (v.expect.as_str(), &result) {
            ("ok", Ok(verified)) => {
                assert_eq!(Some(verified.secret_index), v.secret_index, "{what}");
                if v.event_id.is_some() {
                    assert_eq!(verified.event_id, v.event_id, "{what}");
                }
            }
            ("no_match", Err(SignatureError::NoMatch))
            | ("timestamp", Err(SignatureError::TimestampOutOfTolerance { .. }))
            | ("malformed", Err(SignatureError::MalformedHeader { .. }))
            | ("missing", Err(SignatureError::MissingHeader(_))) => {}
            _ => panic!("expected {}; {what}", v.expect),
        }
        *seen.entry(v.expect.clone()).or_insert(0) += 1;
    }
    assert!(
        seen.contains_key("ok") && seen.contains_key("no_match"),
        "{file}: {seen:?}"
    );
}

#[test]
fn stripe_vectors() {
    run("stripe", |_| Scheme::Stripe(Stripe::default()));
}

#[test]
fn github_vectors() {
    run("github", |_| Scheme::Github);
}

#[test]
fn slack_vectors() {
    run("slack", |_| Scheme::Slack(Slack::default()));
}

#[test]
fn standard_vectors() {
    run("standard", |_| Scheme::Standard(Standard::default()));
}

#[test]
fn shopify_vectors() {
    run("shopify", |_| Scheme::Shopify);
}

#[test]
fn twilio_vectors() {
    run("twilio", |_| Scheme::Twilio(Twilio::default()));
}

#[test]
fn hmac_vectors() {
    run("hmac", |v| {
        hmac_scheme(v.params.as_ref().expect("hmac vectors carry params"))
    });
}

#[derive(Deserialize)]
struct SignVector {
    secret: String,
    id: String,
    timestamp: u64,
    body: String,
    signature: String,
}

#[test]
fn standard_sign_matches_the_reference_sdk() {
    for v in load::<SignVector>("standard_sign").vectors {
        let signature = standard::sign(v.secret.as_bytes(), &v.id, v.timestamp, v.body.as_bytes());
        assert_eq!(signature.as_deref(), Ok(v.signature.as_str()));
    }
}
