//! Health through the real binary: dependency checks against real Redis and PostgreSQL
//! servers of each test's own, stopped and restarted under a running bulwark.
//!
//! DESIGN.md, "Health": ready is 503 if and only if a critical check fails; a failing
//! non-critical check makes `/health` `warn`/200 and leaves ready alone; liveness never
//! depends on anything external.

use std::time::{Duration, Instant};

use bulwark_testkit::{PostgresServer, RedisServer};

use crate::support::{Bulwark, Options, eventually};

/// How long a dependency may take to be seen up or down: checks run every 100 ms with a
/// 500 ms timeout, so this is generous even on a loaded two-core machine.
const SETTLE: Duration = Duration::from_secs(15);

async fn get(url: String) -> (u16, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let resp = client.get(&url).send().await.expect(&url);
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// `None` when the ops listener could not be reached at all.
async fn try_get(url: String) -> Option<(u16, String)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let resp = client.get(&url).send().await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.ok()?))
}

fn check_body(kind: &str, env_var: &str, critical: bool) -> String {
    format!(
        r#"
[[checks]]
name = "cache"
kind = "{kind}"
url = "${{{env_var}}}"
interval = "100ms"
timeout = "500ms"
critical = {critical}
failure_threshold = 1
"#
    )
}

/// The `/health` document's entry for the `cache` check: (overall status, check status,
/// HTTP status).
async fn health_of_cache(bulwark: &Bulwark) -> Option<(String, String, u16)> {
    let (status, body) = try_get(bulwark.ops_url("/health")).await?;
    let doc: serde_json::Value = serde_json::from_str(&body).ok()?;
    let check = doc["checks"]["cache:responseTime"][0]["status"].as_str()?;
    Some((
        doc["status"].as_str()?.to_string(),
        check.to_string(),
        status,
    ))
}

/// Whether `/health` says (overall status, cache check status, HTTP status).
async fn cache_is(bulwark: &Bulwark, expected: (&str, &str, u16)) -> bool {
    health_of_cache(bulwark)
        .await
        .is_some_and(|(overall, check, status)| {
            (overall.as_str(), check.as_str(), status) == expected
        })
}

/// Liveness answers 200 `ok` on both paths, whatever the dependencies do.
async fn assert_live(bulwark: &Bulwark, when: &str) {
    for path in ["/health/live", "/livez"] {
        let (status, body) = get(bulwark.ops_url(path)).await;
        assert_eq!((status, body.as_str()), (200, "ok"), "{path} {when}");
    }
}

async fn ready_is(bulwark: &Bulwark, query: &str, expected: u16) -> bool {
    let url = bulwark.ops_url(&format!("/health/ready{query}"));
    try_get(url).await.is_some_and(|(s, _)| s == expected)
}

/// A stoppable dependency: Redis or PostgreSQL.
trait Dependency {
    fn stop(&mut self);
    fn restart(&mut self);
}

impl Dependency for RedisServer {
    fn stop(&mut self) {
        RedisServer::stop(self);
    }
    fn restart(&mut self) {
        RedisServer::restart(self);
    }
}

impl Dependency for PostgresServer {
    fn stop(&mut self) {
        PostgresServer::stop(self);
    }
    fn restart(&mut self) {
        PostgresServer::restart(self);
    }
}

/// Critical dependency: ready follows it down and back up; `?exclude=cache` ignores it;
/// liveness stays 200 throughout; the audit log records the failure and the recovery.
async fn critical_dependency_decides_readiness(mut dep: impl Dependency, bulwark: Bulwark) {
    assert!(
        eventually(SETTLE, || ready_is(&bulwark, "", 200)).await,
        "never ready with the dependency up; output:\n{}",
        bulwark.output()
    );
    let (_, verbose) = get(bulwark.ops_url("/health/ready?verbose")).await;
    assert!(verbose.contains("[+]cache ok\n"), "{verbose}");
    assert_live(&bulwark, "with the dependency up").await;

    dep.stop();
    assert!(
        eventually(SETTLE, || ready_is(&bulwark, "", 503)).await,
        "ready stayed 200 with a critical dependency down"
    );
    let (status, verbose) = get(bulwark.ops_url("/health/ready?verbose")).await;
    assert_eq!(status, 503, "{verbose}");
    assert!(verbose.contains("[-]cache failed: "), "{verbose}");
    assert!(verbose.ends_with("readyz check failed\n"), "{verbose}");
    let (status, plain) = get(bulwark.ops_url("/readyz")).await;
    assert_eq!((status, plain.as_str()), (503, "readyz check failed"));
    let (overall, check, status) = health_of_cache(&bulwark).await.expect("/health");
    assert_eq!(
        (overall.as_str(), check.as_str(), status),
        ("fail", "fail", 503)
    );
    // Leaving the failing check out makes bulwark ready again, and only that check.
    let (status, verbose) = get(bulwark.ops_url("/health/ready?exclude=cache&verbose")).await;
    assert_eq!(status, 200, "{verbose}");
    assert!(verbose.contains("[+]cache excluded: ok\n"), "{verbose}");
    assert!(ready_is(&bulwark, "?exclude=cache", 200).await);
    assert!(ready_is(&bulwark, "?exclude=other", 503).await);
    assert_live(&bulwark, "with the dependency down").await;

    dep.restart();
    assert!(
        eventually(SETTLE, || ready_is(&bulwark, "", 200)).await,
        "ready never came back after the dependency restarted"
    );
    let (_, verbose) = get(bulwark.ops_url("/health/ready?verbose")).await;
    assert!(verbose.contains("[+]cache ok\n"), "{verbose}");
    assert_live(&bulwark, "after the dependency came back").await;

    let seen = |bulwark: &Bulwark| {
        let events = bulwark.audit_events();
        let failed = events.iter().any(|e| {
            e["event"] == "check_failed" && e["check"] == "cache" && e["critical"] == true
        });
        let recovered = events
            .iter()
            .any(|e| e["event"] == "check_recovered" && e["check"] == "cache");
        failed && recovered
    };
    assert!(
        crate::support::wait_until(SETTLE, || seen(&bulwark)),
        "audit log lacks check_failed/check_recovered for cache: {:?}",
        bulwark.audit_events()
    );
}

/// Non-critical dependency: while it is down `/health` is `warn`/200 and ready never
/// leaves 200.
async fn non_critical_dependency_only_warns(mut dep: impl Dependency, bulwark: Bulwark) {
    assert!(
        eventually(SETTLE, || cache_is(&bulwark, ("pass", "pass", 200))).await,
        "cache never passed; output:\n{}",
        bulwark.output()
    );

    dep.stop();
    // Until the check is seen failing, every readiness answer along the way is 200.
    let mut not_ready = Vec::new();
    let deadline = Instant::now() + SETTLE;
    let warned = loop {
        if let Some((status, body)) = try_get(bulwark.ops_url("/health/ready")).await
            && status != 200
        {
            not_ready.push((status, body));
        }
        if cache_is(&bulwark, ("warn", "fail", 200)).await {
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        warned,
        "/health never said warn with a non-critical check down"
    );
    assert!(
        not_ready.is_empty(),
        "a non-critical check made bulwark unready: {not_ready:?}"
    );
    let (status, verbose) = get(bulwark.ops_url("/health/ready?verbose")).await;
    assert_eq!(status, 200, "{verbose}");
    assert!(verbose.contains("[-]cache failed: "), "{verbose}");
    assert!(verbose.contains("(not critical)\n"), "{verbose}");
    assert!(verbose.ends_with("readyz check passed\n"), "{verbose}");
    let (status, body) = get(bulwark.ops_url("/health/ready")).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_live(&bulwark, "with the dependency down").await;

    dep.restart();
    assert!(
        eventually(SETTLE, || cache_is(&bulwark, ("pass", "pass", 200))).await,
        "/health never passed again after the dependency restarted"
    );
}

fn start_with_dependency(kind: &str, url: String, critical: bool) -> Bulwark {
    Bulwark::start_with(
        &check_body(kind, "DEPENDENCY_URL", critical),
        Options {
            env: vec![("DEPENDENCY_URL", url)],
        },
    )
}

#[tokio::test]
async fn critical_redis_down_makes_bulwark_unready_until_it_is_back() {
    let redis = RedisServer::start();
    let bulwark = start_with_dependency("redis", redis.url(), true);
    critical_dependency_decides_readiness(redis, bulwark).await;
}

#[tokio::test]
async fn non_critical_redis_down_is_a_warning_and_bulwark_stays_ready() {
    let redis = RedisServer::start();
    let bulwark = start_with_dependency("redis", redis.url(), false);
    non_critical_dependency_only_warns(redis, bulwark).await;
}

#[tokio::test]
async fn critical_postgres_down_makes_bulwark_unready_until_it_is_back() {
    let postgres = PostgresServer::start();
    let bulwark = start_with_dependency("postgres", postgres.url(), true);
    critical_dependency_decides_readiness(postgres, bulwark).await;
}

#[tokio::test]
async fn non_critical_postgres_down_is_a_warning_and_bulwark_stays_ready() {
    let postgres = PostgresServer::start();
    let bulwark = start_with_dependency("postgres", postgres.url(), false);
    non_critical_dependency_only_warns(postgres, bulwark).await;
}

#[tokio::test]
async fn version_names_the_build() {
    let bulwark = Bulwark::start("");
    let resp = reqwest::get(bulwark.ops_url("/version")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{v}");
    for key in ["commit", "build_time", "rustc"] {
        let value = v[key].as_str().unwrap_or_default();
        assert!(!value.trim().is_empty(), "{key} missing: {v}");
    }
    assert!(v["rustc"].as_str().unwrap().starts_with("rustc "), "{v}");
    // An RFC 3339 UTC time, as `date -u +%FT%TZ` prints it.
    let build_time = v["build_time"].as_str().unwrap();
    assert!(
        build_time.len() >= 20 && build_time.ends_with('Z') && build_time.as_bytes()[10] == b'T',
        "{build_time}"
    );
    // Liveness and the plain answers with nothing configured.
    assert_live(&bulwark, "at start").await;
    let (status, body) = get(bulwark.ops_url("/health/ready")).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
}
