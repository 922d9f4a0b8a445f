//! Alert notifications.
//!
//! [`Notification`] is one group of alerts for one notifier, shaped like Alertmanager's
//! version-4 webhook payload, so that existing receivers work unchanged. The alert engine
//! (`bulwark-alerts`) builds them; this crate stores them in the durable queue
//! ([`Outbox`]) and delivers them ([`NotificationWorker`]) with the configured
//! [`Notifier`]s (webhook, Slack, email, SMS).

pub mod events;
pub mod model;
pub mod notifier;
pub mod outbox;
pub mod render;
pub mod schedule;
pub mod worker;

pub use events::NotifyStats;
pub use model::{AlertStatus, Notification, NotifiedAlert};
pub use notifier::{
    BuildError, EmailSpec, Notifier, NotifierKind, NotifierSpec, SendError, SlackSpec, SmsSpec,
    SmtpSecurity, WebhookSpec,
};
pub use outbox::{EnqueueError, Outbox};
pub use schedule::{NotifySchedule, next_delay};
pub use worker::{NotificationWorker, WorkerOptions};
