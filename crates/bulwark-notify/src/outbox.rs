//! Putting notifications into the durable queue.
//!
//! Each notification for notifier `x` is stored as a message for destination
//! `notify:x` ([`destination`]; notifier names never contain `:`, so the prefix is
//! reserved), its body the version-4 JSON, its ordering key the group key: the
//! notifications of one group go out one at a time, in the order they were enqueued.
//!
//! **Supersede**: the outbox remembers, per (notifier, group), the latest message it
//! enqueued and its status. When the worker claims a firing message and the latest of
//! its group is a *different*, resolved one, that resolved message was enqueued after it,
//! so the firing one is acknowledged without being sent (counted as `superseded`). The
//! map lives in memory only: after a restart it is empty, so a firing and a resolved
//! notification already stored both go out, in order, unless a newer resolved one is
//! enqueued after the restart.
//!
//! **Fallback**: when the store refuses a notification, it is sent directly, best effort,
//! to every notifier marked `fallback` (once per group state, even when the alert engine
//! enqueues it for several notifiers), and the store's error goes back to the caller.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bulwark_queue::store::{MessageId, NewMessage, Persist, StoreError};
use bytes::Bytes;
use tokio::sync::Notify;

use crate::events::{Counters, NotifyStats};
use crate::model::{AlertStatus, Notification};
use crate::notifier::Notifier;
use crate::render;

/// The queue destination prefix reserved for notifications (`notify:`); the webhook
/// dispatcher leaves these destinations alone.
pub const DESTINATION_PREFIX: &str = bulwark_queue::dispatcher::NOTIFICATION_DESTINATION_PREFIX;

/// How long a notification sent through a fallback is not sent again to the same
/// fallback notifier (the alert engine enqueues one notification per routed notifier).
pub const FALLBACK_DEDUP_MS: i64 = 5 * 60 * 1000;

/// The queue destination of a notifier's notifications.
pub fn destination(notifier: &str) -> String {
    format!("{DESTINATION_PREFIX}{notifier}")
}

/// The notifier a queue destination belongs to, if it is a notification destination.
pub fn notifier_of(destination: &str) -> Option<&str> {
    destination.strip_prefix(DESTINATION_PREFIX)
}

/// Why a notification could not be enqueued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// The store refused it; it was sent directly to `fallback_sent` fallback notifiers.
    #[error(
        "cannot store the notification for {notifier}; sent directly to {fallback_sent} fallback notifier(s)"
    )]
    Store {
        notifier: String,
        fallback_sent: usize,
        #[source]
        source: StoreError,
    },
    #[error("cannot encode the notification for {notifier}")]
    Encode {
        notifier: String,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Latest {
    id: MessageId,
    status: AlertStatus,
}

/// What the outbox and the worker share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// (notifier, group key) → the latest message enqueued for it.
    latest: Mutex<HashMap<(String, String), Latest>>,
    /// Poked on every enqueue; the worker waits on it.
    pub(crate) waker: Notify,
    pub(crate) counters: Counters,
}

impl Shared {
    fn record(&self, notifier: &str, group_key: &str, latest: Latest) {
        let mut map = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        map.insert((notifier.to_string(), group_key.to_string()), latest);
    }

    /// Whether message `id` (with `status`) was superseded by a newer resolved message.
    pub(crate) fn is_superseded(
        &self,
        notifier: &str,
        group_key: &str,
        id: MessageId,
        status: AlertStatus,
    ) -> bool {
        if status != AlertStatus::Firing {
            return false;
        }
        let map = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(notifier.to_string(), group_key.to_string()))
            .is_some_and(|latest| latest.status == AlertStatus::Resolved && latest.id != id)
    }

    /// Forgets the group once its latest message is settled: nothing older can still be
    /// pending (ordering keys deliver a group in order), so the map stays small.
    pub(crate) fn settled(&self, notifier: &str, group_key: &str, id: MessageId) {
        let mut map = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        let key = (notifier.to_string(), group_key.to_string());
        if map.get(&key).is_some_and(|latest| latest.id == id) {
            map.remove(&key);
        }
    }
}

/// Enqueues notifications; cheap to clone.
#[derive(Clone)]
pub struct Outbox<S> {
    store: S,
    pub(crate) shared: Arc<Shared>,
    fallbacks: Arc<Vec<Arc<Notifier>>>,
    /// Held across persist-then-record, so the map's "latest" is the store's latest.
    enqueue_lock: Arc<tokio::sync::Mutex<()>>,
    /// (fallback notifier, what was sent) → when, for [`FALLBACK_DEDUP_MS`].
    fallback_sent: Arc<Mutex<HashMap<(String, String), i64>>>,
    /// SMS notifiers' recipients: one message per recipient, so that a failing number
    /// is retried alone instead of texting everyone again on each retry.
    recipients: Arc<HashMap<String, Vec<String>>>,
}

/// The stored header naming the one recipient of an SMS notification message.
pub const RECIPIENT_HEADER: &str = "x-bulwark-recipient";

impl<S: Persist> Outbox<S> {
    /// `notifiers`: every configured notifier; those marked `fallback` are used when the
    /// store refuses a notification.
    pub fn new(store: S, notifiers: &[Arc<Notifier>]) -> Self {
        let fallbacks = notifiers
            .iter()
            .filter(|n| n.spec().fallback)
            .cloned()
            .collect();
        let recipients = notifiers
            .iter()
            .filter_map(|n| match &n.spec().kind {
                crate::NotifierKind::Sms(sms) => Some((n.name().to_string(), sms.to.clone())),
                _ => None,
            })
            .collect();
        Self {
            store,
            shared: Arc::new(Shared::default()),
            recipients: Arc::new(recipients),
            fallbacks: Arc::new(fallbacks),
            enqueue_lock: Arc::new(tokio::sync::Mutex::new(())),
            fallback_sent: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Counts since start (shared with the worker built from this outbox).
    pub fn stats(&self) -> NotifyStats {
        self.shared.counters.snapshot()
    }

    /// Stores `notification` for `notifier` and wakes the worker. Returns after the
    /// commit. On a store error, sends it directly to the fallback notifiers first.
    pub async fn enqueue(
        &self,
        notifier: &str,
        notification: &Notification,
        now_ms: i64,
    ) -> Result<MessageId, EnqueueError> {
        let body = render::webhook_body(notification).map_err(|source| EnqueueError::Encode {
            notifier: notifier.to_string(),
            source,
        })?;
        // One message, or one per SMS recipient (ordered per group and recipient).
        let recipients: Vec<Option<&String>> = match self.recipients.get(notifier) {
            Some(list) if !list.is_empty() => list.iter().map(Some).collect(),
            _ => vec![None],
        };
        let messages: Vec<NewMessage> = recipients
            .into_iter()
            .map(|recipient| {
                let mut headers = vec![("content-type".into(), b"application/json".to_vec())];
                let mut ordering_key = notification.group_key.clone();
                if let Some(to) = recipient {
                    headers.push((RECIPIENT_HEADER.into(), to.as_bytes().to_vec()));
                    ordering_key = format!("{ordering_key}|{to}");
                }
                NewMessage {
                    destination: destination(notifier),
                    body: Bytes::from(body.clone()),
                    headers,
                    event_id: None,
                    ordering_key: Some(ordering_key),
                    next_attempt_at_ms: now_ms,
                }
            })
            .collect();
        let persisted = {
            let _order = self.enqueue_lock.lock().await;
            let mut last = None;
            for message in messages {
                match self.store.persist(message, 0, now_ms).await {
                    Ok(persisted) => last = Some(Ok(persisted)),
                    Err(error) => {
                        last = Some(Err(error));
                        break;
                    }
                }
            }
            let persisted = last.unwrap_or(Err(StoreError::Closed));
            if let Ok(persisted) = &persisted {
                self.shared.record(
                    notifier,
                    &notification.group_key,
                    Latest {
                        id: persisted.id(),
                        status: notification.status,
                    },
                );
            }
            persisted
        };
        match persisted {
            Ok(persisted) => {
                self.shared.waker.notify_one();
                Ok(persisted.id())
            }
            Err(source) => {
                let fallback_sent = self.send_to_fallbacks(notification, now_ms).await;
                Err(EnqueueError::Store {
                    notifier: notifier.to_string(),
                    fallback_sent,
                    source,
                })
            }
        }
    }

    /// Sends directly to each fallback notifier that did not get this very group state
    /// within [`FALLBACK_DEDUP_MS`]; returns how many took it.
    async fn send_to_fallbacks(&self, notification: &Notification, now_ms: i64) -> usize {
        let mut delivered = 0;
        for fallback in self.fallbacks.iter() {
            let key = (fallback.name().to_string(), fallback_key(notification));
            {
                let mut sent = self.fallback_sent.lock().unwrap_or_else(|e| e.into_inner());
                sent.retain(|_, at| now_ms - *at < FALLBACK_DEDUP_MS);
                if sent.contains_key(&key) {
                    continue;
                }
                sent.insert(key, now_ms);
            }
            let mut direct = notification.clone();
            direct.receiver = fallback.name().to_string();
            match fallback.send(&direct).await {
                Ok(()) => {
                    delivered += 1;
                    self.shared.counters.fallback(fallback.name(), None);
                }
                Err(error) => {
                    self.shared
                        .counters
                        .fallback(fallback.name(), Some(&error.to_string()));
                    // Let the next enqueue of the same notification try this one again.
                    let mut sent = self.fallback_sent.lock().unwrap_or_else(|e| e.into_inner());
                    sent.remove(&(fallback.name().to_string(), fallback_key(notification)));
                }
            }
        }
        delivered
    }
}

/// What makes two notifications "the same" for the fallback: the group, its status, and
/// each alert's fingerprint and status.
fn fallback_key(n: &Notification) -> String {
    let mut key = format!("{}|{:?}", n.group_key, n.status);
    for alert in &n.alerts {
        key.push_str(&format!("|{}:{:?}", alert.fingerprint, alert.status));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_round_trip() {
        assert_eq!(destination("ops"), "notify:ops");
        assert_eq!(notifier_of("notify:ops"), Some("ops"));
        assert_eq!(notifier_of("app"), None);
    }

    #[test]
    fn only_a_newer_resolved_message_supersedes_a_firing_one() {
        let shared = Shared::default();
        let firing = MessageId::new(1_000);
        let resolved = MessageId::new(2_000);
        assert!(!shared.is_superseded("n", "g", firing, AlertStatus::Firing));
        shared.record(
            "n",
            "g",
            Latest {
                id: firing,
                status: AlertStatus::Firing,
            },
        );
        assert!(!shared.is_superseded("n", "g", firing, AlertStatus::Firing));
        shared.record(
            "n",
            "g",
            Latest {
                id: resolved,
                status: AlertStatus::Resolved,
            },
        );
        assert!(shared.is_superseded("n", "g", firing, AlertStatus::Firing));
        assert!(!shared.is_superseded("n", "g", resolved, AlertStatus::Resolved));
        // Other notifiers and groups are not affected.
        assert!(!shared.is_superseded("other", "g", firing, AlertStatus::Firing));
        assert!(!shared.is_superseded("n", "other", firing, AlertStatus::Firing));
        // Settling an older message keeps the entry; settling the latest forgets it.
        shared.settled("n", "g", firing);
        assert!(shared.is_superseded("n", "g", firing, AlertStatus::Firing));
        shared.settled("n", "g", resolved);
        assert!(!shared.is_superseded("n", "g", firing, AlertStatus::Firing));
    }
}
