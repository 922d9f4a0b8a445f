//! Registered-claim checks and the mapping from claims to an [`Identity`]: pure, with `now`
//! passed in (jsonwebtoken's own time checks read the system clock, so they are not used).

use serde_json::{Map, Value};

use super::error::JwtError;
use crate::Identity;

/// The claim rules of one issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRules {
    /// Required exact `iss`.
    pub issuer: String,
    /// `aud` (a string or an array) must contain at least one of these.
    pub audiences: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway_secs: u64,
    /// Where the roles are: a claim name, or a dotted path such as `realm_access.roles`.
    pub roles_claim: Option<String>,
    /// Where the plan is, same syntax as `roles_claim`.
    pub plan_claim: Option<String>,
}

/// Checks `exp` (required), `nbf`, `iat`, `iss`, `aud` and `sub` against `now` (unix
/// seconds) and builds the identity. Call only after the signature has been verified.
pub fn check_claims(
    claims: &Map<String, Value>,
    rules: &ClaimRules,
    now: u64,
) -> Result<Identity, JwtError> {
    let leeway = rules.leeway_secs;
    // exp is required: a token that never expires cannot be revoked by waiting.
    let exp = match claims.get("exp") {
        None => return Err(JwtError::MissingClaim("exp")),
        Some(value) => numeric_date(value).ok_or(JwtError::InvalidClaim("exp"))?,
    };
    // RFC 7519 4.1.4: the current time must be before exp.
    if now >= exp.saturating_add(leeway) {
        return Err(JwtError::Expired);
    }
    if let Some(value) = claims.get("nbf") {
        let nbf = numeric_date(value).ok_or(JwtError::InvalidClaim("nbf"))?;
        if now.saturating_add(leeway) < nbf {
            return Err(JwtError::NotYetValid);
        }
    }
    // iat is only a sanity check: a token "issued" in the future comes from a broken or
    // forged clock.
    if let Some(value) = claims.get("iat") {
        let iat = numeric_date(value).ok_or(JwtError::InvalidClaim("iat"))?;
        if iat > now.saturating_add(leeway) {
            return Err(JwtError::IssuedInFuture);
        }
    }
    match claims.get("iss") {
        None => return Err(JwtError::MissingClaim("iss")),
        Some(Value::String(iss)) if *iss == rules.issuer => {}
        Some(_) => return Err(JwtError::WrongIssuer),
    }
    let audience_ok = match claims.get("aud") {
        None => return Err(JwtError::MissingClaim("aud")),
        Some(Value::String(aud)) => rules.audiences.contains(aud),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|aud| rules.audiences.iter().any(|a| a == aud)),
        Some(_) => return Err(JwtError::InvalidClaim("aud")),
    };
    if !audience_ok {
        return Err(JwtError::WrongAudience);
    }
    // sub is required: per-user limits and the X-Auth-Subject header need someone.
    let subject = match claims.get("sub") {
        None => return Err(JwtError::MissingClaim("sub")),
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        Some(_) => return Err(JwtError::InvalidClaim("sub")),
    };
    let roles = rules
        .roles_claim
        .as_deref()
        .and_then(|path| lookup_claim(claims, path))
        .map(roles_from)
        .unwrap_or_default();
    let plan = rules
        .plan_claim
        .as_deref()
        .and_then(|path| lookup_claim(claims, path))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Identity {
        subject,
        roles,
        plan,
        expires_at: Some(exp),
    })
}

/// Finds a claim by name or dotted path. The whole name is tried first, because namespaced
/// claims are URLs full of dots (Auth0's `https://example.com/roles`); only then is it
/// walked as a path through nested objects (Keycloak's `realm_access.roles`).
pub fn lookup_claim<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut segments = path.split('.');
    let mut current = claims.get(segments.next()?)?;
    for segment in segments {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

/// Roles from a string (space-separated, as OAuth `scope` is) or an array of strings
/// (other array members are ignored).
fn roles_from(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// A NumericDate (RFC 7519 section 2): non-negative seconds, possibly fractional (floored).
fn numeric_date(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let f = value.as_f64()?;
    // `as` saturates for floats beyond u64::MAX, which is the right answer for a date.
    (f.is_finite() && f >= 0.0).then_some(f as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> ClaimRules {
        ClaimRules {
            issuer: "https://idp.example".into(),
            audiences: vec!["api".into(), "other".into()],
            leeway_secs: 30,
            roles_claim: Some("realm_access.roles".into()),
            plan_claim: Some("https://bulwark.dev/plan".into()),
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn base() -> Value {
        json!({"iss": "https://idp.example", "aud": "api", "sub": "u1", "exp": 1000})
    }

    #[test]
    fn leeway_applies_both_ways() {
        let c = claims(base());
        assert!(check_claims(&c, &rules(), 1029).is_ok());
        assert_eq!(check_claims(&c, &rules(), 1030), Err(JwtError::Expired));
        let mut v = base();
        v["nbf"] = json!(600);
        assert!(check_claims(&claims(v.clone()), &rules(), 570).is_ok());
        assert_eq!(
            check_claims(&claims(v), &rules(), 569),
            Err(JwtError::NotYetValid)
        );
        let mut v = base();
        v["iat"] = json!(531);
        assert_eq!(
            check_claims(&claims(v), &rules(), 500),
            Err(JwtError::IssuedInFuture)
        );
    }

    #[test]
    fn registered_claims_are_required_and_typed() {
        for (name, err) in [
            ("exp", JwtError::MissingClaim("exp")),
            ("iss", JwtError::MissingClaim("iss")),
            ("aud", JwtError::MissingClaim("aud")),
            ("sub", JwtError::MissingClaim("sub")),
        ] {
            let mut c = claims(base());
            c.remove(name);
            assert_eq!(check_claims(&c, &rules(), 0), Err(err), "{name}");
        }
        let mut v = base();
        v["exp"] = json!("1000");
        assert_eq!(
            check_claims(&claims(v), &rules(), 0),
            Err(JwtError::InvalidClaim("exp"))
        );
        let mut v = base();
        v["exp"] = json!(-1);
        assert_eq!(
            check_claims(&claims(v), &rules(), 0),
            Err(JwtError::InvalidClaim("exp"))
        );
        let mut v = base();
        v["aud"] = json!(["x", "other"]);
        assert!(check_claims(&claims(v), &rules(), 0).is_ok());
        let mut v = base();
        v["aud"] = json!(["x", 1]);
        assert_eq!(
            check_claims(&claims(v), &rules(), 0),
            Err(JwtError::WrongAudience)
        );
        let mut v = base();
        v["iss"] = json!(["https://idp.example"]);
        assert_eq!(
            check_claims(&claims(v), &rules(), 0),
            Err(JwtError::WrongIssuer)
        );
    }

    #[test]
    fn roles_and_plan_come_from_paths() {
        let mut v = base();
        v["realm_access"] = json!({"roles": ["admin", "user", 3]});
        v["https://bulwark.dev/plan"] = json!("pro");
        let id = check_claims(&claims(v), &rules(), 0).unwrap();
        assert_eq!(id.roles, ["admin", "user"]);
        assert_eq!(id.plan.as_deref(), Some("pro"));
        assert_eq!(id.expires_at, Some(1000));

        let mut r = rules();
        r.roles_claim = Some("scope".into());
        let mut v = base();
        v["scope"] = json!("read  write");
        assert_eq!(
            check_claims(&claims(v), &r, 0).unwrap().roles,
            ["read", "write"]
        );
        assert!(
            check_claims(&claims(base()), &r, 0)
                .unwrap()
                .roles
                .is_empty()
        );
    }
}
