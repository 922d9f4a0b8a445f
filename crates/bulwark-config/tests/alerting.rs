//! The alerting sections: monitors, notifiers, alerts, status page, maintenance.

use std::path::Path;

use bulwark_config::monitors::MonitorKind;
use bulwark_config::notifiers::{NotifierKind, SmtpSecurity};
use bulwark_config::{ExtraCheck, LoadError, Problem, ValidatedConfig, load_str_checked};

const BASE: &str = r#"
[listen]
public = "127.0.0.1:0"
ops = "127.0.0.1:0"

[[upstreams]]
name = "app"
targets = ["http://127.0.0.1:9000"]
"#;

fn env(name: &str) -> Option<String> {
    match name {
        "SLACK_URL" => Some("https://hooks.slack.example/services/T0/B0/abcdefghijklmnop".into()),
        "PG_URL" => Some("postgres://u:pw@127.0.0.1/db".into()),
        "SMS_TOKEN" => Some("a-long-enough-provider-token-1234".into()),
        _ => None,
    }
}

fn load_with(extra_text: &str, check: ExtraCheck<'_>) -> Result<ValidatedConfig, Vec<Problem>> {
    let text = format!("{BASE}{extra_text}");
    match load_str_checked(&text, Path::new("test.toml"), &env, check) {
        Ok(loaded) => Ok(loaded.config),
        Err(LoadError::Invalid { problems, .. }) => Err(problems),
        Err(other) => panic!("unexpected {other}"),
    }
}

fn load(extra_text: &str) -> Result<ValidatedConfig, Vec<Problem>> {
    load_with(extra_text, &|_| Vec::new())
}

/// The line (in the whole file) of the first line of `extra_text` containing `needle`.
fn line_of(extra_text: &str, needle: &str) -> usize {
    let base_lines = BASE.lines().count();
    base_lines + extra_text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_full_alerting_config_loads_with_the_documented_defaults() {
    let config = load(
        r#"
[[monitors]]
upstream = "app"
path = "/health"
public = true

[[monitors]]
name = "db"
kind = "postgres"
url = "${PG_URL}"

[[notifiers]]
name = "ops-hook"
kind = "webhook"
url = "http://127.0.0.1:9100/alerts"
fallback = true

[[notifiers]]
name = "chat"
kind = "slack"
url = "${SLACK_URL}"

[[notifiers]]
name = "mail"
kind = "email"
smtp_host = "127.0.0.1"
from = "bulwark@example.com"
to = ["oncall@example.com"]

[[notifiers]]
name = "pager"
kind = "sms"
account_sid = "AC123"
auth_token = "${SMS_TOKEN}"
from = "+15005550006"
to = ["+15005550001"]

[alerts]
external_url = "https://status.example.com"

[[alerts.routes]]
severity = ["critical"]
notifiers = ["pager", "ops-hook"]
"#,
    )
    .unwrap();
    let app = &config.monitors[0];
    assert_eq!(app.name, "app");
    assert_eq!(app.interval.as_secs(), 10);
    assert_eq!((app.failures_before_down, app.successes_before_up), (3, 2));
    match &app.kind {
        MonitorKind::Http { url, method, .. } => {
            assert_eq!(url.expose(), "http://127.0.0.1:9000/health");
            assert_eq!(method, "GET");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        config.monitors[1].kind,
        MonitorKind::Postgres { .. }
    ));

    let email = &config.notifiers[2];
    match &email.kind {
        NotifierKind::Email { port, security, .. } => {
            assert_eq!((*port, *security), (587, SmtpSecurity::Starttls));
        }
        other => panic!("{other:?}"),
    }
    assert!(!email.critical_only);
    assert!(
        config.notifiers[3].critical_only,
        "sms is critical-only by default"
    );
    assert!(config.notifiers[0].fallback);

    let alerts = &config.alerts;
    assert_eq!(alerts.group_wait_urgent.as_secs(), 10);
    assert_eq!(alerts.group_wait.as_secs(), 30);
    assert_eq!(alerts.group_interval.as_secs(), 300);
    assert_eq!(alerts.repeat_interval.as_secs(), 4 * 3600);
    assert_eq!(alerts.group_by, vec!["alertname".to_string()]);
    assert_eq!(config.status_page.path, "/status");

    // Connection URLs and tokens are secrets, listed for scrubbing.
    let secrets: Vec<&str> = config.secrets().iter().map(|s| s.expose()).collect();
    assert!(secrets.contains(&"postgres://u:pw@127.0.0.1/db"));
    assert!(secrets.contains(&"a-long-enough-provider-token-1234"));
}

#[test]
fn bad_alerting_config_is_reported_by_file_line_and_key() {
    let text = r#"
[[monitors]]
name = "db"
kind = "postgres"
url = "postgres://u:pw@127.0.0.1/db"

[[notifiers]]
name = "chat"
kind = "slack"
url = "https://hooks.slack.example/services/T0/B0/x"

[[alerts.routes]]
notifiers = ["nobody"]

[[maintenance]]
name = "upgrade"
starts = "tomorrow"
ends = "2026-12-01T03:00:00Z"
"#;
    let problems = load(text).unwrap_err();
    let find = |path: &str| {
        problems
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("no problem at {path}: {problems:?}"))
    };
    let db = find("monitors[0].url");
    assert!(db.message.contains("password"), "{}", db.message);
    assert_eq!(db.line, Some(line_of(text, "postgres://")));
    let slack = find("notifiers[0].url");
    assert!(slack.message.contains("secret"));
    assert_eq!(slack.line, Some(line_of(text, "hooks.slack")));
    assert!(
        find("alerts.routes[0].notifiers")
            .message
            .contains("nobody")
    );
    assert!(find("maintenance[0].starts").message.contains("RFC 3339"));
    // Values from the file are never repeated in messages.
    assert!(problems.iter().all(|p| !p.message.contains("pw@")));
}

#[test]
fn the_callers_checks_are_located_like_any_other_problem() {
    let text = r#"
[[monitors]]
upstream = "app"
conditions = ["[STATUS] == 200", "[NOPE] == 1"]
"#;
    let check: ExtraCheck<'_> = &|config: &ValidatedConfig| {
        assert_eq!(config.monitors.len(), 1);
        vec![(
            "monitors[0].conditions[1]".into(),
            "unsupported placeholder".into(),
        )]
    };
    let problems = load_with(text, check).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "monitors[0].conditions[1]");
    assert_eq!(problems[0].line, Some(line_of(text, "conditions")));
}

#[test]
fn credentials_never_travel_in_clear_text_off_the_machine() {
    let text = r#"
[[notifiers]]
name = "pager"
kind = "sms"
base_url = "http://sms.example.com"
account_sid = "AC1"
auth_token = "${SMS_TOKEN}"
from = "+1"
to = ["+2"]

[[notifiers]]
name = "mail"
kind = "email"
smtp_host = "mail.example.com"
smtp_security = "none"
smtp_username = "bulwark"
smtp_password = "${SMS_TOKEN}"
from = "a@example.com"
to = ["b@example.com"]
"#;
    let problems = load(text).unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert!(paths.contains(&"notifiers[0].base_url"), "{problems:?}");
    assert!(
        paths.contains(&"notifiers[1].smtp_security"),
        "{problems:?}"
    );
    // On loopback (a local relay or a test receiver) plain is fine.
    let local = text
        .replace("http://sms.example.com", "http://127.0.0.1:8025")
        .replace("mail.example.com", "localhost");
    assert!(load(&local).is_ok(), "{:?}", load(&local).err());
}

#[test]
fn a_private_relay_ca_is_read_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("relay-ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let not_pem = dir.path().join("notes.txt");
    std::fs::write(&not_pem, "hello").unwrap();
    let email = |file: &std::path::Path| {
        format!(
            r#"
[[notifiers]]
name = "mail"
kind = "email"
smtp_host = "relay.internal"
smtp_ca_file = "{}"
from = "a@example.com"
to = ["b@example.com"]
"#,
            file.display()
        )
    };
    let config = load(&email(&ca)).unwrap();
    match &config.notifiers[0].kind {
        NotifierKind::Email { ca_pem, .. } => {
            assert!(
                ca_pem
                    .as_ref()
                    .unwrap()
                    .starts_with(b"-----BEGIN CERTIFICATE-----")
            );
        }
        other => panic!("{other:?}"),
    }
    for bad in [not_pem, dir.path().join("missing.pem")] {
        let problems = load(&email(&bad)).unwrap_err();
        assert_eq!(
            problems[0].path, "notifiers[0].smtp_ca_file",
            "{problems:?}"
        );
    }
}

#[test]
fn monitor_credentials_come_from_secrets() {
    let literal = r#"
[[monitors]]
name = "api"
url = "https://api.example.com/health"
headers = { Authorization = "Bearer abc", Accept = "application/json" }
"#;
    let problems = load(literal).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "monitors[0].headers.Authorization");
    assert!(!problems[0].message.contains("abc"));

    let from_env = literal.replace("\"Bearer abc\"", "\"${SMS_TOKEN}\"");
    let config = load(&from_env).unwrap();
    let secrets: Vec<&str> = config.secrets().iter().map(|s| s.expose()).collect();
    assert!(secrets.contains(&"a-long-enough-provider-token-1234"));
    match &config.monitors[0].kind {
        MonitorKind::Http { headers, .. } => {
            let accept = headers.iter().find(|(k, _)| k == "Accept").unwrap();
            assert_eq!(accept.1.expose(), "application/json");
        }
        other => panic!("{other:?}"),
    }
}
