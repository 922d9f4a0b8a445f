//! The public status page served by the real binary, looked at in headless Chromium:
//! public monitors only, their current state and uptime, an incident opened through the
//! admin API, no console errors, and screenshots kept in target/test-artifacts.

use std::time::Duration;

use bulwark_testkit::chromium::{Browser, Viewport};
use serde_json::Value;

use crate::support::alerting::MonitoredService;
use crate::support::{Bulwark, Options, eventually};

const ALERTS_TOKEN: &str = "al_9f3kQ2mX7vL1pR8sT4wY6zB0nC5dE2gH7jK3";

fn artifacts() -> std::path::PathBuf {
    // tests/e2e run from crates/bulwark; the workspace target folder is two levels up.
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        std::path::PathBuf::from,
    );
    target.join("test-artifacts")
}

async fn status_json(bulwark: &Bulwark) -> Value {
    reqwest::get(bulwark.url("/status.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn component<'a>(json: &'a Value, slug: &str) -> Option<&'a Value> {
    json["groups"]
        .as_array()?
        .iter()
        .flat_map(|g| g["components"].as_array().into_iter().flatten())
        .find(|c| c["slug"] == slug)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_public_monitors_their_uptime_and_incidents() {
    let service = MonitoredService::start().await;
    let bulwark = Bulwark::start_with(
        &format!(
            r#"
[status_page]
title = "Acme status"

[[monitors]]
name = "shop"
display_name = "Web shop"
group = "Storefront"
url = "{url}"
interval = "200ms"
public = true

[[monitors]]
name = "internal-db"
kind = "tcp"
address = "127.0.0.1:1"
interval = "200ms"

[[admin.tokens]]
name = "ops"
token = "${{ALERTS_TOKEN}}"
scopes = ["read", "incidents:write"]
"#,
            url = service.url("/health"),
        ),
        Options {
            env: vec![("ALERTS_TOKEN", ALERTS_TOKEN.to_string())],
        },
    );

    // Checks are flushed to the history every 10 s and the page renders every 5 s: the
    // 24-hour uptime appears once both happened.
    assert!(
        eventually(Duration::from_secs(40), || async {
            let json = status_json(&bulwark).await;
            component(&json, "shop").is_some_and(|c| c["uptime"]["24h"] == 100.0)
        })
        .await,
        "{}\n{}",
        status_json(&bulwark).await,
        bulwark.output()
    );
    let json = status_json(&bulwark).await;
    assert_eq!(json["title"], "Acme status");
    assert_eq!(json["status"]["indicator"], "operational");
    let shop = component(&json, "shop").unwrap();
    assert_eq!(shop["name"], "Web shop");
    assert_eq!(shop["state"], "operational");
    assert_eq!(shop["days"].as_array().unwrap().len(), 90);
    // The private monitor is down, and nowhere to be seen.
    assert!(!json.to_string().contains("internal-db"));
    let html = reqwest::get(bulwark.url("/status")).await.unwrap();
    assert_eq!(html.status(), 200);
    assert!(
        html.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(!html.text().await.unwrap().contains("internal-db"));
    let hidden = reqwest::get(bulwark.url("/status/badge/internal-db.svg"))
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404);
    let badge = reqwest::get(bulwark.url("/status/badge/shop.svg"))
        .await
        .unwrap();
    assert_eq!(badge.status(), 200);
    assert_eq!(badge.headers()["content-type"], "image/svg+xml");
    assert!(badge.text().await.unwrap().contains("operational"));

    // An incident opened by hand shows on the page.
    let opened = reqwest::Client::new()
        .post(bulwark.ops_url("/admin/v1/incidents"))
        .bearer_auth(ALERTS_TOKEN)
        .json(&serde_json::json!({
            "title": "Checkout is slow <b>",
            "impact": "minor",
            "message": "We are looking into slow checkouts."
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    assert!(
        eventually(Duration::from_secs(15), || async {
            status_json(&bulwark).await["incidents"]
                .to_string()
                .contains("Checkout is slow")
        })
        .await
    );

    let browser = Browser::launch().await.expect("headless Chromium");
    for (name, viewport) in [("phone", Viewport::PHONE), ("desktop", Viewport::DESKTOP)] {
        let page = browser
            .open(&bulwark.url("/status"), viewport)
            .await
            .unwrap();
        let text = page.eval("document.body.innerText").await.unwrap();
        let text = text.as_str().unwrap();
        assert!(text.contains("Web shop"), "{text}");
        assert!(text.contains("Storefront"));
        assert!(text.contains("Operational"));
        assert!(text.contains("100.00%"));
        assert!(
            text.contains("Checkout is slow <b>"),
            "escaped, shown as text"
        );
        assert!(!text.contains("internal-db"));
        assert_eq!(
            page.eval("document.querySelectorAll('.component rect.day').length")
                .await
                .unwrap(),
            90
        );
        assert_eq!(page.eval("document.scripts.length").await.unwrap(), 0);
        assert_eq!(page.console_errors(), Vec::<String>::new());
        page.screenshot(&artifacts().join(format!("e2e-status-page-{name}.png")))
            .await
            .unwrap();
    }

    // The service goes away: the page says so.
    service.stop();
    assert!(
        eventually(Duration::from_secs(20), || async {
            let json = status_json(&bulwark).await;
            json["status"]["indicator"] == "major_outage"
                && component(&json, "shop").is_some_and(|c| c["state"] == "down")
        })
        .await,
        "{}",
        status_json(&bulwark).await
    );
}
