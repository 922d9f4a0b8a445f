//! Everything a request needs, built once per config and swapped atomically on reload.
//! Requests in flight keep the state they started with.

use std::sync::Arc;

use arc_swap::ArcSwap;
use bulwark_config::ValidatedConfig;
use bulwark_config::listen::EdgeTimeouts;
use bulwark_config::routes::Action;
use bulwark_events::Bus;
use ipnet::IpNet;

use crate::access_log::AccessLogSink;
use crate::events::RouteMetrics;
use crate::router::Matcher;
use crate::upstream::UpstreamPool;

pub type SharedState = Arc<ArcSwap<ProxyState>>;

pub enum RouteAction {
    Proxy {
        upstream: Arc<UpstreamPool>,
        /// Removed from the path before forwarding.
        strip_prefix: Option<String>,
    },
}

pub struct CompiledRoute {
    pub matcher: Matcher,
    pub action: RouteAction,
    pub metrics: Arc<RouteMetrics>,
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
}

impl ProxyState {
    /// Upstream pools (connections, passive health) start fresh with each config.
    pub fn build(config: &ValidatedConfig, bus: Bus, access_log: Arc<dyn AccessLogSink>) -> Self {
        let upstreams: Vec<Arc<UpstreamPool>> = config
            .upstreams
            .iter()
            .map(|u| Arc::new(UpstreamPool::new(u)))
            .collect();
        let routes = config
            .routes
            .iter()
            .map(|route| {
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
                CompiledRoute {
                    matcher: Matcher {
                        host: route.host.clone(),
                        path_prefix: route.path_prefix.clone(),
                        methods: route.methods.clone(),
                    },
                    action,
                    metrics: Arc::new(RouteMetrics::new(&route.name)),
                }
            })
            .collect();
        Self {
            routes,
            unmatched: Arc::new(RouteMetrics::new("_unmatched")),
            upstreams,
            trusted_proxies: config.proxy.trusted_proxies.clone(),
            timeouts: config.timeouts.clone(),
            max_request_head_bytes: config.proxy.max_request_head_bytes,
            access_log: config.log.access_log.then_some(access_log),
            bus,
        }
    }
}
