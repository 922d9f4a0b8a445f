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

use super::now_ms;

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
    let configured: Vec<String> = notifiers
        .iter()
        .map(|n| bulwark_notify::outbox::destination(n.name()))
        .collect();
    let sweep_store = store.clone();
    tokio::spawn(async move {
        if let Err(error) = dead_letter_orphans(&sweep_store, &configured, now_ms()).await {
            tracing::warn!(%error, "Cannot look for notifications of removed notifiers.");
        }
    });
    let handle = tokio::spawn(worker.run(cancel.clone()));
    tracing::info!(notifiers = notifiers.len(), "Notification worker started.");
    Ok(Some((Arc::new(outbox), handle)))
}

/// Dead-letters the notifications of notifiers no longer configured (no worker claims
/// them), with the reason, so that they show in `bulwark dlq list` instead of waiting
/// forever. Notifiers change only on restart, so once at start is enough.
pub async fn dead_letter_orphans(
    store: &SqliteStore,
    configured: &[String],
    now: i64,
) -> Result<u64, bulwark_queue::store::StoreError> {
    use bulwark_queue::store::Leases;
    let mut dead = 0;
    for destination in store.undelivered_destinations().await? {
        let Some(name) = bulwark_notify::outbox::notifier_of(&destination) else {
            continue;
        };
        if configured.contains(&destination) {
            continue;
        }
        let reason = format!("no notifier named {name:?} is configured");
        let list = [destination.clone()];
        loop {
            let claimed = store.claim(&list, 64, 60_000, now).await?;
            if claimed.is_empty() {
                break;
            }
            for message in claimed {
                let _ = store
                    .dead_letter(message.lease, reason.clone(), now)
                    .await?;
                dead += 1;
            }
        }
    }
    if dead > 0 {
        tracing::warn!(
            dead,
            "Notifications of removed notifiers were dead-lettered."
        );
    }
    Ok(dead)
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

#[cfg(test)]
mod tests {
    use bulwark_queue::store::{DeadLetters, MessageState, NewMessage, Persist};

    use super::*;

    fn message(destination: &str) -> NewMessage {
        NewMessage {
            destination: destination.into(),
            body: "{}".into(),
            headers: vec![],
            event_id: None,
            ordering_key: Some("g".into()),
            next_attempt_at_ms: 1_000,
        }
    }

    #[tokio::test]
    async fn notifications_of_removed_notifiers_are_dead_lettered_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let gone = store
            .persist(message("notify:old-pager"), 0, 1_000)
            .await
            .unwrap()
            .id();
        let kept = store
            .persist(message("notify:hook"), 0, 1_000)
            .await
            .unwrap()
            .id();
        let webhook = store
            .persist(message("orders"), 0, 1_000)
            .await
            .unwrap()
            .id();

        let dead = dead_letter_orphans(&store, &["notify:hook".to_string()], 2_000)
            .await
            .unwrap();
        assert_eq!(dead, 1);
        let gone = store.get(gone).await.unwrap().unwrap();
        assert_eq!(gone.state, MessageState::Dead);
        assert_eq!(
            gone.last_error.as_deref(),
            Some("no notifier named \"old-pager\" is configured")
        );
        // A configured notifier's and a webhook's messages are left alone.
        for id in [kept, webhook] {
            assert_eq!(
                store.get(id).await.unwrap().unwrap().state,
                MessageState::Pending
            );
        }
    }
}
