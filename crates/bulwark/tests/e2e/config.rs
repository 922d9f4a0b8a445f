//! The config file from outside: `bulwark check` on the shipped examples and on broken
//! files (each problem named by file, line and dotted key), weak secrets refused before
//! anything starts, and secret values never showing up anywhere bulwark writes
//! (DESIGN.md, "Secrets"; Guarantee 7).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bulwark_testkit::{RedisServer, free_port};

use crate::support::{Bulwark, Options, TestUpstream, eventually, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_bulwark");

/// A strong owned secret: 44 raw bytes, '.' keeps it from decoding as base64 or hex.
const ADMIN_TOKEN: &str = "bw.admin.Q7vX2kP9mR4tL8wZ3nB6cY1hJ5fD0sGaEuW";
const REDIS_PASSWORD: &str = "S3cretRedisPassw0rd.k9Xq2Lm";
const WRONG_REDIS_PASSWORD: &str = "Wr0ngRedisPassw0rd.p4Lm8Zq";
const PG_PASSWORD: &str = "AnotherS3cretPgValue.z7TqR2";
const INLINE_SECRET: &str = "inline.literal.Vb8nM2xC5zL9kJ4hG7fD1sA3qW6eR0tY";

struct Checked {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

/// Writes `text` to a fresh file and runs `bulwark check --config FILE` on it.
fn check(text: &str, env: &[(&str, &str)]) -> Checked {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bulwark.toml");
    std::fs::write(&file, text).unwrap();
    let output = check_file(&file, env, dir.path());
    Checked {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        file,
        _dir: dir,
    }
}

fn check_file(file: &Path, env: &[(&str, &str)], cwd: &Path) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(["check", "--config"])
        .arg(file)
        .current_dir(cwd)
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run bulwark check")
}

/// `${NAME}` references in a config text.
fn env_references(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        names.push(after[..end].to_string());
        rest = &after[end..];
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_example_config_passes_check() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap_or_else(|e| panic!("{}: {e}", examples.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples in {}", examples.display());
    // Examples are run from the repository root, as the README does; relative paths in
    // them (demo secret files) are relative to it.
    let repo_root = examples
        .parent()
        .expect("examples/ is in the repository root");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Secrets an example refers to get strong values, distinct per variable.
        let values: Vec<(String, String)> = env_references(&text)
            .into_iter()
            .map(|name| {
                let value = format!("{name}.{ADMIN_TOKEN}");
                (name, value)
            })
            .collect();
        let env: Vec<(&str, &str)> = values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let output = check_file(&file, &env, repo_root);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{}: {}\n{stdout}{stderr}",
            file.display(),
            output.status
        );
        assert!(stdout.contains(": OK ("), "{}: {stdout}", file.display());
        assert!(
            !stderr.contains("warning:"),
            "{}: an example should not raise warnings:\n{stderr}",
            file.display()
        );
    }
}

/// Asserts exit 1, one problem, and a `FILE:line N: KEY: ` location in stderr.
fn assert_refused(checked: &Checked, line: usize, key: &str) {
    assert_eq!(
        checked.code,
        Some(1),
        "stdout: {}\nstderr: {}",
        checked.stdout,
        checked.stderr
    );
    let file = checked.file.display();
    let location = if key.is_empty() {
        format!("\n  {file}:line {line}: ")
    } else {
        format!("\n  {file}:line {line}: {key}: ")
    };
    assert!(
        checked.stderr.contains(&location),
        "expected {location:?} in:\n{}",
        checked.stderr
    );
    assert!(
        checked.stderr.contains("has 1 problem:"),
        "{}",
        checked.stderr
    );
    assert!(checked.stdout.is_empty(), "{}", checked.stdout);
}

#[test]
fn check_names_file_line_and_key_of_each_problem() {
    // Unknown key (a typo).
    let c = check(
        "[[upstreams]]\nname = \"app\"\ntargets = [\"http://127.0.0.1:1\"]\ntimout = \"1s\"\n",
        &[],
    );
    assert_refused(&c, 4, "upstreams[0].timout");
    assert!(c.stderr.contains("unknown field `timout`"), "{}", c.stderr);

    // A duration without a unit.
    let c = check("[timeouts]\nshutdown = \"10s\"\nidle = \"30\"\n", &[]);
    assert_refused(&c, 3, "timeouts.idle");
    assert!(c.stderr.contains("needs a unit"), "{}", c.stderr);

    // A route to an upstream that does not exist.
    let c = check(
        "[[upstreams]]\nname = \"app\"\ntargets = [\"http://127.0.0.1:1\"]\n\n[[routes]]\nname = \"r\"\nupstream = \"nope\"\n",
        &[],
    );
    assert_refused(&c, 7, "routes[0].upstream");
    assert!(c.stderr.contains("no upstream named"), "{}", c.stderr);

    // TOML that does not parse: no key to name, but the line.
    let c = check("[listen]\npublic = \"127.0.0.1:0\"\nops = \n", &[]);
    assert_refused(&c, 3, "");

    // Every problem at once, not just the first.
    let c = check(
        "[[upstreams]]\nname = \"app\"\ntargets = [\"http://127.0.0.1:1\"]\n\n[[routes]]\nname = \"r\"\nupstream = \"nope\"\n\n[[routes]]\nname = \"r\"\nupstream = \"gone\"\n",
        &[],
    );
    assert_eq!(c.code, Some(1));
    assert!(c.stderr.contains("has 3 problems:"), "{}", c.stderr);
    for location in [
        ":line 7: routes[0].upstream: ",
        ":line 11: routes[1].upstream: ",
        ":line 10: routes[1].name: ",
    ] {
        assert!(c.stderr.contains(location), "{location} in:\n{}", c.stderr);
    }
}

const WEAK_TOKENS: &str = r#"[[admin.tokens]]
name = "ops"
token = "${ADMIN_TOKEN}"
scopes = ["read"]

[[admin.tokens]]
name = "ci"
token = "${CI_TOKEN}"
scopes = ["read"]
"#;

/// `openssl rand -hex 16`: 32 characters, but only 16 bytes.
const SIXTEEN_BYTES: &str = "9f2c4e81b7a05d3c6e1f8a2b4c7d9e03";

#[test]
fn weak_or_placeholder_owned_secrets_are_refused_without_echoing_them() {
    let c = check(
        WEAK_TOKENS,
        &[("ADMIN_TOKEN", "changeme"), ("CI_TOKEN", SIXTEEN_BYTES)],
    );
    assert_eq!(c.code, Some(1), "{}{}", c.stdout, c.stderr);
    assert!(c.stderr.contains("has 2 problems:"), "{}", c.stderr);
    let file = c.file.display();
    let placeholder = format!("{file}:line 3: admin.tokens[0].token: ");
    let short = format!("{file}:line 8: admin.tokens[1].token: ");
    for (location, why) in [(&placeholder, "placeholder"), (&short, "16 bytes")] {
        let line = c
            .stderr
            .lines()
            .find(|l| l.contains(location.as_str()))
            .unwrap_or_else(|| panic!("no {location:?} in:\n{}", c.stderr));
        assert!(line.contains(why), "{line}");
        assert!(
            line.contains("openssl rand"),
            "says how to make one: {line}"
        );
    }
    let all = format!("{}{}", c.stdout, c.stderr);
    assert!(!all.contains("changeme"), "{all}");
    assert!(!all.contains(SIXTEEN_BYTES), "{all}");
}

#[test]
fn an_inline_secret_is_refused_without_echoing_it() {
    let c = check(
        &format!(
            "[[admin.tokens]]\nname = \"ops\"\ntoken = \"{INLINE_SECRET}\"\nscopes = [\"read\"]\n"
        ),
        &[],
    );
    assert_refused(&c, 3, "admin.tokens[0].token");
    assert!(c.stderr.contains("never inline"), "{}", c.stderr);
    let all = format!("{}{}", c.stdout, c.stderr);
    assert!(!all.contains(INLINE_SECRET), "{all}");
    assert!(!all.contains("inline.literal"), "{all}");
}

#[test]
fn run_with_a_weak_secret_exits_without_starting() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bulwark.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\n[listen]\npublic = \"127.0.0.1:0\"\nops = \"127.0.0.1:0\"\n{WEAK_TOKENS}",
            dir.path().join("data").display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&file)
        .env("ADMIN_TOKEN", "changeme")
        .env("CI_TOKEN", ADMIN_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let exited = wait_until(Duration::from_secs(20), || {
        child.try_wait().unwrap().is_some()
    });
    if !exited {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        exited,
        "bulwark kept running with a weak admin token:\n{stdout}{stderr}"
    );
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(!stdout.contains("listening"), "{stdout}");
    let text = std::fs::read_to_string(&file).unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l.contains("${ADMIN_TOKEN}"))
        .unwrap();
    let location = format!("{}:line {line}: admin.tokens[0].token: ", file.display());
    assert!(
        stderr.contains(&location) && stderr.contains("openssl rand"),
        "{location:?} in:\n{stderr}"
    );
    assert!(!format!("{stdout}{stderr}").contains("changeme"));
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created before the config is accepted"
    );
}

/// Sets a password on a running Redis with `CONFIG SET requirepass` over raw RESP.
fn set_redis_password(port: u16, password: &str) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let args = ["CONFIG", "SET", "requirepass", password];
    let mut command = format!("*{}\r\n", args.len());
    for a in args {
        command.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(command.as_bytes()).unwrap();
    let mut reply = [0u8; 5];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n");
}

/// `/health`'s check entries by component id: (status, output).
async fn checks_of(bulwark: &Bulwark) -> Option<Vec<(String, String, String)>> {
    let resp = reqwest::get(bulwark.ops_url("/health")).await.ok()?;
    let doc: serde_json::Value = resp.json().await.ok()?;
    let checks = doc["checks"].as_object()?;
    Some(
        checks
            .values()
            .map(|entry| {
                let e = &entry[0];
                (
                    e["componentId"].as_str().unwrap_or_default().to_string(),
                    e["status"].as_str().unwrap_or_default().to_string(),
                    e["output"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
    )
}

async fn body(url: String) -> String {
    let resp = reqwest::get(&url).await.expect(&url);
    format!("{url} {}\n{}", resp.status(), resp.text().await.unwrap())
}

#[tokio::test]
async fn secrets_never_appear_in_output_health_metrics_version_or_audit() {
    let mut redis = RedisServer::start();
    set_redis_password(redis.port(), REDIS_PASSWORD);
    let upstream = TestUpstream::start().await;
    let pg_port = free_port();
    let redis_url = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{}/", redis.port());
    let wrong_url = format!(
        "redis://:{WRONG_REDIS_PASSWORD}@127.0.0.1:{}/",
        redis.port()
    );
    let pg_url = format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1:{pg_port}/postgres");
    let config = format!(
        r#"
[log]
level = "debug"

[[upstreams]]
name = "app"
targets = ["{}"]

[[routes]]
name = "app"
upstream = "app"

[[checks]]
name = "cache"
kind = "redis"
url = "${{REDIS_URL}}"
interval = "100ms"
timeout = "1s"
failure_threshold = 1

[[checks]]
name = "cache-wrong"
kind = "redis"
url = "${{REDIS_WRONG_URL}}"
interval = "100ms"
timeout = "1s"
failure_threshold = 1

[[checks]]
name = "db"
kind = "postgres"
url = "${{DATABASE_URL}}"
interval = "100ms"
timeout = "1s"
failure_threshold = 1

[[admin.tokens]]
name = "ops"
token = "${{ADMIN_TOKEN}}"
scopes = ["read"]
"#,
        upstream.url()
    );
    let env = vec![
        ("REDIS_URL", redis_url.clone()),
        ("REDIS_WRONG_URL", wrong_url.clone()),
        ("DATABASE_URL", pg_url.clone()),
        ("ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
    ];
    let bulwark = Bulwark::start_with(&config, Options { env: env.clone() });
    let secrets = [
        ADMIN_TOKEN,
        REDIS_PASSWORD,
        WRONG_REDIS_PASSWORD,
        PG_PASSWORD,
        INLINE_SECRET,
    ];

    let client = reqwest::Client::new();
    for (path, status) in [("/echo/a", 200), ("/echo/b?x=1", 200), ("/status/500", 500)] {
        let resp = client
            .get(bulwark.url(path))
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{path}");
    }
    // Wait until every check has run: the right password passes, the wrong one and the
    // unreachable database fail.
    let expected = |checks: &[(String, String, String)]| {
        let find = |name: &str| checks.iter().find(|c| c.0 == name).cloned();
        matches!(find("cache"), Some((_, s, _)) if s == "pass")
            && matches!(find("cache-wrong"), Some((_, s, o)) if s == "fail" && o == "authentication failed")
            && matches!(find("db"), Some((_, s, o)) if s == "fail" && o == "connection refused")
    };
    assert!(
        eventually(Duration::from_secs(15), || async {
            checks_of(&bulwark).await.is_some_and(|c| expected(&c))
        })
        .await,
        "checks never settled: {:?}\n{}",
        checks_of(&bulwark).await,
        bulwark.output()
    );

    // A good reload, then one refused for an inline secret.
    bulwark.rewrite_config(&config);
    bulwark.signal("HUP");
    assert!(bulwark.wait_for_output("Config reloaded.", Duration::from_secs(10)));
    bulwark.rewrite_config(&config.replace("${ADMIN_TOKEN}", INLINE_SECRET));
    bulwark.signal("HUP");
    assert!(
        bulwark.wait_for_output("admin.tokens[0].token", Duration::from_secs(10)),
        "{}",
        bulwark.output()
    );
    // Checks run on after the reloads, through more probes and log lines.
    assert!(
        eventually(Duration::from_secs(15), || async {
            checks_of(&bulwark).await.is_some_and(|c| expected(&c))
        })
        .await
    );
    // `bulwark check` on the same file, with the same environment.
    bulwark.rewrite_config(&config);
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let checked = check_file(&bulwark.config_path(), &env_refs, bulwark.dir.path());
    assert!(checked.status.success(), "{checked:?}");

    let mut seen = vec![
        ("output".to_string(), bulwark.output()),
        (
            "bulwark check".to_string(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&checked.stdout),
                String::from_utf8_lossy(&checked.stderr)
            ),
        ),
    ];
    for path in [
        "/health",
        "/health/ready?verbose",
        "/health/live",
        "/metrics",
        "/version",
    ] {
        seen.push((path.to_string(), body(bulwark.ops_url(path)).await));
    }
    let audit = std::fs::read_to_string(bulwark.dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("config_reload_failed"), "{audit}");
    seen.push(("audit log".to_string(), audit));

    // The texts are real: they hold what the scenario did.
    let all: String = seen.iter().map(|(_, t)| t.as_str()).collect();
    for sign in [
        "[-]cache-wrong failed: authentication failed (not critical)",
        "bulwark_config_reloads_total{result=\"failure\"} 1",
        "never inline",
        "Config reloaded.",
    ] {
        assert!(
            all.contains(sign),
            "{sign:?} missing from what was collected"
        );
    }
    for (source, text) in &seen {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{source} contains a secret value:\n{text}"
            );
        }
    }
    redis.stop();
}
