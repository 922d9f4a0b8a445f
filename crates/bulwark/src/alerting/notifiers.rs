//! The configured notifiers, their outbox (into the message store) and the worker that
//! delivers what the outbox stored.

use std::sync::Arc;

use anyhow::Context;
use bulwark_config::ValidatedConfig;
use bulwark_config::notifiers::{NotifierKind as Kind, SmtpSecurity as Security};
use bulwark_events::Bus;
use bulwark_notify::notifier::DEFAULT_TIMEOUT;
use bulwark_notify::{
    EmailSpec, NotificationWorker, Notifier, NotifierKind, NotifierSpec, Outbox, SlackSpec,
    SmsSpec, SmtpSecurity, WebhookSpec, WorkerOptions,
};
use bulwark_queue::store::SqliteStore;
use tokio_util::sync::CancellationToken;

pub type SharedOutbox = Arc<Outbox<SqliteStore>>;

/// Builds the notifiers, and starts their worker (its handle ends after the sends in
/// flight once `cancel` fires); `None` without notifiers.
pub fn start(
    config: &ValidatedConfig,
    store: &SqliteStore,
    bus: &Bus,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<(SharedOutbox, tokio::task::JoinHandle<()>)>> {
    if config.notifiers.is_empty() {
        return Ok(None);
    }
    let names: Vec<&str> = config.notifiers.iter().map(|n| n.name.as_str()).collect();
    bulwark_notify::events::describe(&names);
    let mut notifiers = Vec::new();
    for notifier in &config.notifiers {
        let spec = NotifierSpec {
            name: notifier.name.clone(),
            kind: kind(&notifier.kind)
                .with_context(|| format!("notifier {}: invalid settings", notifier.name))?,
            fallback: notifier.fallback,
        };
        let built = Notifier::new(spec, DEFAULT_TIMEOUT)
            .with_context(|| format!("cannot set up notifier {}", notifier.name))?;
        notifiers.push(Arc::new(built));
    }
    let outbox = Outbox::new(store.clone(), &notifiers);
    let options = WorkerOptions {
        // A notification that could not go out before the group would be sent again
        // is stale: the repeat sends a fresh one.
        expiry: config.alerts.repeat_interval,
        ..WorkerOptions::default()
    };
    let worker = NotificationWorker::new(
        store.clone(),
        &notifiers,
        &outbox,
        options,
        Some(bus.clone()),
    );
    let handle = tokio::spawn(worker.run(cancel.clone()));
    tracing::info!(notifiers = notifiers.len(), "Notification worker started.");
    Ok(Some((Arc::new(outbox), handle)))
}

fn kind(kind: &Kind) -> anyhow::Result<NotifierKind> {
    Ok(match kind {
        Kind::Webhook { url } => NotifierKind::Webhook(WebhookSpec {
            url: url.expose().parse().context("url is not a URL")?,
            headers: Vec::new(),
        }),
        Kind::Slack { url } => NotifierKind::Slack(SlackSpec {
            webhook_url: url.clone(),
        }),
        Kind::Email {
            host,
            port,
            security,
            username,
            password,
            ca_pem,
            from,
            to,
        } => NotifierKind::Email(EmailSpec {
            host: host.clone(),
            port: *port,
            security: match security {
                Security::None => SmtpSecurity::None,
                Security::Starttls => SmtpSecurity::StartTls,
                Security::Tls => SmtpSecurity::Tls,
            },
            username: username.clone().map(bulwark_config::Secret::new),
            password: password.clone(),
            from: from.clone(),
            ca_pem: ca_pem.clone(),
            to: to.clone(),
        }),
        Kind::Sms {
            base_url,
            account_sid,
            auth_token,
            from,
            to,
        } => NotifierKind::Sms(SmsSpec {
            base_url: base_url.parse().context("base_url is not a URL")?,
            account_sid: account_sid.clone(),
            auth_token: auth_token.clone(),
            from: from.clone(),
            to: to.clone(),
        }),
    })
}
