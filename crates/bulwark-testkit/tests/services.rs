//! The servers really run: each is reached over TCP, stopped (its port then refuses),
//! restarted on the same port, and reached again. Also checks that `scripts/test.sh`
//! really started the shared services.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use bulwark_testkit::{
    PostgresServer, RedisServer, free_port, shared_database_url, shared_redis_url,
};

fn refuses(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
}

/// Sends `PING` in RESP and returns the first reply line.
fn redis_ping(addr: &str) -> String {
    let mut stream =
        TcpStream::connect(addr).unwrap_or_else(|error| panic!("connect to {addr}: {error}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n") {
        let n = stream.read(&mut byte).expect("Redis answers within 5 s");
        assert_eq!(n, 1, "Redis closed the connection after {reply:?}");
        reply.push(byte[0]);
    }
    String::from_utf8(reply).unwrap()
}

/// Sends `SET key value` and returns the reply line.
fn redis_set(port: u16, key: &str, value: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let command = format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
        key.len(),
        value.len()
    );
    stream.write_all(command.as_bytes()).unwrap();
    let mut reply = [0u8; 5];
    stream.read_exact(&mut reply).unwrap();
    String::from_utf8_lossy(&reply).into_owned()
}

/// Runs one SQL statement with psql against a connection string; returns its output.
fn psql(conninfo: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([conninfo, "-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .expect("psql runs (package postgresql-client)");
    assert!(
        output.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn pg_isready(port: u16) -> bool {
    Command::new("pg_isready")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .status()
        .expect("pg_isready runs (package postgresql-client)")
        .success()
}

#[test]
fn free_port_can_be_bound() {
    let port = free_port();
    assert_ne!(port, 0);
    TcpListener::bind(("127.0.0.1", port)).expect("the port free_port gave is free");
}

#[test]
fn redis_answers_ping_stops_and_restarts_on_the_same_port() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}/"));
    assert_eq!(redis_ping(&format!("127.0.0.1:{port}")), "+PONG\r\n");
    assert_eq!(redis_set(port, "bulwark-testkit:key", "value"), "+OK\r\n");

    redis.stop();
    assert!(refuses(port), "a stopped Redis refuses connections");
    redis.stop(); // stopping twice is harmless

    redis.restart();
    assert_eq!(redis.port(), port, "restart keeps the port");
    assert_eq!(redis_ping(&format!("127.0.0.1:{port}")), "+PONG\r\n");

    redis.restart(); // restarting a running server works too
    assert_eq!(redis_ping(&format!("127.0.0.1:{port}")), "+PONG\r\n");
}

#[test]
fn postgres_answers_queries_stops_and_restarts_with_its_data() {
    let mut postgres = PostgresServer::start();
    let port = postgres.port();
    let url = postgres.url();
    assert_eq!(
        url,
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    );
    assert!(pg_isready(port));
    assert_eq!(psql(&url, "select 1"), "1");
    psql(
        &url,
        "create table kept (value text); insert into kept values ('still here')",
    );

    postgres.stop();
    assert!(refuses(port), "a stopped PostgreSQL refuses connections");
    assert!(!pg_isready(port));
    postgres.stop(); // stopping twice is harmless

    postgres.restart();
    assert_eq!(postgres.port(), port, "restart keeps the port");
    assert!(pg_isready(port));
    assert_eq!(psql(&url, "select 1"), "1");
    assert_eq!(
        psql(&url, "select value from kept"),
        "still here",
        "restart keeps the data"
    );
}

#[test]
fn dropping_a_server_stops_it() {
    let redis = RedisServer::start();
    let postgres = PostgresServer::start();
    let (redis_port, postgres_port) = (redis.port(), postgres.port());
    assert_ne!(redis_port, postgres_port);
    drop(redis);
    drop(postgres);
    assert!(refuses(redis_port), "a dropped Redis refuses connections");
    assert!(
        refuses(postgres_port),
        "a dropped PostgreSQL refuses connections"
    );
}

/// Run under `scripts/test.sh`, which starts these; elsewhere this fails, telling so.
#[test]
fn shared_services_answer() {
    let database = shared_database_url();
    assert_eq!(psql(&database, "select 1"), "1");

    let redis = shared_redis_url();
    let addr = redis
        .strip_prefix("redis://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| {
            panic!("BULWARK_TEST_REDIS_URL looks like redis://HOST:PORT/, not {redis}")
        });
    assert_eq!(redis_ping(addr), "+PONG\r\n");
}
