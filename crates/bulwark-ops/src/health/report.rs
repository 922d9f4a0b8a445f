//! Turning check views into answers: the Kubernetes-style readiness text (`ok`, or
//! `[+]name ok` / `[-]name failed: reason` lines with `?verbose`, `?exclude=name`) and
//! the `application/health+json` document of draft-inadarei-api-health-check. Pure.

use bulwark_events::time::rfc3339;
use std::collections::BTreeMap;

use serde::Serialize;

use super::status::{CheckView, Outcome};
use crate::version::VersionInfo;

pub const HEALTH_JSON: &str = "application/health+json";
pub const TEXT: &str = "text/plain; charset=utf-8";

/// An answer ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// The draft's top-level `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overall {
    Pass,
    /// Only non-critical checks fail: bulwark still serves (and buffers).
    Warn,
    /// A critical check fails: not ready.
    Fail,
}

impl Overall {
    pub fn of(views: &[CheckView]) -> Self {
        let failing = |critical: bool| {
            views
                .iter()
                .any(|v| v.critical == critical && !v.outcome.is_pass())
        };
        if failing(true) {
            Overall::Fail
        } else if failing(false) {
            Overall::Warn
        } else {
            Overall::Pass
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Overall::Pass => "pass",
            Overall::Warn => "warn",
            Overall::Fail => "fail",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            Overall::Fail => 503,
            Overall::Pass | Overall::Warn => 200,
        }
    }
}

/// The readiness query: `?verbose`, `?exclude=a&exclude=b` or `?exclude=a,b`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadyQuery {
    pub verbose: bool,
    pub exclude: Vec<String>,
}

impl ReadyQuery {
    /// Lenient on purpose: unknown keys are ignored, as Kubernetes does. Values are not
    /// percent-decoded because check names cannot contain anything that needs it.
    pub fn parse(raw: Option<&str>) -> Self {
        let mut query = ReadyQuery::default();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "verbose" => query.verbose = !matches!(value, "0" | "false"),
                "exclude" => query.exclude.extend(
                    value
                        .split(',')
                        .filter(|name| !name.is_empty())
                        .map(str::to_string),
                ),
                _ => {}
            }
        }
        query
    }

    fn excludes(&self, name: &str) -> bool {
        self.exclude.iter().any(|e| e == name)
    }
}

/// `/health/live`: the process answers, which is all liveness may depend on.
pub fn liveness() -> Rendered {
    Rendered {
        status: 200,
        content_type: TEXT,
        body: "ok".into(),
    }
}

/// `/health/ready`: 503 if and only if a critical, non-excluded check fails.
pub fn readiness(views: &[CheckView], query: &ReadyQuery) -> Rendered {
    let failed = views
        .iter()
        .any(|v| v.critical && !v.outcome.is_pass() && !query.excludes(&v.name));
    let status = if failed { 503 } else { 200 };
    let body = if query.verbose {
        let mut body = String::new();
        for v in views {
            let line = if query.excludes(&v.name) {
                format!("[+]{} excluded: ok\n", v.name)
            } else {
                match (&v.outcome, v.critical) {
                    (Outcome::Pass, _) => format!("[+]{} ok\n", v.name),
                    (Outcome::Fail(reason), true) => format!("[-]{} failed: {reason}\n", v.name),
                    // Listed so the operator sees it, marked so nobody wonders why the
                    // verdict below still passes.
                    (Outcome::Fail(reason), false) => {
                        format!("[-]{} failed: {reason} (not critical)\n", v.name)
                    }
                }
            };
            body.push_str(&line);
        }
        body.push_str(if failed {
            "readyz check failed\n"
        } else {
            "readyz check passed\n"
        });
        body
    } else if failed {
        "readyz check failed".into()
    } else {
        "ok".into()
    };
    Rendered {
        status,
        content_type: TEXT,
        body,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    status: &'static str,
    release_id: &'a str,
    service_id: &'static str,
    description: &'static str,
    checks: BTreeMap<String, [Entry; 1]>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    component_id: String,
    component_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_unit: Option<&'static str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
}

/// `/health`: `fail`/503 when a critical check fails, `warn`/200 when only non-critical
/// ones do, else `pass`/200.
pub fn health(views: &[CheckView], version: &VersionInfo) -> Rendered {
    let overall = Overall::of(views);
    let checks = views
        .iter()
        .map(|v| {
            let key = match v.measurement {
                Some(measurement) => format!("{}:{measurement}", v.name),
                None => v.name.clone(),
            };
            let (status, output) = match &v.outcome {
                Outcome::Pass => ("pass", None),
                Outcome::Fail(reason) => ("fail", Some(reason.clone())),
            };
            let entry = Entry {
                component_id: v.name.clone(),
                component_type: v.component_type.as_str(),
                observed_value: v.observed_ms,
                observed_unit: v.observed_ms.map(|_| "ms"),
                status,
                time: v.time.map(rfc3339),
                output,
            };
            (key, [entry])
        })
        .collect();
    let document = Document {
        status: overall.as_str(),
        release_id: &version.version,
        service_id: "bulwark",
        description: "bulwark: reverse proxy, webhook inbox and job queue in front of the app",
        checks,
    };
    Rendered {
        status: overall.http_status(),
        content_type: HEALTH_JSON,
        body: serde_json::to_string(&document).expect("the health document always serialises"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::health::status::ComponentType;

    fn view(name: &str, critical: bool, outcome: Outcome) -> CheckView {
        CheckView {
            name: name.into(),
            critical,
            component_type: ComponentType::Datastore,
            measurement: Some("responseTime"),
            outcome,
            observed_ms: Some(1.5),
            time: Some(UNIX_EPOCH + Duration::from_millis(1_709_210_096_789)),
        }
    }

    fn fail(reason: &str) -> Outcome {
        Outcome::Fail(reason.into())
    }

    fn version() -> VersionInfo {
        VersionInfo {
            version: "1.2.3".into(),
            commit: "abc".into(),
            build_time: "2024-01-01T00:00:00Z".into(),
            rustc: "1.85".into(),
        }
    }

    #[test]
    fn overall_status_and_http_code() {
        let cases = [
            (vec![], Overall::Pass, 200),
            (vec![view("a", true, Outcome::Pass)], Overall::Pass, 200),
            (
                vec![view("a", true, Outcome::Pass), view("b", false, fail("x"))],
                Overall::Warn,
                200,
            ),
            (
                vec![view("a", true, fail("x")), view("b", false, fail("x"))],
                Overall::Fail,
                503,
            ),
        ];
        for (views, overall, code) in cases {
            assert_eq!(Overall::of(&views), overall, "{views:?}");
            assert_eq!(overall.http_status(), code);
            assert_eq!(health(&views, &version()).status, code);
        }
    }

    #[test]
    fn readiness_plain_bodies() {
        let q = ReadyQuery::default();
        let up = readiness(&[view("db", true, Outcome::Pass)], &q);
        assert_eq!((up.status, up.body.as_str()), (200, "ok"));
        let down = readiness(&[view("db", true, fail("timed out"))], &q);
        assert_eq!(
            (down.status, down.body.as_str()),
            (503, "readyz check failed")
        );
        let non_critical = readiness(&[view("db", false, fail("timed out"))], &q);
        assert_eq!(
            (non_critical.status, non_critical.body.as_str()),
            (200, "ok")
        );
        assert_eq!(up.content_type, TEXT);
    }

    #[test]
    fn readiness_verbose_lists_every_check() {
        let views = [
            view("listeners", true, Outcome::Pass),
            view("redis", true, fail("connection refused")),
            view("app", false, fail("no target answered 200")),
        ];
        let r = readiness(&views, &ReadyQuery::parse(Some("verbose")));
        assert_eq!(r.status, 503);
        assert_eq!(
            r.body,
            "[+]listeners ok\n\
             [-]redis failed: connection refused\n\
             [-]app failed: no target answered 200 (not critical)\n\
             readyz check failed\n"
        );
    }

    #[test]
    fn readiness_exclude_leaves_a_check_out() {
        let views = [
            view("listeners", true, Outcome::Pass),
            view("redis", true, fail("connection refused")),
            view("pg", true, fail("timed out")),
        ];
        for raw in ["exclude=redis&exclude=pg", "exclude=redis,pg&verbose"] {
            let r = readiness(&views, &ReadyQuery::parse(Some(raw)));
            assert_eq!(r.status, 200, "{raw}");
        }
        let r = readiness(&views, &ReadyQuery::parse(Some("verbose&exclude=redis,pg")));
        assert_eq!(
            r.body,
            "[+]listeners ok\n[+]redis excluded: ok\n[+]pg excluded: ok\nreadyz check passed\n"
        );
        let r = readiness(&views, &ReadyQuery::parse(Some("exclude=redis")));
        assert_eq!(r.status, 503, "pg still fails");
    }

    #[test]
    fn query_parsing_is_lenient() {
        assert_eq!(ReadyQuery::parse(None), ReadyQuery::default());
        assert_eq!(
            ReadyQuery::parse(Some("verbose=1&x=y&&exclude=&exclude=a,,b")),
            ReadyQuery {
                verbose: true,
                exclude: vec!["a".into(), "b".into()]
            }
        );
        assert!(!ReadyQuery::parse(Some("verbose=false")).verbose);
        assert!(ReadyQuery::parse(Some("verbose=")).verbose);
    }

    #[test]
    fn health_document_follows_the_draft() {
        let mut builtin = view("listeners", true, Outcome::Pass);
        builtin.component_type = ComponentType::System;
        builtin.measurement = None;
        builtin.observed_ms = None;
        let mut pending = view("pg", false, fail("pending: no result yet"));
        pending.observed_ms = None;
        pending.time = None;
        let views = [
            builtin,
            view("redis", false, fail("connection refused")),
            pending,
        ];
        let r = health(&views, &version());
        assert_eq!((r.status, r.content_type), (200, HEALTH_JSON));
        let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "status": "warn",
                "releaseId": "1.2.3",
                "serviceId": "bulwark",
                "description": "bulwark: reverse proxy, webhook inbox and job queue in front of the app",
                "checks": {
                    "listeners": [{
                        "componentId": "listeners",
                        "componentType": "system",
                        "status": "pass",
                        "time": "2024-02-29T12:34:56.789Z"
                    }],
                    "redis:responseTime": [{
                        "componentId": "redis",
                        "componentType": "datastore",
                        "observedValue": 1.5,
                        "observedUnit": "ms",
                        "status": "fail",
                        "time": "2024-02-29T12:34:56.789Z",
                        "output": "connection refused"
                    }],
                    "pg:responseTime": [{
                        "componentId": "pg",
                        "componentType": "datastore",
                        "status": "fail",
                        "output": "pending: no result yet"
                    }]
                }
            })
        );
    }
}
