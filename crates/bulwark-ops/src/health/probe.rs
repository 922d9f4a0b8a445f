//! The probes: one async call per kind of dependency, each bounded by the check's timeout,
//! each failing with a [`ProbeError`] that is safe to show.
//!
//! Connection URLs hold passwords, and driver errors can quote the URL they were given.
//! So a driver error is never kept or printed: it is mapped to a kind (connection refused,
//! timeout, authentication failed, protocol, unexpected reply) right where it is caught.

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bulwark_config::Secret;
use bulwark_config::checks::{Check, CheckKind};
use bulwark_config::upstreams::Upstream;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::status::ComponentType;

/// How long the Redis probe key lives: long enough to read back, short enough that a
/// removed check leaves nothing behind for long.
const PROBE_KEY_TTL_MS: u64 = 60_000;

/// Why a probe failed. Every message is safe to show on the ops listener: kinds and
/// codes, never driver text, URLs or response bodies.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("timed out")]
    Timeout,
    #[error("connection refused")]
    ConnectRefused,
    #[error("cannot resolve the host")]
    Resolve,
    #[error("cannot connect{}", kind_suffix(*.0))]
    Connect(io::ErrorKind),
    #[error("connection lost: {0}")]
    Io(io::ErrorKind),
    #[error("authentication failed")]
    AuthFailed,
    #[error("permission denied")]
    PermissionDenied,
    /// A server-side error code (SQLSTATE, a Redis error prefix): a code, never a message.
    #[error("server error {0}")]
    Server(String),
    #[error("TLS handshake failed")]
    Tls,
    #[error("protocol error")]
    Protocol,
    #[error("unexpected reply")]
    UnexpectedReply,
    #[error("invalid connection URL")]
    InvalidUrl,
    #[error("upstream {0:?} is not configured")]
    UnknownUpstream(String),
    #[error("cannot build the HTTP client")]
    HttpClient,
    /// http: no target answered the expected status.
    #[error("no target answered {expected}: {}", join(.failures))]
    Targets {
        expected: u16,
        failures: Vec<TargetFailure>,
    },
}

/// One upstream target that did not answer as expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetFailure {
    pub target: String,
    pub reason: TargetReason,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetReason {
    Status(u16),
    Timeout,
    ConnectRefused,
    Connect,
    Protocol,
}

impl std::fmt::Display for TargetFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = &self.target;
        match self.reason {
            TargetReason::Status(status) => write!(f, "{target} answered {status}"),
            TargetReason::Timeout => write!(f, "{target} timed out"),
            TargetReason::ConnectRefused => write!(f, "{target} refused the connection"),
            TargetReason::Connect => write!(f, "{target} cannot be reached"),
            TargetReason::Protocol => write!(f, "{target} broke the HTTP exchange"),
        }
    }
}

/// `: host unreachable`; a kind that says nothing (a failed name lookup comes back as an
/// uncategorised error) gets a plainer hint instead.
fn kind_suffix(kind: io::ErrorKind) -> String {
    let text = kind.to_string();
    if kind == io::ErrorKind::Other || text.contains("uncategorized") {
        " (name resolution or network error)".into()
    } else {
        format!(": {text}")
    }
}

fn join(failures: &[TargetFailure]) -> String {
    if failures.is_empty() {
        return "the upstream has no targets".into();
    }
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A ready-to-run probe for one check.
#[derive(Clone, Debug)]
pub enum Probe {
    Http {
        client: reqwest::Client,
        /// `(target, full URL)`: the target names the failure, the URL is what is fetched.
        targets: Vec<(String, String)>,
        expect_status: u16,
    },
    Tcp {
        address: String,
    },
    Postgres {
        url: Secret,
    },
    Redis {
        url: Secret,
        key: String,
    },
}

impl Probe {
    /// Builds the probe for `check`; http checks resolve their upstream's targets here,
    /// so a reload that changes the targets builds a new probe.
    pub fn new(check: &Check, upstreams: &[Upstream]) -> Result<Self, ProbeError> {
        Ok(match &check.kind {
            CheckKind::Http {
                upstream,
                path,
                expect_status,
            } => {
                let upstream = upstreams
                    .iter()
                    .find(|u| &u.name == upstream)
                    .ok_or_else(|| ProbeError::UnknownUpstream(upstream.clone()))?;
                let mut builder = reqwest::Client::builder()
                    // A health probe must reach the target itself, not an environment
                    // proxy, and judge the status the target gave, not a redirect's.
                    .no_proxy()
                    .redirect(reqwest::redirect::Policy::none())
                    // A fresh connection each time: a pooled one hides a target that
                    // stopped accepting new connections.
                    .pool_max_idle_per_host(0)
                    .user_agent(concat!("bulwark-health/", env!("CARGO_PKG_VERSION")));
                // An upstream with its own CA is checked against that CA only, as the
                // proxy does.
                if let Some(ca) = &upstream.ca {
                    builder = builder.tls_certs_only(
                        ca.certs
                            .iter()
                            .filter_map(|der| reqwest::Certificate::from_der(der).ok()),
                    );
                }
                let client = builder.build().map_err(|_| ProbeError::HttpClient)?;
                let targets = upstream
                    .targets
                    .iter()
                    .map(|t| (t.to_string(), format!("{t}{path}")))
                    .collect();
                Probe::Http {
                    client,
                    targets,
                    expect_status: *expect_status,
                }
            }
            CheckKind::Tcp { address } => Probe::Tcp {
                address: address.clone(),
            },
            CheckKind::Postgres { url } => Probe::Postgres { url: url.clone() },
            CheckKind::Redis { url } => Probe::Redis {
                url: url.clone(),
                // Per process: instances sharing a Redis must not read each other's value.
                key: format!("bulwark:health:{}:{}", check.name, instance_id()),
            },
        })
    }

    /// Runs once, within `timeout`.
    pub async fn check(&self, timeout: Duration) -> Result<(), ProbeError> {
        match self {
            // Bounded per target, so the output can say which target timed out.
            Probe::Http {
                client,
                targets,
                expect_status,
            } => http(client, targets, *expect_status, timeout).await,
            Probe::Tcp { address } => bounded(timeout, tcp(address)).await,
            Probe::Postgres { url } => bounded(timeout, postgres(url)).await,
            Probe::Redis { url, key } => bounded(timeout, redis(url, key)).await,
        }
    }
}

async fn bounded(
    timeout: Duration,
    probe: impl Future<Output = Result<(), ProbeError>>,
) -> Result<(), ProbeError> {
    tokio::time::timeout(timeout, probe)
        .await
        .unwrap_or(Err(ProbeError::Timeout))
}

/// How the report classifies a check's component.
pub fn component_type(kind: &CheckKind) -> ComponentType {
    match kind {
        CheckKind::Postgres { .. } | CheckKind::Redis { .. } => ComponentType::Datastore,
        CheckKind::Http { .. } | CheckKind::Tcp { .. } => ComponentType::Component,
    }
}

async fn http(
    client: &reqwest::Client,
    targets: &[(String, String)],
    expected: u16,
    timeout: Duration,
) -> Result<(), ProbeError> {
    let attempts = targets.iter().map(|(target, url)| async move {
        let reason = match tokio::time::timeout(timeout, client.get(url).send()).await {
            // The body is never read: a health endpoint's body is the app's business,
            // and nothing of it may end up in bulwark's output.
            Ok(Ok(response)) if response.status().as_u16() == expected => return None,
            Ok(Ok(response)) => TargetReason::Status(response.status().as_u16()),
            Ok(Err(error)) => http_reason(&error),
            Err(_) => TargetReason::Timeout,
        };
        Some(TargetFailure {
            target: target.clone(),
            reason,
        })
    });
    let results = futures_util::future::join_all(attempts).await;
    if !targets.is_empty() && results.iter().any(Option::is_none) {
        return Ok(());
    }
    Err(ProbeError::Targets {
        expected,
        failures: results.into_iter().flatten().collect(),
    })
}

fn http_reason(error: &reqwest::Error) -> TargetReason {
    if error.is_timeout() {
        TargetReason::Timeout
    } else if error.is_connect() {
        match root_io_kind(error) {
            Some(io::ErrorKind::ConnectionRefused) => TargetReason::ConnectRefused,
            Some(io::ErrorKind::TimedOut) => TargetReason::Timeout,
            _ => TargetReason::Connect,
        }
    } else {
        TargetReason::Protocol
    }
}

/// The kind of the innermost I/O error in a chain of sources.
fn root_io_kind(error: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut current = Some(error);
    let mut kind = None;
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            kind = Some(io.kind());
        }
        current = e.source();
    }
    kind
}

fn connect_error(error: &io::Error) -> ProbeError {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => ProbeError::ConnectRefused,
        io::ErrorKind::TimedOut => ProbeError::Timeout,
        kind => ProbeError::Connect(kind),
    }
}

async fn tcp(address: &str) -> Result<(), ProbeError> {
    let addrs: Vec<_> = tokio::net::lookup_host(address)
        .await
        .map_err(|_| ProbeError::Resolve)?
        .collect();
    let mut last = ProbeError::Resolve;
    for addr in addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(_connected_is_all_we_ask) => return Ok(()),
            Err(error) => last = connect_error(&error),
        }
    }
    Err(last)
}

async fn postgres(url: &Secret) -> Result<(), ProbeError> {
    let options = PgConnectOptions::from_str(url.expose())
        .map_err(|_| ProbeError::InvalidUrl)?
        .application_name("bulwark-health")
        // One line per probe every few seconds would drown the log.
        .disable_statement_logging();
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(postgres_error)?;
    let one: Result<i32, _> = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut connection)
        .await;
    // The answer decides; a failed goodbye after it does not make the database down.
    let _ = connection.close().await;
    match one.map_err(postgres_error)? {
        1 => Ok(()),
        _ => Err(ProbeError::UnexpectedReply),
    }
}

fn postgres_error(error: sqlx::Error) -> ProbeError {
    match error {
        sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_) => ProbeError::InvalidUrl,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // invalid_password, invalid_authorization_specification
            Some("28P01" | "28000") => ProbeError::AuthFailed,
            // insufficient_privilege
            Some("42501") => ProbeError::PermissionDenied,
            Some(code) if is_sqlstate(code) => ProbeError::Server(code.to_string()),
            _ => ProbeError::Protocol,
        },
        sqlx::Error::Io(io) => connect_error(&io),
        sqlx::Error::Tls(_) => ProbeError::Tls,
        sqlx::Error::PoolTimedOut => ProbeError::Timeout,
        sqlx::Error::RowNotFound
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => ProbeError::UnexpectedReply,
        _ => ProbeError::Protocol,
    }
}

/// Five characters of digits and upper-case letters, so only a code gets through.
fn is_sqlstate(code: &str) -> bool {
    code.len() == 5
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

async fn redis(url: &Secret, key: &str) -> Result<(), ProbeError> {
    let client = redis::Client::open(url.expose()).map_err(|_| ProbeError::InvalidUrl)?;
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .map_err(redis_error)?;
    let pong: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .map_err(redis_error)?;
    if pong != "PONG" {
        return Err(ProbeError::UnexpectedReply);
    }
    // A value of our own, so a stale key or a replica lagging behind cannot pass.
    let value = probe_value();
    let () = redis::cmd("SET")
        .arg(key)
        .arg(&value)
        .arg("PX")
        .arg(PROBE_KEY_TTL_MS)
        .query_async(&mut connection)
        .await
        .map_err(redis_error)?;
    let back: Option<String> = redis::cmd("GET")
        .arg(key)
        .query_async(&mut connection)
        .await
        .map_err(redis_error)?;
    if back.as_deref() == Some(value.as_str()) {
        Ok(())
    } else {
        Err(ProbeError::UnexpectedReply)
    }
}

fn redis_error(error: redis::RedisError) -> ProbeError {
    if error.is_connection_refusal() {
        return ProbeError::ConnectRefused;
    }
    if error.is_timeout() {
        return ProbeError::Timeout;
    }
    match error.code() {
        Some("NOAUTH" | "WRONGPASS") => return ProbeError::AuthFailed,
        Some("NOPERM") => return ProbeError::PermissionDenied,
        Some(code) if is_redis_code(code) => return ProbeError::Server(code.to_string()),
        _ => {}
    }
    match error.kind() {
        redis::ErrorKind::AuthenticationFailed => ProbeError::AuthFailed,
        redis::ErrorKind::InvalidClientConfig => ProbeError::InvalidUrl,
        redis::ErrorKind::UnexpectedReturnType => ProbeError::UnexpectedReply,
        redis::ErrorKind::Io => {
            ProbeError::Io(root_io_kind(&error).unwrap_or(io::ErrorKind::Other))
        }
        _ => ProbeError::Protocol,
    }
}

/// Redis error prefixes are one upper-case word (`LOADING`, `READONLY`, `MISCONF`).
fn is_redis_code(code: &str) -> bool {
    (1..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// Unique per call and unpredictable enough for a probe (std's per-process random keys).
fn probe_value() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}{n:x}", RandomState::new().hash_one(n))
}

/// Distinguishes this process from other bulwark instances sharing a Redis.
fn instance_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        format!("{:x}-{:x}", std::process::id(), nanos)
    })
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::Duration;

    use bulwark_config::upstreams::Target;

    use super::*;

    /// A port nothing listens on: bind, note, close.
    fn closed_port() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    fn check(name: &str, kind: CheckKind) -> Check {
        Check {
            name: name.into(),
            kind,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            critical: false,
            failure_threshold: 1,
            success_threshold: 1,
        }
    }

    const PASSWORD: &str = "pa55-Very-Secret-9f8e7d";

    async fn run(kind: CheckKind) -> ProbeError {
        let probe = Probe::new(&check("dep", kind), &[]).unwrap();
        probe.check(Duration::from_secs(2)).await.unwrap_err()
    }

    #[tokio::test]
    async fn failures_never_show_the_password_in_a_url() {
        let port = closed_port();
        let urls = [
            format!("postgres://bulwark:{PASSWORD}@127.0.0.1:{port}/app"),
            format!("postgres://bulwark:{PASSWORD}@127.0.0.1:notaport/app"),
            format!("postgres://bulwark:{PASSWORD}@no-such-host.invalid:5432/app"),
            format!("redis://:{PASSWORD}@127.0.0.1:{port}/0"),
            format!("redis://user:{PASSWORD}@127.0.0.1:notaport/0"),
            format!("rediss://user:{PASSWORD}@no-such-host.invalid:6379/0"),
            format!("nonsense://{PASSWORD}"),
        ];
        for url in urls {
            let kind = if url.starts_with("postgres") {
                CheckKind::Postgres {
                    url: Secret::new(url.clone()),
                }
            } else {
                CheckKind::Redis {
                    url: Secret::new(url.clone()),
                }
            };
            let error = run(kind).await;
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(PASSWORD), "{url} -> {shown}");
            assert!(!shown.contains("bulwark:"), "{url} -> {shown}");
        }
    }

    #[tokio::test]
    async fn refused_connections_are_named_as_such() {
        let port = closed_port();
        let postgres = run(CheckKind::Postgres {
            url: Secret::new(format!("postgres://u:{PASSWORD}@127.0.0.1:{port}/db")),
        })
        .await;
        assert_eq!(postgres, ProbeError::ConnectRefused);
        let redis = run(CheckKind::Redis {
            url: Secret::new(format!("redis://:{PASSWORD}@127.0.0.1:{port}")),
        })
        .await;
        assert_eq!(redis, ProbeError::ConnectRefused);
        let tcp = run(CheckKind::Tcp {
            address: format!("127.0.0.1:{port}"),
        })
        .await;
        assert_eq!(tcp, ProbeError::ConnectRefused);
        assert_eq!(tcp.to_string(), "connection refused");
    }

    #[tokio::test]
    async fn a_bad_url_is_reported_without_quoting_it() {
        let error = run(CheckKind::Postgres {
            url: Secret::new(format!("postgres://u:{PASSWORD}@h:port/db")),
        })
        .await;
        assert_eq!(error, ProbeError::InvalidUrl);
    }

    #[tokio::test]
    async fn tcp_passes_when_something_listens() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let probe = Probe::new(
            &check(
                "t",
                CheckKind::Tcp {
                    address: listener.local_addr().unwrap().to_string(),
                },
            ),
            &[],
        )
        .unwrap();
        assert_eq!(probe.check(Duration::from_secs(2)).await, Ok(()));
    }

    #[tokio::test]
    async fn a_silent_peer_times_out_within_the_timeout() {
        // Accepts connections but never answers: the probe must give up on its own.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let probe = Probe::new(
            &check(
                "r",
                CheckKind::Redis {
                    url: Secret::new(format!("redis://{address}")),
                },
            ),
            &[],
        )
        .unwrap();
        let started = std::time::Instant::now();
        let result = probe.check(Duration::from_millis(200)).await;
        assert_eq!(result, Err(ProbeError::Timeout));
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
    }

    #[test]
    fn http_checks_need_a_known_upstream() {
        let kind = CheckKind::Http {
            upstream: "app".into(),
            path: "/health".into(),
            expect_status: 200,
        };
        let error = Probe::new(&check("h", kind.clone()), &[]).unwrap_err();
        assert_eq!(error.to_string(), "upstream \"app\" is not configured");
        let upstream = Upstream {
            name: "app".into(),
            targets: vec![Target {
                scheme: http::uri::Scheme::HTTP,
                authority: "127.0.0.1:8000".parse().unwrap(),
            }],
            ca: None,
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            pool_idle_timeout: Duration::from_secs(1),
            pool_max_idle_per_target: 1,
            max_failures: 1,
            cooldown: Duration::from_secs(1),
        };
        let Probe::Http { targets, .. } = Probe::new(&check("h", kind), &[upstream]).unwrap()
        else {
            panic!("an http check builds an http probe");
        };
        assert_eq!(
            targets,
            vec![(
                "http://127.0.0.1:8000".to_string(),
                "http://127.0.0.1:8000/health".to_string()
            )]
        );
    }

    #[test]
    fn target_failures_read_well() {
        let error = ProbeError::Targets {
            expected: 200,
            failures: vec![
                TargetFailure {
                    target: "http://a:1".into(),
                    reason: TargetReason::Status(503),
                },
                TargetFailure {
                    target: "http://b:2".into(),
                    reason: TargetReason::ConnectRefused,
                },
            ],
        };
        assert_eq!(
            error.to_string(),
            "no target answered 200: http://a:1 answered 503, http://b:2 refused the connection"
        );
    }

    #[test]
    fn connect_errors_name_a_kind_only_when_it_says_something() {
        assert_eq!(
            ProbeError::Connect(io::ErrorKind::HostUnreachable).to_string(),
            "cannot connect: host unreachable"
        );
        assert_eq!(
            ProbeError::Connect(io::ErrorKind::Other).to_string(),
            "cannot connect (name resolution or network error)"
        );
    }

    #[test]
    fn probe_values_differ() {
        assert_ne!(probe_value(), probe_value());
    }

    #[test]
    fn only_codes_pass_as_server_errors() {
        assert!(is_sqlstate("57P03"));
        assert!(!is_sqlstate("57p03 x"));
        assert!(is_redis_code("LOADING"));
        assert!(!is_redis_code("ERR redis://x:y@z"));
    }
}
