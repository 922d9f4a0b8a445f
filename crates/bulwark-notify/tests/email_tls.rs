//! Email over STARTTLS and implicit TLS to a real aiosmtpd (the same program the test
//! command runs as its plain sink, here started by the test with a certificate from a
//! throwaway CA). The notifier trusts that CA through `ca_pem`; without it the TLS
//! handshake must fail, so a passing test really went through TLS with verification.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bulwark_notify::{
    AlertStatus, EmailSpec, Notification, Notifier, NotifierKind, NotifierSpec, SmtpSecurity,
};
use common::{notification, now_ms};

/// A throwaway CA and a certificate for `localhost` signed by it, as PEM files in `dir`.
fn certificates(dir: &Path) -> Vec<u8> {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "bulwark test CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    ca_cert.pem().into_bytes()
}

/// aiosmtpd on a free port with `tls_args`, writing mail into `dir/maildir`; killed on drop.
struct Sink {
    child: Child,
    port: u16,
}

impl Sink {
    fn start(dir: &Path, tls_args: &[&str]) -> Sink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(tls_args)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("maildir"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (scripts/test.sh installs python3-aiosmtpd)");
        // Ready when it accepts connections; bounded.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Sink { child, port }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn notifier(port: u16, security: SmtpSecurity, ca_pem: Option<Vec<u8>>) -> Notifier {
    let spec = NotifierSpec {
        name: "mail".into(),
        kind: NotifierKind::Email(EmailSpec {
            host: "localhost".into(),
            port,
            security,
            username: None,
            password: None,
            from: "alerts@bulwark.example".into(),
            ca_pem,
            to: vec!["ops@example.com".into()],
        }),
        fallback: false,
    };
    Notifier::new(spec, Duration::from_secs(10)).unwrap()
}

fn mails(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("maildir").join("new"))
        .map(|entries| {
            entries
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

async fn send_over(tls_args: &[&str], security: SmtpSecurity) {
    let dir = tempfile::tempdir().unwrap();
    let ca = certificates(dir.path());
    let sink = Sink::start(dir.path(), tls_args);
    let alertname = format!("TlsMail{}", now_ms());
    let n: Notification = notification(&alertname, "g-tls", AlertStatus::Firing);

    // Without the CA the server's certificate is not trusted: nothing is sent.
    let untrusting = notifier(sink.port, security, None);
    assert!(untrusting.send(&n).await.is_err());
    assert!(mails(dir.path()).iter().all(|m| !m.contains(&alertname)));

    notifier(sink.port, security, Some(ca))
        .send(&n)
        .await
        .expect("sent over TLS");
    let got = mails(dir.path());
    assert_eq!(
        got.iter().filter(|m| m.contains(&alertname)).count(),
        1,
        "{got:?}"
    );
}

#[tokio::test]
async fn email_goes_over_starttls_to_a_verified_server() {
    send_over(
        &["--tlscert", "cert.pem", "--tlskey", "key.pem"],
        SmtpSecurity::StartTls,
    )
    .await;
}

#[tokio::test]
async fn email_goes_over_implicit_tls_to_a_verified_server() {
    send_over(
        &["--smtpscert", "cert.pem", "--smtpskey", "key.pem"],
        SmtpSecurity::Tls,
    )
    .await;
}
