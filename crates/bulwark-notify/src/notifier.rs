//! The notifiers: where a [`Notification`] goes and how (webhook, Slack, email, SMS).
//!
//! A [`NotifierSpec`] is the validated configuration; [`Notifier::new`] builds the client
//! once (HTTP client or SMTP transport) and [`Notifier::send`] makes one delivery attempt.
//! Secrets (tokens, passwords, Slack webhook URLs, which embed one) are [`Secret`]s: they
//! print `***` and never appear in errors or logs.

use std::fmt;
use std::time::Duration;

use bulwark_config::secret::Secret;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use crate::model::Notification;
use crate::render;

/// The default Twilio-compatible API.
pub const DEFAULT_SMS_BASE_URL: &str = "https://api.twilio.com";
/// How long one attempt may take, unless the spec says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One configured notifier.
#[derive(Clone, Debug)]
pub struct NotifierSpec {
    /// Unique; never contains `:` (the queue destination is `notify:<name>`).
    pub name: String,
    pub kind: NotifierKind,
    /// Also sent to directly, best effort, when the store cannot take a notification.
    pub fallback: bool,
}

/// Where and how notifications are sent.
#[derive(Clone, Debug)]
pub enum NotifierKind {
    Webhook(WebhookSpec),
    Slack(SlackSpec),
    Email(EmailSpec),
    Sms(SmsSpec),
}

impl NotifierKind {
    /// The kind's name in metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            NotifierKind::Webhook(_) => "webhook",
            NotifierKind::Slack(_) => "slack",
            NotifierKind::Email(_) => "email",
            NotifierKind::Sms(_) => "sms",
        }
    }
}

/// POSTs Alertmanager's version-4 JSON.
#[derive(Clone)]
pub struct WebhookSpec {
    pub url: reqwest::Url,
    /// Extra headers (an `Authorization` token, ...); values are secrets.
    pub headers: Vec<(String, Secret)>,
}

impl fmt::Debug for WebhookSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("WebhookSpec")
            .field("url", &redacted_url(&self.url))
            .field("headers", &names)
            .finish()
    }
}

/// A Slack incoming webhook. Its URL is the secret.
#[derive(Clone, Debug)]
pub struct SlackSpec {
    pub webhook_url: Secret,
}

/// Whether and how SMTP is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (a local relay only).
    None,
    /// Plain connection upgraded with STARTTLS, required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Email through an SMTP relay.
#[derive(Clone, Debug)]
pub struct EmailSpec {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<Secret>,
    pub password: Option<Secret>,
    /// `bulwark <alerts@example.com>` or a bare address.
    pub from: String,
    /// PEM certificates trusted besides the system's roots (a private relay's CA).
    pub ca_pem: Option<Vec<u8>>,
    pub to: Vec<String>,
}

/// SMS through a Twilio-compatible API.
#[derive(Clone, Debug)]
pub struct SmsSpec {
    /// [`DEFAULT_SMS_BASE_URL`] normally; a test server in tests.
    pub base_url: reqwest::Url,
    pub account_sid: String,
    pub auth_token: Secret,
    pub from: String,
    pub to: Vec<String>,
}

/// Why a notifier could not be built. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("notifier {name}: cannot build the HTTP client")]
    HttpClient {
        name: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("notifier {name}: the Slack webhook URL is not a valid http(s) URL")]
    SlackUrl { name: String },
    #[error("notifier {name}: header {header} is not a valid HTTP header")]
    Header { name: String, header: String },
    #[error("notifier {name}: invalid email address {address}")]
    Address { name: String, address: String },
    #[error("notifier {name}: {what} is empty")]
    Empty { name: String, what: &'static str },
    #[error("notifier {name}: cannot set up TLS for {host}")]
    Tls {
        name: String,
        host: String,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    #[error("notifier {name}: the SMS base URL cannot take a path")]
    SmsUrl { name: String },
    #[error("notifier {name}: the name contains ':'")]
    Name { name: String },
}

/// Why one delivery attempt failed. Never carries a secret (nor a URL, which may).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The receiver answered, but not with 2xx.
    #[error("HTTP {status}")]
    Status { status: u16 },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Connection refused, TLS failure, ...: the error chain without the URL.
    #[error("{0}")]
    Transport(String),
    /// The SMTP server refused the message, or the connection failed.
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("cannot render the notification: {0}")]
    Render(String),
}

/// A ready-to-use notifier.
pub struct Notifier {
    spec: NotifierSpec,
    timeout: Duration,
    transport: Transport,
}

enum Transport {
    Http {
        client: reqwest::Client,
        url: reqwest::Url,
        headers: HeaderMap,
    },
    Smtp {
        mailer: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        to: Vec<Mailbox>,
    },
    Sms {
        client: reqwest::Client,
        url: reqwest::Url,
    },
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("spec", &self.spec)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Builds the notifier; `timeout` bounds each attempt (connection included).
    pub fn new(spec: NotifierSpec, timeout: Duration) -> Result<Self, BuildError> {
        let name = spec.name.clone();
        if name.contains(':') {
            return Err(BuildError::Name { name });
        }
        let http_client = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|source| BuildError::HttpClient {
                    name: name.clone(),
                    source,
                })
        };
        let transport = match &spec.kind {
            NotifierKind::Webhook(webhook) => {
                let mut headers = HeaderMap::new();
                for (header, value) in &webhook.headers {
                    let bad = || BuildError::Header {
                        name: name.clone(),
                        header: header.clone(),
                    };
                    let header_name =
                        HeaderName::from_bytes(header.as_bytes()).map_err(|_| bad())?;
                    let mut header_value =
                        HeaderValue::from_str(value.expose()).map_err(|_| bad())?;
                    header_value.set_sensitive(true);
                    headers.insert(header_name, header_value);
                }
                Transport::Http {
                    client: http_client()?,
                    url: webhook.url.clone(),
                    headers,
                }
            }
            NotifierKind::Slack(slack) => {
                let url = reqwest::Url::parse(slack.webhook_url.expose())
                    .ok()
                    .filter(|u| u.scheme() == "https" || u.scheme() == "http")
                    .ok_or_else(|| BuildError::SlackUrl { name: name.clone() })?;
                Transport::Http {
                    client: http_client()?,
                    url,
                    headers: HeaderMap::new(),
                }
            }
            NotifierKind::Email(email) => smtp_transport(&name, email, timeout)?,
            NotifierKind::Sms(sms) => {
                if sms.to.is_empty() {
                    return Err(BuildError::Empty {
                        name,
                        what: "the list of SMS recipients",
                    });
                }
                let mut url = sms.base_url.clone();
                // Segments, so that the account id is percent-encoded as one segment.
                url.path_segments_mut()
                    .map_err(|()| BuildError::SmsUrl { name: name.clone() })?
                    .pop_if_empty()
                    .extend(["2010-04-01", "Accounts", &sms.account_sid, "Messages.json"]);
                Transport::Sms {
                    client: http_client()?,
                    url,
                }
            }
        };
        Ok(Self {
            spec,
            timeout,
            transport,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn spec(&self) -> &NotifierSpec {
        &self.spec
    }

    /// The attempt timeout given to [`Notifier::new`].
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// One delivery attempt: `Ok` once the receiver took it (2xx, or SMTP accepted).
    pub async fn send(&self, n: &Notification) -> Result<(), SendError> {
        self.send_to(n, None).await
    }

    /// [`send`](Self::send), to one SMS recipient only when `recipient` is given (the
    /// outbox stores one message per recipient); other kinds ignore it.
    pub async fn send_to(
        &self,
        n: &Notification,
        recipient: Option<&str>,
    ) -> Result<(), SendError> {
        match &self.transport {
            Transport::Http {
                client,
                url,
                headers,
            } => {
                let body = match &self.spec.kind {
                    NotifierKind::Slack(_) => serde_json::to_vec(&render::slack_message(n)),
                    _ => render::webhook_body(n),
                }
                .map_err(|e| SendError::Render(e.to_string()))?;
                let request = client
                    .post(url.clone())
                    .headers(headers.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body);
                self.http(request).await
            }
            Transport::Sms { client, url } => {
                let NotifierKind::Sms(sms) = &self.spec.kind else {
                    return Err(SendError::Render("not an SMS notifier".into()));
                };
                let text = render::sms_body(n);
                // One request per recipient, as the API takes one `To`.
                let all: Vec<&str> = sms.to.iter().map(String::as_str).collect();
                let recipients = match recipient {
                    Some(one) => vec![one],
                    None => all,
                };
                for to in recipients {
                    let form = form_urlencoded::Serializer::new(String::new())
                        .append_pair("To", to)
                        .append_pair("From", &sms.from)
                        .append_pair("Body", &text)
                        .finish();
                    let request = client
                        .post(url.clone())
                        .basic_auth(&sms.account_sid, Some(sms.auth_token.expose()))
                        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(form);
                    self.http(request).await?;
                }
                Ok(())
            }
            Transport::Smtp { mailer, from, to } => {
                let message = email_message(n, from, to)?;
                mailer
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError::Smtp(error_chain(&e)))
            }
        }
    }

    async fn http(&self, request: reqwest::RequestBuilder) -> Result<(), SendError> {
        match request.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(SendError::Status {
                status: response.status().as_u16(),
            }),
            Err(e) if e.is_timeout() => Err(SendError::Timeout(self.timeout)),
            Err(e) => Err(SendError::Transport(error_chain(&e.without_url()))),
        }
    }
}

fn smtp_transport(
    name: &str,
    email: &EmailSpec,
    timeout: Duration,
) -> Result<Transport, BuildError> {
    let address = |a: &str| {
        a.parse::<Mailbox>().map_err(|_| BuildError::Address {
            name: name.to_string(),
            address: a.to_string(),
        })
    };
    let from = address(&email.from)?;
    let to = email
        .to
        .iter()
        .map(|a| address(a))
        .collect::<Result<Vec<_>, _>>()?;
    if to.is_empty() {
        return Err(BuildError::Empty {
            name: name.to_string(),
            what: "the list of email recipients",
        });
    }
    let tls = |host: &str| {
        let mut parameters = TlsParameters::builder(host.to_string());
        if let Some(pem) = &email.ca_pem {
            let certificate = Certificate::from_pem(pem).map_err(|source| BuildError::Tls {
                name: name.to_string(),
                host: host.to_string(),
                source,
            })?;
            parameters = parameters.add_root_certificate(certificate);
        }
        parameters.build_rustls().map_err(|source| BuildError::Tls {
            name: name.to_string(),
            host: host.to_string(),
            source,
        })
    };
    let tls = match email.security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::StartTls => Tls::Required(tls(&email.host)?),
        SmtpSecurity::Tls => Tls::Wrapper(tls(&email.host)?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(email.host.clone())
        .port(email.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let Some(password) = &email.password {
        let username = email
            .username
            .as_ref()
            .map_or(String::new(), |u| u.expose().to_string());
        builder = builder.credentials(Credentials::new(username, password.expose().to_string()));
    }
    Ok(Transport::Smtp {
        mailer: builder.build(),
        from,
        to,
    })
}

/// The email: subject, from, to, and a multipart/alternative body (text, then HTML).
pub fn email_message(
    n: &Notification,
    from: &Mailbox,
    to: &[Mailbox],
) -> Result<lettre::Message, SendError> {
    let mut builder = lettre::Message::builder()
        .from(from.clone())
        .subject(render::email_subject(n));
    for recipient in to {
        builder = builder.to(recipient.clone());
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            render::email_text(n),
            render::email_html(n),
        ))
        .map_err(|e| SendError::Render(e.to_string()))
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `scheme://host:port/…`: enough to recognise the receiver, without a path or query
/// that may carry a token.
fn redacted_url(url: &reqwest::Url) -> String {
    format!(
        "{}://{}{}/…",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let specs = [
            NotifierKind::Slack(SlackSpec {
                webhook_url: Secret::new("https://hooks.slack.com/services/T0/B0/SLACKSECRET"),
            }),
            NotifierKind::Webhook(WebhookSpec {
                url: "https://user:URLPASS@example.com/hook?token=QUERYSECRET"
                    .parse()
                    .unwrap(),
                headers: vec![("authorization".into(), Secret::new("Bearer HEADERSECRET"))],
            }),
            NotifierKind::Sms(SmsSpec {
                base_url: DEFAULT_SMS_BASE_URL.parse().unwrap(),
                account_sid: "AC123".into(),
                auth_token: Secret::new("SMSTOKEN"),
                from: "+15005550006".into(),
                to: vec!["+15005550001".into()],
            }),
            NotifierKind::Email(EmailSpec {
                host: "smtp.example.com".into(),
                port: 587,
                security: SmtpSecurity::StartTls,
                username: Some(Secret::new("USERSECRET")),
                password: Some(Secret::new("SMTPPASS")),
                from: "alerts@example.com".into(),
                ca_pem: None,
                to: vec!["ops@example.com".into()],
            }),
        ];
        for kind in specs {
            let spec = NotifierSpec {
                name: "n".into(),
                kind,
                fallback: false,
            };
            let notifier = Notifier::new(spec.clone(), DEFAULT_TIMEOUT).unwrap();
            let text = format!("{spec:?} {notifier:?}");
            for secret in [
                "SLACKSECRET",
                "URLPASS",
                "QUERYSECRET",
                "HEADERSECRET",
                "SMSTOKEN",
                "USERSECRET",
                "SMTPPASS",
            ] {
                assert!(!text.contains(secret), "{secret} leaked: {text}");
            }
        }
    }

    #[test]
    fn names_with_a_colon_are_refused() {
        let spec = NotifierSpec {
            name: "a:b".into(),
            kind: NotifierKind::Slack(SlackSpec {
                webhook_url: Secret::new("https://hooks.slack.com/services/x"),
            }),
            fallback: false,
        };
        assert!(matches!(
            Notifier::new(spec, DEFAULT_TIMEOUT),
            Err(BuildError::Name { .. })
        ));
    }

    #[test]
    fn a_bad_slack_url_is_refused_without_echoing_it() {
        let spec = NotifierSpec {
            name: "slack".into(),
            kind: NotifierKind::Slack(SlackSpec {
                webhook_url: Secret::new("not a url SECRETPART"),
            }),
            fallback: false,
        };
        let error = Notifier::new(spec, DEFAULT_TIMEOUT).unwrap_err();
        assert!(!error.to_string().contains("SECRETPART"));
    }

    #[test]
    fn sms_url_follows_the_twilio_path() {
        let spec = NotifierSpec {
            name: "sms".into(),
            kind: NotifierKind::Sms(SmsSpec {
                base_url: "http://127.0.0.1:9/prefix/".parse().unwrap(),
                account_sid: "AC123".into(),
                auth_token: Secret::new("t"),
                from: "+1".into(),
                to: vec!["+2".into()],
            }),
            fallback: false,
        };
        let notifier = Notifier::new(spec, DEFAULT_TIMEOUT).unwrap();
        let Transport::Sms { url, .. } = &notifier.transport else {
            panic!("not an SMS transport")
        };
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/2010-04-01/Accounts/AC123/Messages.json"
        );
    }
}
