//! Bearer tokens and scopes. The presented token is compared with every configured token,
//! without stopping at a match, as SHA-256 digests in constant time: neither the position
//! of the first differing byte nor the token's length shows in the timing.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use bulwark_config::admin::{AdminToken, Scope};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::problem::AdminProblem;

/// Who made the request: the configured token that matched.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub token: &'a AdminToken,
}

impl Caller<'_> {
    /// The token's name, for logs; never its value.
    pub fn name(&self) -> &str {
        &self.token.name
    }
}

/// The token in `Authorization: Bearer <token>` (scheme case-insensitive), if well-formed.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_matches(' ');
    (!token.is_empty() && !token.contains(' ')).then_some(token)
}

fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// The configured token equal to `presented`, found in constant time over all of them.
pub fn find_token<'a>(tokens: &'a [AdminToken], presented: &str) -> Option<&'a AdminToken> {
    let presented = digest(presented);
    let mut found = Choice::from(0);
    let mut index = 0u64;
    for (i, token) in tokens.iter().enumerate() {
        let hit = digest(token.token.expose()).ct_eq(&presented);
        index = u64::conditional_select(&index, &(i as u64), hit);
        found |= hit;
    }
    if bool::from(found) {
        let token = tokens.get(usize::try_from(index).ok()?)?;
        // Config validation refuses empty tokens; never let one through regardless.
        (!token.token.expose().is_empty()).then_some(token)
    } else {
        None
    }
}

/// Checks the request's bearer token and that it carries `scope`.
pub fn authorize<'a>(
    tokens: &'a [AdminToken],
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Caller<'a>, AdminProblem> {
    let presented = bearer_token(headers).ok_or(AdminProblem::MissingToken)?;
    let token = find_token(tokens, presented).ok_or(AdminProblem::InvalidToken)?;
    if token.scopes.contains(&scope) {
        Ok(Caller { token })
    } else {
        Err(AdminProblem::MissingScope(scope))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use bulwark_config::secret::Secret;

    use super::*;

    fn tokens() -> Vec<AdminToken> {
        vec![
            AdminToken {
                name: "reader".into(),
                token: Secret::new("r".repeat(40)),
                scopes: vec![Scope::Read],
            },
            AdminToken {
                name: "ops".into(),
                token: Secret::new("o".repeat(40)),
                scopes: vec![Scope::Read, Scope::Replay, Scope::Purge],
            },
        ]
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer  abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("Basic abc")), None);
        assert_eq!(bearer_token(&headers("Bearer")), None);
        assert_eq!(bearer_token(&headers("Bearer ")), None);
        assert_eq!(bearer_token(&headers("Bearer a b")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
        let mut two = headers("Bearer abc");
        two.append(AUTHORIZATION, HeaderValue::from_static("Bearer def"));
        assert_eq!(bearer_token(&two), None);
    }

    #[test]
    fn finds_every_token_and_only_those() {
        let t = tokens();
        assert_eq!(find_token(&t, &"r".repeat(40)).unwrap().name, "reader");
        assert_eq!(find_token(&t, &"o".repeat(40)).unwrap().name, "ops");
        assert!(find_token(&t, &"o".repeat(39)).is_none());
        assert!(find_token(&t, "").is_none());
        assert!(find_token(&[], "anything").is_none());
    }

    #[test]
    fn scopes() {
        let t = tokens();
        let reader = headers(&format!("Bearer {}", "r".repeat(40)));
        assert!(authorize(&t, &reader, Scope::Read).is_ok());
        assert_eq!(
            authorize(&t, &reader, Scope::Purge).unwrap_err(),
            AdminProblem::MissingScope(Scope::Purge)
        );
        assert_eq!(
            authorize(&t, &headers("Bearer nope"), Scope::Read).unwrap_err(),
            AdminProblem::InvalidToken
        );
        assert_eq!(
            authorize(&t, &HeaderMap::new(), Scope::Read).unwrap_err(),
            AdminProblem::MissingToken
        );
    }
}
