//! Where alert notifications go (`[[notifiers]]`): an Alertmanager-compatible webhook,
//! Slack, email over SMTP, or SMS through a Twilio-compatible API. URLs that embed a
//! token (Slack's) and passwords are secrets.

use serde::Deserialize;

use crate::problems::Problems;
use crate::secret::{Secret, SecretKind, SecretRef};

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NotifierKindConfig {
    Webhook,
    Slack,
    Email,
    Sms,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain SMTP (a local relay or a test sink).
    None,
    /// STARTTLS on the submission port (587), the usual choice.
    #[default]
    Starttls,
    /// Implicit TLS (465).
    Tls,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierConfig {
    pub name: String,
    pub kind: NotifierKindConfig,
    /// Also sent to directly, best effort, when the store cannot take a notification.
    #[serde(default)]
    pub fallback: bool,
    /// Receives only CRITICAL alerts unless a route names it. Defaults to true for sms.
    pub critical_only: Option<bool>,
    /// webhook: the receiver's URL; slack: the incoming-webhook URL (a secret).
    pub url: Option<SecretRef>,
    // email
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub smtp_security: SmtpSecurity,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<SecretRef>,
    /// A PEM file of CA certificates trusted besides the system's (a private relay).
    pub smtp_ca_file: Option<String>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    // sms
    pub base_url: Option<String>,
    pub account_sid: Option<String>,
    pub auth_token: Option<SecretRef>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifierKind {
    Webhook {
        url: Secret,
    },
    Slack {
        url: Secret,
    },
    Email {
        host: String,
        port: u16,
        security: SmtpSecurity,
        username: Option<String>,
        password: Option<Secret>,
        /// PEM from `smtp_ca_file`.
        ca_pem: Option<Vec<u8>>,
        from: String,
        to: Vec<String>,
    },
    Sms {
        base_url: String,
        account_sid: String,
        auth_token: Secret,
        from: String,
        to: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notifier {
    pub name: String,
    pub kind: NotifierKind,
    pub fallback: bool,
    pub critical_only: bool,
}

fn is_http_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}

/// A host on this machine, where plain HTTP or SMTP crosses no network.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

/// `http://` to another machine would carry a credential in clear.
fn clear_text_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    !is_loopback_host(host)
}

impl NotifierConfig {
    pub(crate) fn validate(
        &self,
        path: &str,
        secrets: &mut crate::config::SecretResolver<'_>,
        problems: &mut Problems,
    ) -> Notifier {
        crate::names::check_name(&self.name, &format!("{path}.name"), problems);
        let kind = match self.kind {
            NotifierKindConfig::Webhook => NotifierKind::Webhook {
                url: notifier_url(&self.url, "webhook", path, secrets, problems),
            },
            NotifierKindConfig::Slack => {
                let url = notifier_url(&self.url, "slack", path, secrets, problems);
                if clear_text_url(url.expose()) {
                    problems.error(
                        format!("{path}.url"),
                        "must be https:// (the URL is the credential); http:// only to loopback",
                    );
                }
                NotifierKind::Slack { url }
            }
            NotifierKindConfig::Email => {
                let host = required(&self.smtp_host, "smtp_host", path, problems);
                let from = required(&self.from, "from", path, problems);
                let port = self.smtp_port.unwrap_or(match self.smtp_security {
                    SmtpSecurity::None => 25,
                    SmtpSecurity::Starttls => 587,
                    SmtpSecurity::Tls => 465,
                });
                if self.to.is_empty() {
                    problems.error(format!("{path}.to"), "an email notifier needs recipients");
                }
                for (i, address) in self.to.iter().enumerate() {
                    if !looks_like_address(address) {
                        problems.error(format!("{path}.to[{i}]"), "not an email address");
                    }
                }
                if !from.is_empty() && !looks_like_address(&from) {
                    problems.error(format!("{path}.from"), "not an email address");
                }
                let password = self.smtp_password.as_ref().map(|r| {
                    secrets.resolve(
                        r,
                        SecretKind::Issued,
                        &format!("{path}.smtp_password"),
                        problems,
                    )
                });
                if password.is_some()
                    && self.smtp_security == SmtpSecurity::None
                    && !is_loopback_host(&host)
                {
                    problems.error(
                        format!("{path}.smtp_security"),
                        "a password over plain SMTP would cross the network in clear: use starttls or tls",
                    );
                }
                if password.is_some() != self.smtp_username.is_some() {
                    problems.error(
                        format!("{path}.smtp_username"),
                        "give both smtp_username and smtp_password, or neither",
                    );
                }
                // Read and checked like an upstream's ca_file; kept as PEM for lettre.
                let ca_pem = self.smtp_ca_file.as_ref().and_then(|file| {
                    let file_path = secrets.base_dir.join(file);
                    crate::tls::read_certificates(
                        &file_path,
                        &format!("{path}.smtp_ca_file"),
                        problems,
                    )?;
                    std::fs::read(&file_path).ok()
                });
                NotifierKind::Email {
                    host,
                    port,
                    security: self.smtp_security,
                    username: self.smtp_username.clone(),
                    password,
                    ca_pem,
                    from,
                    to: self.to.clone(),
                }
            }
            NotifierKindConfig::Sms => {
                let base_url = self
                    .base_url
                    .clone()
                    .unwrap_or_else(|| "https://api.twilio.com".into());
                if !is_http_url(&base_url) {
                    problems.error(
                        format!("{path}.base_url"),
                        "must be an http:// or https:// URL",
                    );
                } else if clear_text_url(&base_url) {
                    problems.error(
                        format!("{path}.base_url"),
                        "must be https:// (the auth token goes in every request); http:// only to loopback",
                    );
                }
                let account_sid = required(&self.account_sid, "account_sid", path, problems);
                let from = required(&self.from, "from", path, problems);
                let auth_token = match &self.auth_token {
                    Some(r) => secrets.resolve(
                        r,
                        SecretKind::Issued,
                        &format!("{path}.auth_token"),
                        problems,
                    ),
                    None => {
                        problems.error(
                            format!("{path}.auth_token"),
                            "an sms notifier needs auth_token",
                        );
                        Secret::new("")
                    }
                };
                if self.to.is_empty() {
                    problems.error(format!("{path}.to"), "an sms notifier needs recipients");
                }
                NotifierKind::Sms {
                    base_url,
                    account_sid,
                    auth_token,
                    from,
                    to: self.to.clone(),
                }
            }
        };
        Notifier {
            name: self.name.clone(),
            critical_only: self
                .critical_only
                .unwrap_or(self.kind == NotifierKindConfig::Sms),
            fallback: self.fallback,
            kind,
        }
    }
}

fn notifier_url(
    url: &Option<SecretRef>,
    what: &str,
    path: &str,
    secrets: &mut crate::config::SecretResolver<'_>,
    problems: &mut Problems,
) -> Secret {
    let Some(reference) = url else {
        problems.error(
            format!("{path}.url"),
            format!("a {what} notifier needs a url"),
        );
        return Secret::new("");
    };
    // A webhook receiver's URL may be public, so a literal is fine there.
    let url = match reference {
        SecretRef::Env(text) if !(text.starts_with("${") && text.ends_with('}')) => {
            if what == "slack" {
                problems.error(
                    format!("{path}.url"),
                    "a Slack webhook URL is a secret: give it as \"${ENV_VAR}\" or { file = \"path\" }",
                );
            }
            Secret::new(text.clone())
        }
        other => secrets.resolve(other, SecretKind::Issued, &format!("{path}.url"), problems),
    };
    if !url.expose().is_empty() && !is_http_url(url.expose()) {
        problems.error(format!("{path}.url"), "must be an http:// or https:// URL");
    }
    url
}

fn required(value: &Option<String>, key: &str, path: &str, problems: &mut Problems) -> String {
    match value {
        Some(v) if !v.trim().is_empty() => v.clone(),
        _ => {
            problems.error(
                format!("{path}.{key}"),
                format!("this notifier needs {key}"),
            );
            String::new()
        }
    }
}

fn looks_like_address(text: &str) -> bool {
    let address = match (text.find('<'), text.rfind('>')) {
        (Some(start), Some(end)) if start < end => &text[start + 1..end],
        _ => text,
    };
    address
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !address.contains(char::is_whitespace)
}
