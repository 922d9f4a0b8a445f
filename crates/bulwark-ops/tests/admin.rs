//! The admin API served for real on 127.0.0.1:0 over a real SQLite store, with dead letters
//! made through the store's own API (persist, claim, dead-letter).

use bulwark_config::admin::{AdminToken, Scope};
use bulwark_config::secret::Secret;
use bulwark_ops::admin::{AdminState, router};
use bulwark_queue::store::{
    DeadLetters, LeaseOutcome, Leases, MessageId, MessageState, NewMessage, Pauses, Persist,
    SqliteStore,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const READ_TOKEN: &str = "read-token-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e";
const OPS_TOKEN: &str = "ops-token-0b2d4f6a8c0e1b3d5f7a9c1e3b5d7f9a";
const WRONG_TOKEN: &str = "ops-token-0b2d4f6a8c0e1b3d5f7a9c1e3b5d7f9b";
const SECRET_HEADER: &[u8] = b"Bearer provider-credential-sk_live_51HxYz";
const BODY: &[u8] = b"{\"secret_body_marker\":\"cardholder 4242\"}";

struct Admin {
    base: String,
    client: reqwest::Client,
    store: SqliteStore,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn tokens() -> Vec<AdminToken> {
    vec![
        AdminToken {
            name: "reader".into(),
            token: Secret::new(READ_TOKEN),
            scopes: vec![Scope::Read],
        },
        AdminToken {
            name: "ops".into(),
            token: Secret::new(OPS_TOKEN),
            scopes: vec![Scope::Read, Scope::Replay, Scope::Purge],
        },
    ]
}

async fn start() -> Admin {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let app = router(AdminState {
        store: store.clone(),
        tokens: tokens(),
        waker: None,
        bus: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Admin {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        store,
        _dir: dir,
        server,
    }
}

fn new_message(destination: &str, event_id: &str, now_ms: i64) -> NewMessage {
    NewMessage {
        destination: destination.into(),
        body: BODY.to_vec().into(),
        headers: vec![
            ("Authorization".into(), SECRET_HEADER.to_vec()),
            ("X-Provider-Signature".into(), b"v1=deadbeef".to_vec()),
        ],
        event_id: Some(event_id.into()),
        ordering_key: None,
        next_attempt_at_ms: now_ms,
    }
}

impl Admin {
    /// Persists one message and claims it; dead-letters it unless `keep_pending`.
    async fn message(
        &self,
        destination: &str,
        event_id: &str,
        now_ms: i64,
        dead: bool,
    ) -> MessageId {
        let id = self
            .store
            .persist(new_message(destination, event_id, now_ms), 60_000, now_ms)
            .await
            .unwrap()
            .id();
        if dead {
            let claimed = self
                .store
                .claim(&[destination.to_string()], 10, 30_000, now_ms)
                .await
                .unwrap();
            let lease = claimed
                .iter()
                .find(|c| c.message.id == id)
                .expect("the new message is claimable")
                .lease;
            let outcome = self
                .store
                .dead_letter(lease, "HTTP 500 from the app".into(), now_ms)
                .await
                .unwrap();
            assert_eq!(outcome, LeaseOutcome::Applied);
        }
        id
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        for secret in [READ_TOKEN, OPS_TOKEN, WRONG_TOKEN] {
            assert!(!body.contains(secret), "a token leaked into {path}: {body}");
        }
        (status, headers, body)
    }

    async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        expect: StatusCode,
    ) -> Value {
        let (status, headers, body) = self.call(method, path, token).await;
        assert_eq!(status, expect, "{path}: {body}");
        assert_eq!(headers["cache-control"], "no-store");
        if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).unwrap()
        }
    }

    async fn problem(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        expect: StatusCode,
    ) -> (reqwest::header::HeaderMap, Value) {
        let (status, headers, body) = self.call(method, path, token).await;
        assert_eq!(status, expect, "{path}: {body}");
        assert_eq!(headers["content-type"], "application/problem+json");
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["status"], expect.as_u16());
        assert!(problem["type"].as_str().unwrap().starts_with("https://"));
        assert!(problem["title"].is_string());
        assert!(problem["detail"].is_string());
        (headers, problem)
    }
}

fn assert_no_payload(text: &str) {
    assert!(!text.contains("secret_body_marker"), "body shown: {text}");
    assert!(!text.contains("cardholder"), "body shown: {text}");
    assert!(!text.contains("sk_live"), "headers shown: {text}");
    assert!(
        !text.contains("X-Provider-Signature"),
        "headers shown: {text}"
    );
    assert!(!text.contains("deadbeef"), "headers shown: {text}");
    assert!(!text.contains("\"headers\""), "headers shown: {text}");
    assert!(!text.contains("\"body\""), "body shown: {text}");
}

#[tokio::test]
async fn list_and_show_dead_letters_without_body_or_headers() {
    let admin = start().await;
    let a = admin.message("orders", "evt_a", 1_000, true).await;
    let b = admin.message("billing", "evt_b", 2_000, true).await;
    admin.message("orders", "evt_pending", 3_000, false).await;

    let list = admin
        .json(
            Method::GET,
            "/admin/v1/dead-letters",
            Some(READ_TOKEN),
            StatusCode::OK,
        )
        .await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let first = &list[0];
    assert_eq!(first["id"], a.to_string());
    assert_eq!(first["destination"], "orders");
    assert_eq!(first["attempts"], 1);
    assert_eq!(first["created_at_ms"], 1_000);
    assert_eq!(first["updated_at_ms"], 1_000);
    assert_eq!(first["last_error"], "HTTP 500 from the app");
    assert_eq!(first["event_id"], "evt_a");
    assert_eq!(first["body_bytes"], BODY.len());
    assert_no_payload(&serde_json::to_string(list).unwrap());

    // Filters: by destination, by time of death, and a limit.
    let orders = admin
        .json(
            Method::GET,
            "/admin/v1/dead-letters?destination=orders",
            Some(OPS_TOKEN),
            StatusCode::OK,
        )
        .await;
    assert_eq!(orders.as_array().unwrap().len(), 1);
    assert_eq!(orders[0]["id"], a.to_string());
    let late = admin
        .json(
            Method::GET,
            "/admin/v1/dead-letters?since_ms=1500&until_ms=5000",
            Some(READ_TOKEN),
            StatusCode::OK,
        )
        .await;
    assert_eq!(late.as_array().unwrap().len(), 1);
    assert_eq!(late[0]["id"], b.to_string());
    let one = admin
        .json(
            Method::GET,
            "/admin/v1/dead-letters?limit=1",
            Some(READ_TOKEN),
            StatusCode::OK,
        )
        .await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    admin
        .problem(
            Method::GET,
            "/admin/v1/dead-letters?limit=0",
            Some(READ_TOKEN),
            StatusCode::BAD_REQUEST,
        )
        .await;
    admin
        .problem(
            Method::GET,
            "/admin/v1/dead-letters?destinaton=orders",
            Some(READ_TOKEN),
            StatusCode::BAD_REQUEST,
        )
        .await;

    let shown = admin
        .json(
            Method::GET,
            &format!("/admin/v1/messages/{a}"),
            Some(READ_TOKEN),
            StatusCode::OK,
        )
        .await;
    assert_eq!(shown["id"], a.to_string());
    assert_eq!(shown["state"], "dead");
    assert_eq!(shown["destination"], "orders");
    assert_eq!(shown["event_id"], "evt_a");
    assert_eq!(shown["body_bytes"], BODY.len());
    assert_no_payload(&shown.to_string());

    let missing = MessageId::new(9_000);
    admin
        .problem(
            Method::GET,
            &format!("/admin/v1/messages/{missing}"),
            Some(READ_TOKEN),
            StatusCode::NOT_FOUND,
        )
        .await;
    admin
        .problem(
            Method::GET,
            "/admin/v1/messages/not-a-uuid",
            Some(READ_TOKEN),
            StatusCode::BAD_REQUEST,
        )
        .await;
}

#[tokio::test]
async fn replay_puts_a_dead_letter_back_and_refuses_live_messages() {
    let admin = start().await;
    let dead = admin.message("orders", "evt_dead", 1_000, true).await;
    let pending = admin.message("orders", "evt_live", 2_000, false).await;

    let replayed = admin
        .json(
            Method::POST,
            &format!("/admin/v1/messages/{dead}/replay"),
            Some(OPS_TOKEN),
            StatusCode::OK,
        )
        .await;
    assert_eq!(replayed, serde_json::json!({"status": "replayed"}));
    let message = admin.store.get(dead).await.unwrap().unwrap();
    assert_eq!(message.state, MessageState::Pending);
    assert_eq!(message.attempts, 0);

    // Now pending: a second replay conflicts, as does replaying a never-dead message.
    let (_, problem) = admin
        .problem(
            Method::POST,
            &format!("/admin/v1/messages/{dead}/replay"),
            Some(OPS_TOKEN),
            StatusCode::CONFLICT,
        )
        .await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("message-not-dead")
    );
    admin
        .problem(
            Method::POST,
            &format!("/admin/v1/messages/{pending}/replay"),
            Some(OPS_TOKEN),
            StatusCode::CONFLICT,
        )
        .await;
    let missing = MessageId::new(9_000);
    admin
        .problem(
            Method::POST,
            &format!("/admin/v1/messages/{missing}/replay"),
            Some(OPS_TOKEN),
            StatusCode::NOT_FOUND,
        )
        .await;
}

#[tokio::test]
async fn purge_one_and_by_filter() {
    let admin = start().await;
    let a = admin.message("orders", "evt_a", 1_000, true).await;
    admin.message("orders", "evt_b", 2_000, true).await;
    admin.message("billing", "evt_c", 3_000, true).await;
    let pending = admin.message("billing", "evt_live", 4_000, false).await;

    let (status, headers, body) = admin
        .call(
            Method::DELETE,
            &format!("/admin/v1/messages/{a}"),
            Some(OPS_TOKEN),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(admin.store.get(a).await.unwrap().is_none());
    admin
        .problem(
            Method::DELETE,
            &format!("/admin/v1/messages/{a}"),
            Some(OPS_TOKEN),
            StatusCode::NOT_FOUND,
        )
        .await;
    admin
        .problem(
            Method::DELETE,
            &format!("/admin/v1/messages/{pending}"),
            Some(OPS_TOKEN),
            StatusCode::CONFLICT,
        )
        .await;

    let purged = admin
        .json(
            Method::POST,
            "/admin/v1/dead-letters/purge?destination=billing",
            Some(OPS_TOKEN),
            StatusCode::OK,
        )
        .await;
    assert_eq!(purged, serde_json::json!({"purged": 1}));
    // A misspelt filter is refused rather than purging everything.
    admin
        .problem(
            Method::POST,
            "/admin/v1/dead-letters/purge?destinaton=orders",
            Some(OPS_TOKEN),
            StatusCode::BAD_REQUEST,
        )
        .await;
    let purged = admin
        .json(
            Method::POST,
            "/admin/v1/dead-letters/purge?since_ms=0&until_ms=10000",
            Some(OPS_TOKEN),
            StatusCode::OK,
        )
        .await;
    assert_eq!(purged, serde_json::json!({"purged": 1}));
    let left = admin
        .json(
            Method::GET,
            "/admin/v1/dead-letters",
            Some(READ_TOKEN),
            StatusCode::OK,
        )
        .await;
    assert_eq!(left, serde_json::json!([]));
    // The live message is untouched.
    assert!(admin.store.get(pending).await.unwrap().is_some());
}

#[tokio::test]
async fn tokens_and_scopes_are_enforced() {
    let admin = start().await;
    let dead = admin.message("orders", "evt_a", 1_000, true).await;
    let routes = [
        (Method::GET, "/admin/v1/dead-letters".to_string()),
        (Method::GET, format!("/admin/v1/messages/{dead}")),
        (Method::POST, format!("/admin/v1/messages/{dead}/replay")),
        (Method::DELETE, format!("/admin/v1/messages/{dead}")),
        (Method::POST, "/admin/v1/dead-letters/purge".to_string()),
    ];
    for (method, path) in &routes {
        let (headers, _) = admin
            .problem(method.clone(), path, None, StatusCode::UNAUTHORIZED)
            .await;
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let (headers, _) = admin
            .problem(
                method.clone(),
                path,
                Some(WRONG_TOKEN),
                StatusCode::UNAUTHORIZED,
            )
            .await;
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        // A token's prefix or the token with junk appended is not the token.
        admin
            .problem(
                method.clone(),
                path,
                Some(&OPS_TOKEN[..20]),
                StatusCode::UNAUTHORIZED,
            )
            .await;
        admin
            .problem(
                method.clone(),
                path,
                Some(&format!("{OPS_TOKEN}x")),
                StatusCode::UNAUTHORIZED,
            )
            .await;
    }
    // A non-bearer scheme is no token at all.
    let response = admin
        .client
        .get(format!("{}/admin/v1/dead-letters", admin.base))
        .basic_auth("admin", Some(OPS_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The read-only token may read but neither replay nor purge.
    for (method, path) in &routes[2..] {
        let (_, problem) = admin
            .problem(
                method.clone(),
                path,
                Some(READ_TOKEN),
                StatusCode::FORBIDDEN,
            )
            .await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("replay") || detail.contains("purge"),
            "{detail}"
        );
    }
    admin
        .json(
            Method::GET,
            "/admin/v1/dead-letters",
            Some(READ_TOKEN),
            StatusCode::OK,
        )
        .await;
    // Nothing was changed by the refused calls.
    let message = admin.store.get(dead).await.unwrap().unwrap();
    assert_eq!(message.state, MessageState::Dead);
}

/// The process-wide recorder, installed once for this test binary.
fn recorder() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .unwrap();
        bulwark_ops::admin::events::describe();
        handle
    })
}

#[tokio::test]
async fn requests_are_counted_by_route_template_never_raw_path() {
    let metrics = recorder();
    let admin = start().await;
    let dead = admin.message("orders", "evt_a", 1_000, true).await;
    // Auth comes before parsing: the unauthenticated learn nothing about the id.
    admin
        .problem(
            Method::GET,
            "/admin/v1/messages/not-a-uuid",
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    admin
        .json(
            Method::GET,
            &format!("/admin/v1/messages/{dead}"),
            Some(READ_TOKEN),
            StatusCode::OK,
        )
        .await;
    admin
        .problem(
            Method::POST,
            &format!("/admin/v1/messages/{dead}/replay"),
            Some(READ_TOKEN),
            StatusCode::FORBIDDEN,
        )
        .await;

    let text = metrics.render();
    assert!(
        text.contains("# HELP bulwark_admin_requests_total"),
        "{text}"
    );
    for line in [
        r#"bulwark_admin_requests_total{endpoint="GET /admin/v1/messages/{id}",status="401"} "#,
        r#"bulwark_admin_requests_total{endpoint="GET /admin/v1/messages/{id}",status="200"} "#,
        r#"bulwark_admin_requests_total{endpoint="POST /admin/v1/messages/{id}/replay",status="403"} "#,
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
    assert!(!text.contains(&dead.to_string()), "{text}");
    assert!(!text.contains("not-a-uuid"), "{text}");
    for secret in [READ_TOKEN, OPS_TOKEN] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test]
async fn paused_destinations_are_listed_and_resumed_with_the_replay_scope() {
    let admin = start().await;
    admin
        .store
        .pause("app", "HTTP 410 Gone".into(), 1_700_000_000_000)
        .await
        .unwrap();

    let (status, _, body) = admin
        .call(
            Method::GET,
            "/admin/v1/destinations/paused",
            Some(READ_TOKEN),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        listed,
        serde_json::json!([{
            "destination": "app",
            "since_ms": 1_700_000_000_000_i64,
            "reason": "HTTP 410 Gone",
        }])
    );

    let resume = "/admin/v1/destinations/app/resume";
    let (status, _, _) = admin.call(Method::POST, resume, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = admin.call(Method::POST, resume, Some(READ_TOKEN)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(admin.store.paused().await.unwrap().len(), 1, "still paused");

    let (status, _, body) = admin.call(Method::POST, resume, Some(OPS_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(admin.store.paused().await.unwrap().is_empty());
    let (status, _, body) = admin.call(Method::POST, resume, Some(OPS_TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        problem["type"],
        "https://bulwark.dev/problems/destination-not-paused"
    );
}
