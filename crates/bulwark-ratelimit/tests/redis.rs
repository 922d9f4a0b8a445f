//! The conformance suite on the Redis backend, plus what only Redis has: several
//! instances sharing one limit, an outage, key expiry, script reloading, and a
//! differential test of the Lua script against the Rust GCRA.
//!
//! Each test starts its own redis-server (bulwark-testkit); if it cannot start, the test
//! fails rather than skips.

mod suite;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bulwark_ratelimit::redis::GCRA_LUA;
use bulwark_ratelimit::{
    BackendError, Limiter, LimiterError, Quota, RedisConfig, RedisLimiter, decide,
};
use bulwark_testkit::RedisServer;
use proptest::prelude::*;
use tokio::task::block_in_place;

struct RedisHarness {
    limiter: Arc<RedisLimiter>,
    _server: RedisServer,
}

impl RedisHarness {
    fn start() -> RedisHarness {
        let server = block_in_place(RedisServer::start);
        let limiter = RedisLimiter::new(&server.url(), config("suite:")).unwrap();
        RedisHarness {
            limiter: Arc::new(limiter),
            _server: server,
        }
    }
}

impl suite::Harness for RedisHarness {
    type Limiter = RedisLimiter;

    fn limiter(&self) -> Arc<Self::Limiter> {
        self.limiter.clone()
    }

    async fn wait(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn exact_clock(&self) -> bool {
        false
    }
}

conformance_tests!(RedisHarness::start());

fn config(prefix: &str) -> RedisConfig {
    RedisConfig {
        key_prefix: prefix.to_owned(),
        ..RedisConfig::default()
    }
}

fn sync_connection(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Two bulwark instances on one Redis enforce one limit of 50, not two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_limit() {
    let server = block_in_place(RedisServer::start);
    let one = Arc::new(RedisLimiter::new(&server.url(), config("shared:")).unwrap());
    let two = Arc::new(RedisLimiter::new(&server.url(), config("shared:")).unwrap());
    let quota = Quota::new(50, Duration::from_secs(60)).unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let limiter = if i % 2 == 0 { one.clone() } else { two.clone() };
            tokio::spawn(async move { limiter.check("login:ip:1", &quota, 1).await })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        allowed += usize::from(task.await.unwrap().unwrap().allowed);
    }
    assert_eq!(allowed, 50);

    // Different prefixes are different limits.
    let other = RedisLimiter::new(&server.url(), config("other:")).unwrap();
    assert!(other.check("login:ip:1", &quota, 1).await.unwrap().allowed);
}

/// Redis stopped: `check` fails with `Backend` within the response timeout, never hangs;
/// after a restart the limiter works again without being rebuilt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_fast_and_recovers() {
    let mut server = block_in_place(RedisServer::start);
    let limiter = RedisLimiter::new(&server.url(), config("down:")).unwrap();
    let quota = Quota::new(5, Duration::from_secs(60)).unwrap();
    assert!(limiter.check("k", &quota, 1).await.unwrap().allowed);

    block_in_place(|| server.stop());
    for _ in 0..3 {
        let started = Instant::now();
        let result = limiter.check("k", &quota, 1).await;
        let took = started.elapsed();
        assert!(
            matches!(result, Err(LimiterError::Backend(_))),
            "{result:?}"
        );
        // 250 ms timeout, plus scheduling slack on a busy 2-core machine.
        assert!(took < Duration::from_millis(750), "took {took:?}");
    }

    block_in_place(|| server.restart());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match limiter.check("k", &quota, 1).await {
            Ok(decision) => {
                // The restarted server is empty: a fresh bucket.
                assert_eq!(decision.remaining, 4);
                break;
            }
            Err(LimiterError::Backend(error)) if Instant::now() < deadline => {
                let _: BackendError = error;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("no recovery within 10 s: {error:?}"),
        }
    }
}

/// A limiter pointed at a port where nothing listens fails fast too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_never_reachable_fails_fast() {
    let port = bulwark_testkit::free_port();
    let limiter =
        RedisLimiter::new(&format!("redis://127.0.0.1:{port}/"), config("none:")).unwrap();
    let quota = Quota::new(5, Duration::from_secs(60)).unwrap();
    let started = Instant::now();
    let result = limiter.check("k", &quota, 1).await;
    assert!(
        matches!(result, Err(LimiterError::Backend(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(750));
}

/// Keys carry the prefix and expire when their bucket is full again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_prefixed_and_expire_when_full() {
    let server = block_in_place(RedisServer::start);
    let limiter = RedisLimiter::new(&server.url(), config("bulwark:rl:")).unwrap();
    let quota = Quota::new(10, Duration::from_secs(10)).unwrap();
    limiter.check("user:42", &quota, 3).await.unwrap();

    let mut connection = block_in_place(|| sync_connection(&server));
    let ttl: i64 = redis::cmd("PTTL")
        .arg("bulwark:rl:user:42")
        .query(&mut connection)
        .unwrap();
    assert!(
        (2_000..=3_000).contains(&ttl),
        "3 units of 1 s: ttl {ttl} ms"
    );

    // A cost-0 peek on a full bucket writes nothing.
    limiter.check("fresh", &quota, 0).await.unwrap();
    let exists: bool = redis::cmd("EXISTS")
        .arg("bulwark:rl:fresh")
        .query(&mut connection)
        .unwrap();
    assert!(!exists);

    let quota = Quota::new(2, Duration::from_millis(400)).unwrap();
    let d = limiter.check("short", &quota, 2).await.unwrap();
    tokio::time::sleep(d.reset_after + Duration::from_millis(50)).await;
    let exists: bool = redis::cmd("EXISTS")
        .arg("bulwark:rl:short")
        .query(&mut connection)
        .unwrap();
    assert!(!exists, "gone once full again");
}

/// After `SCRIPT FLUSH` (or a Redis restart) EVALSHA fails with NOSCRIPT; the limiter
/// falls back to EVAL by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_is_reloaded_after_flush() {
    let server = block_in_place(RedisServer::start);
    let limiter = RedisLimiter::new(&server.url(), config("flush:")).unwrap();
    let quota = Quota::new(5, Duration::from_secs(60)).unwrap();
    assert_eq!(limiter.check("k", &quota, 1).await.unwrap().remaining, 4);
    let mut connection = block_in_place(|| sync_connection(&server));
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut connection)
        .unwrap();
    assert_eq!(limiter.check("k", &quota, 1).await.unwrap().remaining, 3);
}

/// The production script with Redis's clock replaced by ARGV[4] (seconds) and ARGV[5]
/// (microseconds), so the test can pin "now".
fn script_with_pinned_clock() -> redis::Script {
    let original = "local time = redis.call('TIME')";
    assert!(
        GCRA_LUA.contains(original),
        "the script reads TIME on this line"
    );
    redis::Script::new(&GCRA_LUA.replace(original, "local time = { ARGV[4], ARGV[5] }"))
}

#[derive(Debug, Clone)]
struct Op {
    gap_us: u64,
    cost: u32,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let gap = prop_oneof![
        Just(0u64),
        0u64..1_000,
        0u64..10_000_000,
        0u64..100_000_000_000,
    ];
    proptest::collection::vec(
        (gap, 0u32..12).prop_map(|(gap_us, cost)| Op { gap_us, cost }),
        1..40,
    )
}

/// The Lua script and the Rust `decide` agree exactly — allowed, remaining, reset and
/// retry to the microsecond, and the stored TAT and its expiry — over random quotas
/// (including long emission intervals, where double division could round wrongly) and
/// random arrivals at realistic epoch-microsecond times.
#[test]
fn lua_matches_rust_exactly() {
    let server = RedisServer::start();
    // `run` takes an `Fn`: state shared across cases goes in cells.
    let connection = std::cell::RefCell::new(sync_connection(&server));
    let script = script_with_pinned_clock();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 200,
        ..ProptestConfig::default()
    });
    let quotas = (1u32..20, 1u64..30 * 86_400_000, 1u32..12);
    let start = 1_700_000_000_000_000u64..1_900_000_000_000_000;
    let case = std::cell::Cell::new(0u64);
    runner
        .run(
            &(quotas, start, ops()),
            |((limit, period_ms, burst), start, ops)| {
                case.set(case.get() + 1);
                let key = format!("diff:{}", case.get());
                let connection = &mut *connection.borrow_mut();
                let quota =
                    Quota::with_burst(limit, Duration::from_millis(period_ms), burst).unwrap();
                let interval = quota.emission_interval().as_micros() as u64;
                let tolerance = quota.refill_time().as_micros() as u64;
                let mut now = start;
                let mut tat: Option<u64> = None;
                for op in ops {
                    now += op.gap_us;
                    let (expected, new_tat) = decide(&quota, tat, now, op.cost);
                    let reply: Vec<i64> = script
                        .key(&key)
                        .arg(interval)
                        .arg(tolerance)
                        .arg(op.cost)
                        .arg(now / 1_000_000)
                        .arg(now % 1_000_000)
                        .invoke(connection)
                        .unwrap();
                    let retry = expected.retry_after.map_or(-1, |d| d.as_micros() as i64);
                    prop_assert_eq!(
                        reply,
                        vec![
                            i64::from(expected.allowed),
                            i64::from(expected.remaining),
                            expected.reset_after.as_micros() as i64,
                            retry,
                        ],
                        "quota {:?} tat {:?} now {} cost {}",
                        quota,
                        tat,
                        now,
                        op.cost
                    );
                    if expected.allowed && new_tat > now {
                        let stored: Option<String> =
                            redis::cmd("GET").arg(&key).query(connection).unwrap();
                        prop_assert_eq!(stored, Some(new_tat.to_string()));
                        let ttl: i64 = redis::cmd("PTTL").arg(&key).query(connection).unwrap();
                        let expected_ms = (new_tat - now).div_ceil(1000) as i64;
                        // PTTL counts down in real time between the two calls.
                        prop_assert!(ttl <= expected_ms && ttl >= expected_ms - 100);
                        // The pinned clock is not real time: keep the key until the next op.
                        let _: i64 = redis::cmd("PERSIST").arg(&key).query(connection).unwrap();
                    }
                    if expected.allowed {
                        tat = Some(new_tat);
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}
