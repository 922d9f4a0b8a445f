//! Email through a real SMTP server: an aiosmtpd sink that writes every mail it receives
//! into a Maildir. The test command provides it:
//!
//! - `BULWARK_TEST_SMTP_ADDR`: `host:port` of the sink;
//! - `BULWARK_TEST_SMTP_MAILDIR`: the Maildir it writes into (new mails in `new/`).
//!
//! `python3 -m aiosmtpd -n -l 127.0.0.1:2525 -c aiosmtpd.handlers.Mailbox /tmp/maildir`
//! starts one (the folder must not exist yet, or must already hold `cur`, `new`, `tmp`).
//! The test fails, not skips, when the variables are missing.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use bulwark_notify::{AlertStatus, EmailSpec, NotifierKind, NotifierSpec, SmtpSecurity};
use common::{Harness, fast_options, notification, now_ms};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with an SMTP sink (see this file's doc)")
    })
}

/// Every file in the Maildir's `new/` folder.
fn maildir_files(maildir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(maildir.join("new")) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// The headers (unfolded) and body of one MIME entity.
fn split_entity(entity: &str) -> (Vec<(String, String)>, String) {
    let entity = entity.replace("\r\n", "\n");
    let (head, body) = entity.split_once("\n\n").unwrap_or((&entity, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    (headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Decodes a part's body by its Content-Transfer-Encoding (RFC 2045).
fn decode(headers: &[(String, String)], body: &str) -> String {
    match header(headers, "content-transfer-encoding")
        .unwrap_or("7bit")
        .to_ascii_lowercase()
        .as_str()
    {
        "quoted-printable" => {
            let mut out = Vec::new();
            let bytes = body.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
                    b'=' if i + 2 < bytes.len() => {
                        let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                        out.push(u8::from_str_radix(hex, 16).unwrap());
                        i += 3;
                    }
                    b => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            String::from_utf8(out).unwrap()
        }
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap(),
            )
            .unwrap()
        }
        _ => body.to_string(),
    }
}

#[tokio::test]
async fn email_reaches_a_real_smtp_server_as_text_and_html() {
    let addr = env("BULWARK_TEST_SMTP_ADDR");
    let maildir = PathBuf::from(env("BULWARK_TEST_SMTP_MAILDIR"));
    let (host, port) = addr
        .rsplit_once(':')
        .expect("BULWARK_TEST_SMTP_ADDR is host:port");
    let alertname = format!("MailTest{}", now_ms());

    let spec = NotifierSpec {
        name: "mail".into(),
        kind: NotifierKind::Email(EmailSpec {
            host: host.into(),
            port: port.parse().unwrap(),
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: "bulwark <alerts@bulwark.example>".into(),
            ca_pem: None,
            to: vec!["ops@example.com".into(), "oncall@example.com".into()],
        }),
        fallback: false,
    };
    let mut h = Harness::new(vec![spec]);
    h.start_worker(fast_options());
    let n = notification(&alertname, "g-mail", AlertStatus::Firing);
    h.outbox.enqueue("mail", &n, now_ms()).await.unwrap();
    h.wait_for("the SMTP server to accept", || h.outbox.stats().sent == 1)
        .await;

    // The sink writes the file before it answers 250, but look for a while anyway.
    let subject = format!("[FIRING:2] {alertname} (critical)");
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let mail = loop {
        let found = maildir_files(&maildir).into_iter().find_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            text.contains(&subject).then_some(text)
        });
        if let Some(mail) = found {
            break mail;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no mail with subject {subject:?} in {}",
            maildir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let (headers, body) = split_entity(&mail);
    assert_eq!(header(&headers, "subject"), Some(subject.as_str()));
    assert_eq!(
        header(&headers, "from"),
        Some("bulwark <alerts@bulwark.example>")
    );
    assert_eq!(
        header(&headers, "to"),
        Some("ops@example.com, oncall@example.com")
    );
    // aiosmtpd records the envelope too.
    assert_eq!(
        header(&headers, "x-mailfrom"),
        Some("alerts@bulwark.example")
    );
    let content_type = header(&headers, "content-type").unwrap();
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .unwrap()
        .trim_matches('"')
        .to_string();

    let parts: Vec<(Vec<(String, String)>, String)> = body
        .split(&format!("--{boundary}"))
        .skip(1)
        .filter(|p| !p.starts_with("--"))
        .map(|p| split_entity(p.trim_start_matches(['\r', '\n'])))
        .collect();
    assert_eq!(parts.len(), 2, "a text and an HTML part");
    let (text_headers, text_body) = &parts[0];
    let (html_headers, html_body) = &parts[1];
    assert!(
        header(text_headers, "content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        header(html_headers, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let text = decode(text_headers, text_body);
    let html = decode(html_headers, html_body);

    assert!(text.starts_with(&subject), "{text}");
    assert!(text.contains("Summary: Errors <b> & co"), "{text}");
    assert!(text.contains("  instance = bb"), "{text}");
    assert!(
        text.contains("See https://bulwark.example/status"),
        "{text}"
    );
    assert!(
        html.contains("<p><b>Summary:</b> Errors &lt;b&gt; &amp; co</p>"),
        "{html}"
    );
    assert!(html.contains("<li>instance = bb</li>"), "{html}");
    assert!(
        html.contains("<a href=\"https://bulwark.example/status\">"),
        "{html}"
    );
    h.stop().await;
}
