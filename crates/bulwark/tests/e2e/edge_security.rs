//! Edge security through the real binary: JWT and API-key authentication with roles,
//! identity headers for the app, and rate limits per IP, per user and per plan, in
//! memory and shared through a real Redis. Tokens are minted here with the HMAC
//! primitives, not with bulwark's code.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use bulwark_testkit::RedisServer;
use hmac::{KeyInit, Mac};
use sha2::Digest;

use crate::support::{Bulwark, Options, TestUpstream};

const JWT_SECRET: &str = "an-hs256-secret-of-at-least-32-bytes!!";
const ISSUER: &str = "https://auth.example.test/";
const PARTNER_KEY: &str = "pk_live_partner_0123456789abcdef";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HS256 token over `claims`, signed with `secret`.
fn mint_with(secret: &str, claims: serde_json::Value) -> String {
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64(claims.to_string().as_bytes());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", b64(&mac.finalize().into_bytes()))
}

/// A valid token for `sub` with `roles` and `plan`.
fn mint(sub: &str, roles: &[&str], plan: &str) -> String {
    mint_with(
        JWT_SECRET,
        serde_json::json!({
            "iss": ISSUER, "aud": "api", "sub": sub, "roles": roles, "plan": plan,
            "iat": now(), "exp": now() + 600,
        }),
    )
}

fn config(upstream: &TestUpstream, rate_limit: &str) -> String {
    let partner_hash = hex::encode(sha2::Sha256::digest(PARTNER_KEY.as_bytes()));
    format!(
        r#"
{rate_limit}

[[auth.jwt]]
name = "users"
issuer = "{ISSUER}"
audiences = ["api"]
algorithms = ["HS256"]
secret = "${{JWT_SECRET}}"
plan_claim = "plan"

[[auth.api_keys]]
name = "partners"
header = "x-api-key"
keys = [{{ name = "acme", sha256 = "{partner_hash}", roles = ["partner"], plan = "pro" }}]

[[upstreams]]
name = "app"
targets = ["{url}"]

[[routes]]
name = "admin"
path_prefix = "/echo/admin"
upstream = "app"
auth = "users"
roles_all = ["admin", "reader"]

[[routes]]
name = "reports"
path_prefix = "/echo/reports"
upstream = "app"
auth = "users"
roles_any = ["reader", "auditor"]

[[routes]]
name = "partner"
path_prefix = "/echo/partner"
upstream = "app"
auth = "partners"

[[routes]]
name = "login"
path_prefix = "/echo/login"
upstream = "app"
[[routes.limits]]
name = "login"
key = "ip"
rate = "3/min"
on_backend_error = "deny"

[[routes]]
name = "sessions"
path_prefix = "/echo/sessions"
upstream = "app"
auth = "users"
[[routes.limits]]
name = "per-user"
key = "user"
rate = "2/min"
plans = {{ pro = "4/min" }}
on_backend_error = "local"

[[routes]]
name = "profile"
path_prefix = "/echo/profile"
methods = ["GET"]
upstream = "app"
auth = "users"

[[routes]]
name = "trial"
path_prefix = "/echo/trial"
upstream = "app"
[[routes.limits]]
name = "trial"
key = "ip"
rate = "1/min"
dry_run = true

[[routes]]
name = "open"
path_prefix = "/"
upstream = "app"
"#,
        url = upstream.url()
    )
}

fn start(upstream: &TestUpstream, rate_limit: &str, redis_url: Option<String>) -> Bulwark {
    let mut env = vec![("JWT_SECRET", JWT_SECRET.to_string())];
    if let Some(url) = redis_url {
        env.push(("REDIS_URL", url));
    }
    Bulwark::start_with(&config(upstream, rate_limit), Options { env })
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    json: serde_json::Value,
}

async fn get(bulwark: &Bulwark, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = reqwest::Client::new().get(bulwark.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let json = response.json().await.unwrap_or_default();
    Answer {
        status,
        headers,
        json,
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn jwt_routes_refuse_without_a_valid_token_and_pass_the_identity_on() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(&upstream, "", None);

    let none = get(&bulwark, "/echo/reports", &[]).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.json["type"],
        "https://bulwark.dev/problems/unauthorized"
    );
    assert!(
        none.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=\"bulwark\""),
        "{:?}",
        none.headers
    );

    let forged = mint_with(
        "another-secret-of-at-least-32-bytes!!!",
        serde_json::json!({"iss": ISSUER, "aud": "api", "sub": "eve", "exp": now() + 600}),
    );
    let expired = mint_with(
        JWT_SECRET,
        serde_json::json!({"iss": ISSUER, "aud": "api", "sub": "bob", "exp": now() - 3600}),
    );
    let other_audience = mint_with(
        JWT_SECRET,
        serde_json::json!({"iss": ISSUER, "aud": "billing", "sub": "bob", "exp": now() + 600}),
    );
    let alg_none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(
            serde_json::json!({"iss": ISSUER, "aud": "api", "sub": "eve", "exp": now() + 600})
                .to_string()
                .as_bytes()
        )
    );
    for (what, token) in [
        ("forged", forged),
        ("expired", expired),
        ("wrong audience", other_audience),
        ("alg none", alg_none),
        ("garbage", "not.a.token".to_string()),
    ] {
        let answer = get(
            &bulwark,
            "/echo/reports",
            &[("authorization", &bearer(&token))],
        )
        .await;
        assert_eq!(answer.status, 401, "{what}");
    }

    // A valid token without the role: 403.
    let outsider = mint("carol", &["guest"], "free");
    let answer = get(
        &bulwark,
        "/echo/reports",
        &[("authorization", &bearer(&outsider))],
    )
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.json["type"],
        "https://bulwark.dev/problems/forbidden"
    );

    // The right role: through, with bulwark's identity headers and not the client's.
    let reader = mint("alice", &["reader"], "pro");
    let answer = get(
        &bulwark,
        "/echo/reports",
        &[
            ("authorization", &bearer(&reader)),
            ("x-auth-subject", "root"),
            ("x-auth-roles", "admin"),
        ],
    )
    .await;
    assert_eq!(answer.status, 200);
    let seen = &answer.json["headers"];
    assert_eq!(seen["x-auth-subject"], "alice");
    assert_eq!(seen["x-auth-roles"], "reader");
    assert_eq!(seen["x-auth-plan"], "pro");

    // roles_all: reader alone is not enough for admin.
    let answer = get(
        &bulwark,
        "/echo/admin",
        &[("authorization", &bearer(&reader))],
    )
    .await;
    assert_eq!(answer.status, 403);
    let both = mint("dan", &["admin", "reader"], "pro");
    let answer = get(
        &bulwark,
        "/echo/admin",
        &[("authorization", &bearer(&both))],
    )
    .await;
    assert_eq!(answer.status, 200);

    // An open route never passes a client's identity headers on.
    let answer = get(&bulwark, "/echo/open", &[("x-auth-subject", "root")]).await;
    assert_eq!(answer.status, 200);
    assert!(answer.json["headers"].get("x-auth-subject").is_none());

    // Each refusal is a counted security event; no token appears in the audit log.
    let scrape = bulwark.metrics().await;
    assert!(
        scrape.contains(r#"security_events_total{event_type="auth_failed",severity="medium"} 6"#),
        "{scrape}"
    );
    let audit = serde_json::to_string(&bulwark.audit_events()).unwrap();
    assert!(!audit.contains(&reader[..20]));
}

#[tokio::test]
async fn api_keys_are_checked_against_their_hashes() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(&upstream, "", None);
    let answer = get(&bulwark, "/echo/partner", &[("x-api-key", PARTNER_KEY)]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["headers"]["x-auth-subject"], "acme");
    assert_eq!(answer.json["headers"]["x-auth-plan"], "pro");
    let wrong = get(&bulwark, "/echo/partner", &[("x-api-key", "pk_live_guess")]).await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("header=\"x-api-key\"")
    );
    let missing = get(&bulwark, "/echo/partner", &[]).await;
    assert_eq!(missing.status, 401);
}

#[tokio::test]
async fn a_per_ip_limit_answers_429_with_the_drafts_headers() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(&upstream, "", None);
    for i in 0..3 {
        assert_eq!(
            get(&bulwark, "/echo/login", &[]).await.status,
            200,
            "request {i}"
        );
    }
    let refused = get(&bulwark, "/echo/login", &[]).await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.json["type"],
        "https://bulwark.dev/problems/too-many-requests"
    );
    let h = |name: &str| refused.headers[name].to_str().unwrap().to_string();
    // 3/min: one request every 20 s once the burst of 3 is spent.
    let retry: u64 = h("retry-after").parse().unwrap();
    assert!((1..=20).contains(&retry), "Retry-After {retry}");
    assert_eq!(h("ratelimit-policy"), r#""login";q=3;w=60"#);
    assert_eq!(h("ratelimit"), format!(r#""login";r=0;t={retry}"#));
    assert!(
        bulwark
            .metrics()
            .await
            .contains(r#"rate_limit_violations_total{route="login",key="ip"} 1"#)
    );
}

#[tokio::test]
async fn a_per_user_limit_follows_the_plan() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(&upstream, "", None);
    let free = bearer(&mint("frank", &[], "free"));
    let pro = bearer(&mint("paula", &[], "pro"));
    let statuses = |token: String| {
        let bulwark = &bulwark;
        async move {
            let mut out = Vec::new();
            for _ in 0..5 {
                out.push(
                    get(bulwark, "/echo/sessions", &[("authorization", &token)])
                        .await
                        .status,
                );
            }
            out
        }
    };
    assert_eq!(
        statuses(free).await,
        [200, 200, 429, 429, 429],
        "free: 2/min"
    );
    assert_eq!(statuses(pro).await, [200, 200, 200, 200, 429], "pro: 4/min");
}

#[tokio::test]
async fn two_instances_sharing_redis_enforce_one_limit() {
    let redis = RedisServer::start();
    let upstream = TestUpstream::start().await;
    let rate_limit =
        "[rate_limit]\nbackend = \"redis\"\nredis_url = \"${REDIS_URL}\"\ninstances = 2";
    let a = start(&upstream, rate_limit, Some(redis.url()));
    let b = start(&upstream, rate_limit, Some(redis.url()));
    let mut allowed = 0;
    for i in 0..10 {
        let instance = if i % 2 == 0 { &a } else { &b };
        if get(instance, "/echo/login", &[]).await.status == 200 {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 3, "3/min across both instances, not 3 each");
}

#[tokio::test]
async fn without_redis_a_deny_limit_refuses_and_a_local_limit_shares_by_instances() {
    let mut redis = RedisServer::start();
    let upstream = TestUpstream::start().await;
    let rate_limit =
        "[rate_limit]\nbackend = \"redis\"\nredis_url = \"${REDIS_URL}\"\ninstances = 2";
    let bulwark = start(&upstream, rate_limit, Some(redis.url()));
    assert_eq!(get(&bulwark, "/echo/login", &[]).await.status, 200);
    redis.stop();

    // login says deny: 503 with Retry-After, never an unchecked pass.
    let refused = get(&bulwark, "/echo/login", &[]).await;
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.json["type"],
        "https://bulwark.dev/problems/rate-limiter-unavailable"
    );
    assert_eq!(refused.headers["retry-after"], "1");

    // sessions says local: 4/min for a pro user becomes 2/min on this instance alone.
    let pro = bearer(&mint("paula", &[], "pro"));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            get(&bulwark, "/echo/sessions", &[("authorization", &pro)])
                .await
                .status,
        );
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert!(
        bulwark
            .audit_events()
            .iter()
            .any(|e| e["event"] == "rate_limit_backend_unavailable"),
        "{:?}",
        bulwark.audit_events()
    );
    // /health warns (bulwark serves on), readiness stays 200.
    let health_warns = crate::support::eventually(std::time::Duration::from_secs(15), || async {
        let body: serde_json::Value = reqwest::get(bulwark.ops_url("/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or_default();
        body["status"] == "warn"
    })
    .await;
    assert!(health_warns, "the Redis outage never showed in /health");
    let ready = reqwest::get(bulwark.ops_url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn a_dry_run_limit_counts_but_never_refuses() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(&upstream, "", None);
    for _ in 0..3 {
        assert_eq!(get(&bulwark, "/echo/trial", &[]).await.status, 200);
    }
    assert_eq!(
        bulwark
            .sample(r#"rate_limit_violations_total{route="trial",key="ip"}"#)
            .await,
        2.0
    );
}

/// A reload must not hand everyone a fresh budget: limiter state outlives SIGHUP.
#[tokio::test]
async fn a_reload_keeps_the_limits_spent() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(&upstream, "", None);
    for _ in 0..3 {
        assert_eq!(get(&bulwark, "/echo/login", &[]).await.status, 200);
    }
    bulwark.signal("HUP");
    assert!(bulwark.wait_for_output("Config reloaded.", std::time::Duration::from_secs(10)));
    assert_eq!(get(&bulwark, "/echo/login", &[]).await.status, 429);
}

/// Review findings, as an attacker would try them: underscore spellings of identity
/// headers, a HEAD past a GET-only protected route, `..;/` and encoded-slash traversal.
#[tokio::test]
async fn header_method_and_path_tricks_do_not_get_past_a_route() {
    let upstream = TestUpstream::start().await;
    let bulwark = start(&upstream, "", None);

    let answer = get(
        &bulwark,
        "/echo/open",
        &[("x_auth_subject", "root"), ("x_forwarded_for", "10.0.0.1")],
    )
    .await;
    assert_eq!(answer.status, 200);
    let seen = answer.json["headers"].as_object().unwrap();
    assert!(
        !seen.keys().any(|k| k.contains('_')),
        "underscore spellings reach the app: {seen:?}"
    );

    // HEAD on a GET-only protected route is that route's, not the open catch-all's.
    let head = reqwest::Client::new()
        .head(bulwark.url("/echo/profile/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 401);

    for path in ["/echo/open/..;/profile/me", "/echo/open/..%2Fprofile/me"] {
        let raw = crate::support::raw_exchange(
            bulwark.public,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(raw.starts_with("HTTP/1.1 400"), "{path}: {raw}");
    }
}
