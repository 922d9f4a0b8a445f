//! Everything a request needs, built once per config and swapped atomically on reload.
//! Requests in flight keep the state they started with.

use std::sync::Arc;

use arc_swap::ArcSwap;
use bulwark_auth::RoleRequirement;
use bulwark_config::ValidatedConfig;
use bulwark_config::listen::EdgeTimeouts;
use bulwark_config::routes::{Action, Route};
use bulwark_events::Bus;
use ipnet::IpNet;

use bulwark_config::routes::HostMatch;
use bulwark_config::webhooks::{Webhook, WebhookScheme};
use bulwark_queue::store::SqliteStore;
use bulwark_signatures::{Scheme, Slack, Standard, Stripe, TokenScheme, Twilio};
use tokio::sync::Notify;

use crate::access_log::AccessLogSink;
use crate::events::{RouteMetrics, WebhookMetrics};
use crate::inbox::Inbox;
use crate::policy::RoutePolicy;
use crate::policy::authn::Authenticators;
use crate::policy::limits::{CompiledLimit, LimitSetupError, Limiters};
use crate::policy::request::RequestPolicy;
use crate::router::Matcher;
use crate::upstream::UpstreamPool;

pub type SharedState = Arc<ArcSwap<ProxyState>>;

/// What inbox routes need from the queue: the store, and the dispatcher's wake-up.
#[derive(Clone)]
pub struct QueueHandle {
    pub store: SqliteStore,
    pub waker: Arc<Notify>,
}

fn inbox_for(webhook: &Webhook, queue: &QueueHandle, read_timeout: std::time::Duration) -> Inbox {
    let scheme = match &webhook.scheme {
        WebhookScheme::Stripe => Scheme::Stripe(Stripe::default()),
        WebhookScheme::Github => Scheme::Github,
        WebhookScheme::Slack => Scheme::Slack(Slack::default()),
        WebhookScheme::Standard => Scheme::Standard(Standard::default()),
        WebhookScheme::Shopify => Scheme::Shopify,
        WebhookScheme::Twilio { .. } => Scheme::Twilio(Twilio::default()),
        WebhookScheme::Hmac(scheme) => Scheme::Hmac(scheme.clone()),
        WebhookScheme::Token { header, prefix } => Scheme::Token(
            TokenScheme::new(header, prefix.as_deref())
                .expect("validation checked the token header name"),
        ),
    };
    let public_url = match &webhook.scheme {
        WebhookScheme::Twilio { public_url } => Some(public_url.clone()),
        _ => None,
    };
    Inbox {
        read_timeout,
        name: webhook.name.clone(),
        scheme,
        public_url,
        event_id: webhook.event_id.clone(),
        ordering_key: webhook.ordering_key.clone(),
        secrets: webhook
            .secrets
            .iter()
            .map(|s| s.expose().as_bytes().to_vec())
            .collect(),
        max_body_bytes: webhook.max_body_bytes,
        dedup_window_ms: webhook.dedup_window.as_millis() as i64,
        store: queue.store.clone(),
        waker: queue.waker.clone(),
        metrics: WebhookMetrics::new(&webhook.name),
    }
}

pub enum RouteAction {
    /// Verify, store, acknowledge; the dispatcher delivers later.
    Inbox(Arc<Inbox>),
    Proxy {
        upstream: Arc<UpstreamPool>,
        /// Removed from the path before forwarding.
        strip_prefix: Option<String>,
    },
}

pub struct CompiledRoute {
    pub matcher: Matcher,
    /// `None` when the route has no policy (nothing to check before the action).
    pub policy: Option<RoutePolicy>,
    /// Request checks and response headers; `None` on webhook inbox routes.
    pub request: Option<RequestPolicy>,
    pub action: RouteAction,
    pub metrics: Arc<RouteMetrics>,
}

/// What route policies need beyond the config: the authenticators and the limiter
/// backends, built once at start and kept across reloads.
pub struct Policies {
    pub authenticators: Authenticators,
    pub limiters: Arc<Limiters>,
}

pub struct ProxyState {
    pub routes: Vec<CompiledRoute>,
    /// Metrics and log label for requests no route matched.
    pub unmatched: Arc<RouteMetrics>,
    pub upstreams: Vec<Arc<UpstreamPool>>,
    pub trusted_proxies: Vec<IpNet>,
    pub timeouts: EdgeTimeouts,
    pub max_request_head_bytes: usize,
    /// Set when `log.access_log` is on.
    pub access_log: Option<Arc<dyn AccessLogSink>>,
    pub bus: Bus,
    pub limiters: Arc<Limiters>,
    /// Pages bulwark serves itself (the status page), set by the binary after `build`.
    pub pages: Option<Arc<dyn crate::pages::PublicPages>>,
}

impl ProxyState {
    /// Upstream pools (connections, passive health) start fresh with each config.
    pub fn build(
        config: &ValidatedConfig,
        bus: Bus,
        access_log: Arc<dyn AccessLogSink>,
        queue: Option<&QueueHandle>,
        policies: &Policies,
    ) -> Result<Self, LimitSetupError> {
        let upstreams: Vec<Arc<UpstreamPool>> = config
            .upstreams
            .iter()
            .map(|u| Arc::new(UpstreamPool::new(u)))
            .collect();
        let routes = config
            .routes
            .iter()
            .map(|route| -> Result<CompiledRoute, LimitSetupError> {
                let action = match &route.action {
                    Action::Proxy {
                        upstream,
                        strip_prefix,
                    } => RouteAction::Proxy {
                        upstream: upstreams
                            .iter()
                            .find(|u| &u.name == upstream)
                            .expect("validation checked that every route's upstream exists")
                            .clone(),
                        strip_prefix: (*strip_prefix && route.path_prefix != "/")
                            .then(|| route.path_prefix.trim_end_matches('/').to_string()),
                    },
                };
                Ok(CompiledRoute {
                    matcher: Matcher {
                        host: route.host.clone(),
                        path_prefix: route.path_prefix.clone(),
                        exact: false,
                        methods: route.methods.clone(),
                    },
                    policy: compile_policy(route, policies)?,
                    request: Some(RequestPolicy::new(route)),
                    action,
                    metrics: Arc::new(RouteMetrics::new(&route.name)),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Webhook endpoints come first: an exact POST path is never meant for the app.
        let mut routes: Vec<CompiledRoute> = match queue {
            Some(queue) => config
                .webhooks
                .iter()
                .map(|webhook| -> Result<CompiledRoute, LimitSetupError> {
                    let route = format!("webhook.{}", webhook.name);
                    Ok(CompiledRoute {
                        matcher: Matcher {
                            host: HostMatch::Any,
                            path_prefix: webhook.path.clone(),
                            exact: true,
                            methods: vec![http::Method::POST],
                        },
                        policy: webhook_policy(&route, webhook, policies)?,
                        request: None,
                        action: RouteAction::Inbox(Arc::new(inbox_for(
                            webhook,
                            queue,
                            config.timeouts.request_head,
                        ))),
                        metrics: Arc::new(RouteMetrics::new(&route)),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        }
        .into_iter()
        .chain(routes)
        .collect();
        routes.shrink_to_fit();
        Ok(Self {
            routes,
            unmatched: Arc::new(RouteMetrics::new("_unmatched")),
            upstreams,
            trusted_proxies: config.proxy.trusted_proxies.clone(),
            timeouts: config.timeouts.clone(),
            max_request_head_bytes: config.proxy.max_request_head_bytes,
            access_log: config.log.access_log.then_some(access_log),
            bus,
            limiters: Arc::clone(&policies.limiters),
            pages: None,
        })
    }
}

/// An inbox route's limits (keyed before authentication: a webhook's caller is known
/// only by its signature, which the inbox checks), or `None` without limits.
fn webhook_policy(
    route: &str,
    webhook: &Webhook,
    policies: &Policies,
) -> Result<Option<RoutePolicy>, LimitSetupError> {
    if webhook.limits.is_empty() {
        return Ok(None);
    }
    let before_auth = webhook
        .limits
        .iter()
        .map(|limit| CompiledLimit::compile(route, limit, policies.limiters.instances))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(RoutePolicy {
        route: route.to_string(),
        before_auth,
        auth: Some(None),
        roles: Vec::new(),
        after_auth: Vec::new(),
    }))
}

/// A route's policy, or `None` when it has neither limits nor authentication.
fn compile_policy(
    route: &Route,
    policies: &Policies,
) -> Result<Option<RoutePolicy>, LimitSetupError> {
    let instances = policies.limiters.instances;
    let mut before_auth = Vec::new();
    let mut after_auth = Vec::new();
    for limit in &route.limits {
        let compiled = CompiledLimit::compile(&route.name, limit, instances)?;
        if limit.key.before_auth() {
            before_auth.push(compiled);
        } else {
            after_auth.push(compiled);
        }
    }
    let auth = match &route.auth {
        None => Some(None),
        Some(name) => policies.authenticators.get(name).map(Some),
    };
    let mut roles = Vec::new();
    if !route.roles_any.is_empty() {
        roles.push(RoleRequirement::Any(route.roles_any.clone()));
    }
    if !route.roles_all.is_empty() {
        roles.push(RoleRequirement::All(route.roles_all.clone()));
    }
    let policy = RoutePolicy {
        route: route.name.clone(),
        before_auth,
        auth,
        roles,
        after_auth,
    };
    Ok((!policy.is_empty()).then_some(policy))
}
