//! `parse_unverified` and the whole verifier are total: random input never panics.

mod common;

use bulwark_auth::jwt::{JwtAlgorithm, parse_unverified};
use common::*;
use proptest::prelude::*;

fn raw_part() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 0..120).prop_map(b64)
}

fn json_part() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"\{("[a-z]{0,4}":("[A-Za-z0-9 .]{0,8}"|-?[0-9]{1,20}(\.[0-9]{1,3})?|true|null|\[\]|\{\}),?){0,5}\}"#)
        .expect("the regex is valid")
        .prop_map(b64)
}

/// Random bytes or random small JSON objects as each base64url part: exercises the
/// decoders past the split.
fn three_parts() -> impl Strategy<Value = String> {
    (
        prop_oneof![raw_part(), json_part()],
        prop_oneof![raw_part(), json_part()],
        raw_part(),
    )
        .prop_map(|(h, p, s)| format!("{h}.{p}.{s}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_strings_never_panic(input in any::<String>()) {
        let _ = parse_unverified(&input);
        prop_assert!(issuer(JwtAlgorithm::HS256).verify_offline(&input, NOW).is_err());
    }

    #[test]
    fn token_shaped_input_never_panics(input in three_parts()) {
        let _ = parse_unverified(&input);
        prop_assert!(issuer(JwtAlgorithm::HS256).verify_offline(&input, NOW).is_err());
        prop_assert!(issuer(JwtAlgorithm::ES256).verify_offline(&input, NOW).is_err());
    }

    #[test]
    fn valid_headers_with_random_claims_never_panic(
        alg in prop::sample::select(vec!["HS256", "none", "RS256", "ES384", "EdDSA", "PS512", "x"]),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        signature in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let token = format!("{}.{}.{}", b64(format!("{{\"alg\":\"{alg}\"}}")), b64(payload), b64(signature));
        let _ = parse_unverified(&token);
        for issuer_alg in [JwtAlgorithm::HS256, JwtAlgorithm::RS256, JwtAlgorithm::ES384, JwtAlgorithm::EdDSA] {
            prop_assert!(issuer(issuer_alg).verify_offline(&token, NOW).is_err());
        }
    }
}
