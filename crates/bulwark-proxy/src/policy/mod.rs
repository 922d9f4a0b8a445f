//! Route policies, between the route match and the action, in the order DESIGN.md fixes:
//! limits keyed before authentication (per IP, route, header), then authentication and
//! roles, then limits keyed by who the caller is (user, API key, plan). A flood of bad
//! tokens is refused by the per-IP limit before any signature work.
//!
//! - [`authn`]: the configured authenticators (JWT issuers, API-key sets), built once.
//! - [`limits`]: the limiter backends and each route's compiled limits.
//! - [`request`]: checks on the request itself (size, method, content type, JSON,
//!   screening) and the security headers of the route's responses.

pub mod authn;
pub mod limits;
pub mod request;

use std::net::IpAddr;
use std::sync::Arc;

use bulwark_auth::{Identity, RoleDecision, RoleRequirement};
use bulwark_events::{Bus, BusEvent, ViolationKind};
use http::{HeaderMap, HeaderName, HeaderValue, Request};

use self::authn::Authenticator;
use self::limits::{CompiledLimit, Limiters, Verdict};
use crate::problem::Problem;

/// Identity headers bulwark sets for the app. Any copy a client sends is removed first,
/// on every route, so the app can trust them.
pub const X_AUTH_SUBJECT: HeaderName = HeaderName::from_static("x-auth-subject");
pub const X_AUTH_ROLES: HeaderName = HeaderName::from_static("x-auth-roles");
pub const X_AUTH_PLAN: HeaderName = HeaderName::from_static("x-auth-plan");

/// Header names an app must be able to trust. Their underscore spellings are removed
/// too: WSGI, Rack and other CGI-style servers turn `X_Auth_Subject` and
/// `X-Auth-Subject` into the same variable, so a client could otherwise smuggle one in.
const PROTECTED: [&str; 9] = [
    "x-auth-subject",
    "x-auth-roles",
    "x-auth-plan",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-real-ip",
    "x-request-id",
];

pub fn strip_identity_headers(headers: &mut HeaderMap) {
    for name in [X_AUTH_SUBJECT, X_AUTH_ROLES, X_AUTH_PLAN] {
        headers.remove(name);
    }
    let aliases: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name.contains('_') && PROTECTED.contains(&name.replace('_', "-").as_str())
        })
        .cloned()
        .collect();
    for name in aliases {
        headers.remove(name);
    }
}

/// One route's policies, compiled from its config.
pub struct RoutePolicy {
    pub route: String,
    pub before_auth: Vec<CompiledLimit>,
    /// `None` when the route names an authenticator that does not exist (possible only
    /// after a reload that changed `[auth]`, which needs a restart): every request is
    /// refused rather than let through.
    pub auth: Option<Option<Arc<Authenticator>>>,
    pub roles: Vec<RoleRequirement>,
    pub after_auth: Vec<CompiledLimit>,
}

/// A refusal: the problem, and headers that go with it (`WWW-Authenticate`,
/// `Retry-After`, `RateLimit`, `RateLimit-Policy`).
pub struct Refusal {
    pub problem: Problem,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl From<Problem> for Refusal {
    fn from(problem: Problem) -> Self {
        Refusal {
            problem,
            headers: Vec::new(),
        }
    }
}

impl RoutePolicy {
    pub fn is_empty(&self) -> bool {
        self.before_auth.is_empty()
            && matches!(self.auth, Some(None))
            && self.roles.is_empty()
            && self.after_auth.is_empty()
    }

    /// Runs the policies; on success the request carries the identity headers.
    pub async fn apply<B>(
        &self,
        request: &mut Request<B>,
        client_ip: IpAddr,
        limiters: &Limiters,
        bus: &Bus,
        now_unix: u64,
    ) -> Result<(), Refusal> {
        for limit in &self.before_auth {
            self.limit(limit, request.headers(), client_ip, None, limiters, bus)
                .await?;
        }
        let identity = match &self.auth {
            Some(None) => None,
            None => return Err(self.auth_failed(client_ip, bus, "unknown authenticator")),
            Some(Some(authenticator)) => {
                match authenticator
                    .authenticate(request.headers(), now_unix)
                    .await
                {
                    Ok(identity) => Some(identity),
                    Err(reason) => {
                        let mut refusal = self.auth_failed(client_ip, bus, reason);
                        refusal.headers.extend(authenticator.challenge());
                        return Err(refusal);
                    }
                }
            }
        };
        if let Some(identity) = &identity {
            for requirement in &self.roles {
                if let RoleDecision::Missing(missing) = requirement.check(&identity.roles) {
                    tracing::info!(route = %self.route, %client_ip, subject = %identity.subject, missing = ?missing, "Access denied: missing roles.");
                    bus.publish(BusEvent::SecurityViolation {
                        kind: ViolationKind::AccessDenied,
                        client_ip: client_ip.to_string(),
                    });
                    return Err(Problem::Forbidden.into());
                }
            }
        }
        for limit in &self.after_auth {
            self.limit(
                limit,
                request.headers(),
                client_ip,
                identity.as_ref(),
                limiters,
                bus,
            )
            .await?;
        }
        if let Some(identity) = identity {
            set_identity_headers(request.headers_mut(), &identity);
        }
        Ok(())
    }

    async fn limit(
        &self,
        limit: &CompiledLimit,
        headers: &HeaderMap,
        client_ip: IpAddr,
        identity: Option<&Identity>,
        limiters: &Limiters,
        bus: &Bus,
    ) -> Result<(), Refusal> {
        match limit
            .check(&self.route, headers, client_ip, identity, limiters)
            .await
        {
            Verdict::Allowed => Ok(()),
            Verdict::Refused(refusal) => {
                bus.publish(BusEvent::SecurityViolation {
                    kind: ViolationKind::RateLimited,
                    client_ip: client_ip.to_string(),
                });
                Err(refusal)
            }
            Verdict::BackendDown => Err(Refusal {
                problem: Problem::RateLimiterUnavailable,
                headers: vec![(http::header::RETRY_AFTER, HeaderValue::from_static("1"))],
            }),
        }
    }

    fn auth_failed(&self, client_ip: IpAddr, bus: &Bus, reason: &'static str) -> Refusal {
        tracing::info!(route = %self.route, %client_ip, reason, "Authentication failed.");
        limits::events::auth_failed(&self.route, reason);
        bus.publish(BusEvent::SecurityViolation {
            kind: ViolationKind::AuthFailed,
            client_ip: client_ip.to_string(),
        });
        Problem::Unauthorized.into()
    }
}

fn set_identity_headers(headers: &mut HeaderMap, identity: &Identity) {
    // Values a header cannot carry (control characters) are left out rather than
    // mangled; the app then sees no header, never a wrong one.
    if let Ok(v) = HeaderValue::from_str(&identity.subject) {
        headers.insert(X_AUTH_SUBJECT, v);
    }
    if !identity.roles.is_empty()
        && let Ok(v) = HeaderValue::from_str(&identity.roles.join(","))
    {
        headers.insert(X_AUTH_ROLES, v);
    }
    if let Some(plan) = &identity.plan
        && let Ok(v) = HeaderValue::from_str(plan)
    {
        headers.insert(X_AUTH_PLAN, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscore_spellings_of_trusted_headers_are_removed_too() {
        let mut headers = HeaderMap::new();
        for name in [
            "x-auth-subject",
            "x_auth_subject",
            "x_auth-roles",
            "x_forwarded_for",
            "x_real_ip",
            "x_request_id",
            "x_custom_header",
        ] {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static("forged"),
            );
        }
        strip_identity_headers(&mut headers);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x_custom_header"], "other underscore headers stay");
    }
}
