// Shared by the `jwt_parse` fuzz target and the corpus replay in
// crates/bulwark-auth/tests/fuzz_corpus.rs: whatever a client puts in a bearer token,
// parsing, the header rules and the claim checks must return an error, never panic.

use bulwark_auth::jwt::{ClaimRules, JwtAlgorithm, check_claims, check_header, parse_unverified};

pub fn jwt_parse(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = parse_unverified(token) else {
        return;
    };
    let _ = check_header(&parsed.header, &JwtAlgorithm::ALL);
    let rules = ClaimRules {
        issuer: "https://issuer.example/".into(),
        audiences: vec!["api".into()],
        leeway_secs: 30,
        roles_claim: Some("realm_access.roles".into()),
        plan_claim: Some("plan".into()),
    };
    // Claims are only read after a verified signature in bulwark; here they are
    // checked anyway, with any `now`, to reach the date and path arithmetic.
    let _ = check_claims(&parsed.claims, &rules, 1_800_000_000);
    let _ = check_claims(&parsed.claims, &rules, u64::MAX);
}
