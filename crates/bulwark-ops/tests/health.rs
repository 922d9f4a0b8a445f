//! The ops listener end to end: the real router served on loopback, real dependencies
//! (a TCP listener, a small HTTP server, redis-server and PostgreSQL of the test's own),
//! dependencies stopped and restarted while the endpoints are polled.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use axum::routing::get;
use bulwark_config::Secret;
use bulwark_config::checks::CheckKind;
use bulwark_testkit::{PostgresServer, RedisServer};
use common::{check, local_metrics, start, upstream};
use tokio::task::block_in_place;

#[tokio::test]
async fn liveness_and_version_need_nothing() {
    let closed = bulwark_testkit::free_port();
    let ops = start(
        &[check(
            "db",
            CheckKind::Tcp {
                address: format!("127.0.0.1:{closed}"),
            },
            true,
        )],
        &[],
        local_metrics(),
    )
    .await;
    // A critical dependency is down: readiness fails, liveness does not care.
    ops.until("/readyz", |a| a.status == 503).await;
    for path in ["/health/live", "/livez"] {
        let a = ops.get(path).await;
        assert_eq!((a.status, a.body.as_str()), (200, "ok"), "{path}");
        assert!(a.content_type.starts_with("text/plain"));
    }
    let a = ops.get("/version").await;
    assert_eq!(a.status, 200);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "version": "9.8.7",
            "commit": "0123abcd",
            "build_time": "2024-02-29T12:34:56Z",
            "rustc": "rustc 1.85.0"
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_check_follows_a_listener() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let ops = start(
        &[check(
            "backend",
            CheckKind::Tcp {
                address: address.to_string(),
            },
            true,
        )],
        &[],
        local_metrics(),
    )
    .await;
    let a = ops.until("/health/ready", |a| a.status == 200).await;
    assert_eq!(a.body, "ok");
    let doc = ops
        .until_check("backend", "backend:responseTime", "pass")
        .await;
    assert_eq!(doc["status"], "pass");
    let entry = &doc["checks"]["backend:responseTime"][0];
    assert_eq!(entry["componentType"], "component");
    assert_eq!(entry["observedUnit"], "ms");
    assert!(entry["observedValue"].as_f64().unwrap() >= 0.0);
    assert!(entry["time"].as_str().unwrap().ends_with('Z'));
    assert!(entry.get("output").is_none(), "no output while passing");

    drop(listener);
    let a = ops.until("/readyz?verbose", |a| a.status == 503).await;
    assert_eq!(
        a.body,
        "[+]listeners ok\n[+]config ok\n[-]backend failed: connection refused\nreadyz check failed\n"
    );
    assert_eq!(ops.get("/readyz").await.body, "readyz check failed");
    let excluded = ops.get("/readyz?exclude=backend").await;
    assert_eq!((excluded.status, excluded.body.as_str()), (200, "ok"));

    let a = ops.get("/health").await;
    assert_eq!(a.status, 503);
    assert_eq!(a.content_type, "application/health+json");
    let doc: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(doc["status"], "fail");
    assert_eq!(
        doc["checks"]["backend:responseTime"][0]["output"],
        "connection refused"
    );

    let _listener = tokio::net::TcpListener::bind(address).await.unwrap();
    ops.until("/readyz", |a| a.status == 200 && a.body == "ok")
        .await;
}

/// A small app: `/health` answers the status held in `status`, with a body that must
/// never show up in bulwark's output.
async fn app(status: Arc<AtomicU16>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new().route(
        "/health",
        get(move || {
            let status = status.load(Ordering::SeqCst);
            async move {
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    "app-internal-body-do-not-leak",
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_check_needs_one_target_with_the_expected_status() {
    let status = Arc::new(AtomicU16::new(200));
    let live = app(status.clone()).await;
    let dead = bulwark_testkit::free_port();
    let kind = CheckKind::Http {
        upstream: "app".into(),
        path: "/health".into(),
        expect_status: 200,
    };
    let ops = start(
        &[check("app", kind, false)],
        &[upstream("app", &[dead, live])],
        local_metrics(),
    )
    .await;
    // One of two targets answers 200: healthy.
    let doc = ops.until_check("app", "app:responseTime", "pass").await;
    assert_eq!(doc["status"], "pass");

    status.store(503, Ordering::SeqCst);
    let doc = ops.until_check("app", "app:responseTime", "fail").await;
    // Not critical: a warning, and bulwark stays ready.
    assert_eq!(doc["status"], "warn");
    assert_eq!(ops.get("/health").await.status, 200);
    assert_eq!(ops.get("/readyz").await.status, 200);
    let output = doc["checks"]["app:responseTime"][0]["output"]
        .as_str()
        .unwrap();
    assert_eq!(
        output,
        format!(
            "no target answered 200: http://127.0.0.1:{dead} refused the connection, \
             http://127.0.0.1:{live} answered 503"
        )
    );
    let verbose = ops.get("/readyz?verbose").await;
    assert!(
        verbose
            .body
            .contains(&format!("[-]app failed: {output} (not critical)\n")),
        "{}",
        verbose.body
    );
    assert!(!verbose.body.contains("do-not-leak"));

    status.store(200, Ordering::SeqCst);
    ops.until_check("app", "app:responseTime", "pass").await;
}

/// The scenario both datastores go through: critical, the check decides readiness;
/// stopped, readiness fails with the check named; restarted, ready again.
async fn critical_dependency_decides_readiness(
    name: &str,
    kind: CheckKind,
    stop: impl FnOnce(),
    restart: impl FnOnce(),
) {
    let key = format!("{name}:responseTime");
    let ops = start(&[check(name, kind, true)], &[], local_metrics()).await;
    ops.until("/health/ready", |a| a.status == 200).await;
    let doc = ops.until_check(name, &key, "pass").await;
    assert_eq!(doc["checks"][&key][0]["componentType"], "datastore");

    block_in_place(stop);
    // A probe caught mid-shutdown may fail differently (the server ending its session);
    // the next one, against the stopped server, is refused.
    let refused = format!("[-]{name} failed: connection refused\n");
    let a = ops
        .until("/health/ready?verbose", |a| {
            a.status == 503 && a.body.contains(&refused)
        })
        .await;
    assert!(a.body.ends_with("readyz check failed\n"));
    let health = ops.get("/health").await;
    assert_eq!(health.status, 503);
    let doc: serde_json::Value = serde_json::from_str(&health.body).unwrap();
    assert_eq!(doc["status"], "fail");

    block_in_place(restart);
    let a = ops.until("/health/ready", |a| a.status == 200).await;
    assert_eq!(a.body, "ok");
    assert_eq!(ops.until_check(name, &key, "pass").await["status"], "pass");
}

/// Non-critical: while it is down `/health` warns with 200 and readiness stays 200.
async fn non_critical_dependency_only_warns(
    name: &str,
    kind: CheckKind,
    stop: impl FnOnce(),
    restart: impl FnOnce(),
) {
    let key = format!("{name}:responseTime");
    let ops = start(&[check(name, kind, false)], &[], local_metrics()).await;
    ops.until_check(name, &key, "pass").await;

    block_in_place(stop);
    // Waits for the refusal itself, not a probe caught mid-shutdown.
    let answer = ops
        .until("/health", |a| {
            let doc: serde_json::Value = serde_json::from_str(&a.body).unwrap();
            doc["checks"][&key][0]["output"] == "connection refused"
        })
        .await;
    let doc: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(doc["status"], "warn");
    assert_eq!(doc["checks"][&key][0]["status"], "fail");
    let health = ops.get("/health").await;
    assert_eq!(health.status, 200);
    let ready = ops.get("/health/ready").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ok"));
    let verbose = ops.get("/readyz?verbose").await;
    assert_eq!(verbose.status, 200);
    assert!(
        verbose.body.contains(&format!(
            "[-]{name} failed: connection refused (not critical)\n"
        )),
        "{}",
        verbose.body
    );

    block_in_place(restart);
    let doc = ops.until_check(name, &key, "pass").await;
    assert_eq!(doc["status"], "pass");
}

fn redis_kind(server: &RedisServer) -> CheckKind {
    CheckKind::Redis {
        url: Secret::new(server.url()),
    }
}

fn postgres_kind(server: &PostgresServer) -> CheckKind {
    CheckKind::Postgres {
        url: Secret::new(server.url()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_redis_decides_readiness() {
    let mut redis = block_in_place(RedisServer::start);
    let kind = redis_kind(&redis);
    let server = std::sync::Mutex::new(&mut redis);
    critical_dependency_decides_readiness(
        "redis",
        kind,
        || server.lock().unwrap().stop(),
        || server.lock().unwrap().restart(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_critical_redis_only_warns() {
    let mut redis = block_in_place(RedisServer::start);
    let kind = redis_kind(&redis);
    let server = std::sync::Mutex::new(&mut redis);
    non_critical_dependency_only_warns(
        "cache",
        kind,
        || server.lock().unwrap().stop(),
        || server.lock().unwrap().restart(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_postgres_decides_readiness() {
    let mut postgres = block_in_place(PostgresServer::start);
    let kind = postgres_kind(&postgres);
    let server = std::sync::Mutex::new(&mut postgres);
    critical_dependency_decides_readiness(
        "db",
        kind,
        || server.lock().unwrap().stop(),
        || server.lock().unwrap().restart(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_critical_postgres_only_warns() {
    let mut postgres = block_in_place(PostgresServer::start);
    let kind = postgres_kind(&postgres);
    let server = std::sync::Mutex::new(&mut postgres);
    non_critical_dependency_only_warns(
        "reports-db",
        kind,
        || server.lock().unwrap().stop(),
        || server.lock().unwrap().restart(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_probe_writes_and_reads_its_own_key() {
    let redis = block_in_place(RedisServer::start);
    let ops = start(
        &[check("cache", redis_kind(&redis), true)],
        &[],
        local_metrics(),
    )
    .await;
    ops.until_check("cache", "cache:responseTime", "pass").await;
    // The key is there, with an expiry, holding a value of the probe's own.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    // One key per bulwark process, so instances sharing a Redis never read each other's.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("bulwark:health:cache:*")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
}
