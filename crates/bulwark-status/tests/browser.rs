//! The status page in a real headless Chromium, at phone and desktop widths. Screenshots
//! are kept in `target/test-artifacts/` for a person to look at. Fails, never skips, when
//! Chromium is missing.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use bulwark_status::{
    Component, ComponentGroup, ComponentState, DayUptime, Incident, IncidentImpact, IncidentStatus,
    IncidentUpdate, MaintenanceWindow, StatusSnapshot, render_html,
};
use bulwark_testkit::chromium::{Browser, Page, Viewport};
use serde_json::{Value, json};

/// 2026-11-28T06:39:40Z.
const NOW: i64 = 1_795_847_980_000;
/// 2026-11-28T00:00:00Z.
const TODAY: i64 = 1_795_824_000_000;
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

/// 90 days of checks every 30 s (2880 a day); `failures` lists (days ago, failed checks).
fn days(count: i64, failures: &[(i64, u64)]) -> Vec<DayUptime> {
    (0..count)
        .map(|ago| {
            let checks = if ago == 0 { 800 } else { 2880 };
            let failed = failures
                .iter()
                .find(|(day, _)| *day == ago)
                .map_or(0, |(_, failed)| *failed);
            DayUptime {
                day_start_ms: TODAY - ago * DAY,
                checks,
                successes: checks - failed,
                avg_response_ms: Some(90 + (ago as u32 * 7) % 40),
            }
        })
        .collect()
}

fn response_times(base: u32) -> Vec<u32> {
    (0..48u32)
        .map(|i| base + (i * 37) % 60 + if i == 30 { 240 } else { 0 })
        .collect()
}

fn component(
    name: &str,
    state: ComponentState,
    days: Vec<DayUptime>,
    uptime: [f64; 4],
) -> Component {
    Component {
        name: name.to_owned(),
        slug: name.to_ascii_lowercase().replace(' ', "-"),
        state,
        days,
        uptime_24h: Some(uptime[0]),
        uptime_7d: Some(uptime[1]),
        uptime_30d: Some(uptime[2]),
        uptime_90d: Some(uptime[3]),
        response_ms: response_times(80),
    }
}

fn sample_snapshot() -> StatusSnapshot {
    StatusSnapshot {
        title: "Acme Cloud".to_owned(),
        logo_url: None,
        generated_at_ms: NOW,
        groups: vec![
            ComponentGroup {
                name: "Public API".to_owned(),
                components: vec![
                    component(
                        "REST API",
                        ComponentState::Operational,
                        days(90, &[(29, 180), (14, 10)]),
                        [0.9995, 0.99931, 0.9998, 0.99921],
                    ),
                    component(
                        "Webhook delivery",
                        ComponentState::Degraded,
                        days(90, &[(0, 40), (45, 2880)]),
                        [0.9712, 0.9958, 0.9990, 0.9887],
                    ),
                ],
            },
            ComponentGroup {
                name: "Infrastructure".to_owned(),
                components: vec![
                    component(
                        "Database",
                        ComponentState::Operational,
                        days(90, &[]),
                        [1.0, 1.0, 1.0, 1.0],
                    ),
                    Component {
                        response_ms: vec![],
                        ..component(
                            "Cache",
                            ComponentState::Operational,
                            days(20, &[]),
                            [1.0, 1.0, 1.0, 1.0],
                        )
                    },
                ],
            },
        ],
        incidents: vec![
            Incident {
                title: "Webhook deliveries delayed".to_owned(),
                impact: IncidentImpact::Minor,
                status: IncidentStatus::Monitoring,
                opened_ms: NOW - 3 * HOUR,
                resolved_ms: None,
                updates: vec![
                    IncidentUpdate {
                        at_ms: NOW - 3 * HOUR,
                        status: IncidentStatus::Investigating,
                        message: "Some webhook deliveries are delayed by up to 5 minutes."
                            .to_owned(),
                    },
                    IncidentUpdate {
                        at_ms: NOW - HOUR,
                        status: IncidentStatus::Monitoring,
                        message: "A fix has been deployed; the backlog is draining. Details: \
                                  https://status.example.com/incidents/2026-11-28/webhook-deliveries-delayed-in-eu-west-1"
                            .to_owned(),
                    },
                ],
            },
            Incident {
                title: "API errors in eu-west".to_owned(),
                impact: IncidentImpact::Major,
                status: IncidentStatus::Resolved,
                opened_ms: NOW - 14 * DAY,
                resolved_ms: Some(NOW - 14 * DAY + HOUR),
                updates: vec![IncidentUpdate {
                    at_ms: NOW - 14 * DAY + HOUR,
                    status: IncidentStatus::Resolved,
                    message: "A faulty load balancer was replaced.".to_owned(),
                }],
            },
        ],
        maintenance: vec![MaintenanceWindow {
            name: "Database upgrade to PostgreSQL 18".to_owned(),
            starts_ms: TODAY + DAY + 2 * HOUR,
            ends_ms: TODAY + DAY + 3 * HOUR,
            components: vec!["Database".to_owned(), "REST API".to_owned()],
        }],
    }
}

/// Serves the page on a free loopback port until the runtime ends.
async fn serve(html: String) -> SocketAddr {
    let app = Router::new().route("/status", get(move || async move { Html(html) }));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

fn artifacts_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("test-artifacts")
}

async fn eval(page: &Page, js: &str) -> Value {
    page.eval(js).await.unwrap()
}

/// No horizontal scrolling, no zooming out to fit (a phone browser shrinks a page that is
/// too wide, which would make `innerWidth` grow), and no element cut off at the right edge
/// of a card that hides its overflow.
async fn assert_fits_width(page: &Page) {
    let widths = eval(
        page,
        "({scroll: document.documentElement.scrollWidth, \
           client: document.documentElement.clientWidth, inner: window.innerWidth})",
    )
    .await;
    assert!(
        widths["scroll"].as_f64() <= widths["client"].as_f64(),
        "{widths}"
    );
    assert_eq!(
        widths["inner"], widths["client"],
        "zoomed out to fit: {widths}"
    );
    let sticking_out = eval(
        page,
        "[...document.body.querySelectorAll('*')] \
           .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5) \
           .map(e => e.tagName + '.' + e.getAttribute('class'))",
    )
    .await;
    assert_eq!(sticking_out, json!([]));
}

/// What every width must show; returns nothing, asserts everything.
async fn check_page(page: &Page) {
    assert_eq!(
        eval(page, "document.querySelector('.banner-text').textContent").await,
        json!("Partial outage")
    );
    assert_eq!(eval(page, "document.scripts.length").await, json!(0));
    assert_eq!(
        eval(page, "[...document.querySelectorAll('.component')].map(c => c.querySelectorAll('rect.day').length)").await,
        json!([90, 90, 90, 90])
    );
    assert_eq!(
        eval(
            page,
            "[...document.querySelectorAll('.component-name')].map(e => e.textContent)"
        )
        .await,
        json!(["REST API", "Webhook delivery", "Database", "Cache"])
    );
    assert_eq!(
        eval(
            page,
            "[...document.querySelectorAll('.state')].map(e => e.textContent)"
        )
        .await,
        json!([
            "Operational",
            "Degraded performance",
            "Operational",
            "Operational"
        ])
    );
    // The first component's 24 h, 30 d and 90 d uptime.
    assert_eq!(
        eval(page, "[...document.querySelector('.component').querySelectorAll('dd.uptime')].map(e => e.textContent)").await,
        json!(["99.95%", "99.98%", "99.92%"])
    );
    // Day 29 ago of the REST API: 2700 of 2880 checks = 93.75%; the oldest Cache day had none.
    assert_eq!(
        eval(page, "document.querySelectorAll('.component')[0].querySelectorAll('rect.day title')[60].textContent").await,
        json!("2026-10-30: 93.75% uptime, 2700 of 2880 checks ok")
    );
    assert_eq!(
        eval(
            page,
            "document.querySelectorAll('.component')[3].querySelector('rect.day title').textContent"
        )
        .await,
        json!("2026-08-31: no data")
    );
    // Every bar is drawn with a visible width, even on a phone.
    assert_eq!(
        eval(page, "[...document.querySelectorAll('rect.day')].every(r => r.getBoundingClientRect().width >= 2)").await,
        json!(true)
    );
    assert_eq!(
        eval(
            page,
            "document.querySelectorAll('polyline.spark-line').length"
        )
        .await,
        json!(3)
    );
    assert_eq!(
        eval(
            page,
            "document.querySelector('.incidents-active .incident-title').textContent"
        )
        .await,
        json!("Webhook deliveries delayed")
    );
    // Nothing sticks out sideways, with the daily tables closed or open.
    assert_fits_width(page).await;
    eval(
        page,
        "document.querySelectorAll('details').forEach(d => d.open = true)",
    )
    .await;
    assert_fits_width(page).await;
    assert_eq!(
        eval(page, "document.querySelectorAll('.days tbody tr').length").await,
        json!(4 * 90)
    );
    eval(
        page,
        "document.querySelectorAll('details').forEach(d => d.open = false)",
    )
    .await;
    assert_eq!(page.console_errors(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_renders_in_chromium_on_phone_and_desktop() {
    let address = serve(render_html(&sample_snapshot())).await;
    let url = format!("http://{address}/status");
    let browser = Browser::launch().await.unwrap();
    let artifacts = artifacts_dir();

    let phone = browser.open(&url, Viewport::PHONE).await.unwrap();
    assert_eq!(eval(&phone, "window.innerWidth").await, json!(375));
    check_page(&phone).await;
    phone
        .screenshot(artifacts.join("status-page-phone.png"))
        .await
        .unwrap();

    let desktop = browser.open(&url, Viewport::DESKTOP).await.unwrap();
    assert_eq!(eval(&desktop, "window.innerWidth").await, json!(1280));
    check_page(&desktop).await;
    // The content column stays readable on a wide screen.
    assert_eq!(
        eval(
            &desktop,
            "document.querySelector('.wrap').getBoundingClientRect().width <= 880"
        )
        .await,
        json!(true)
    );
    desktop
        .screenshot(artifacts.join("status-page-desktop.png"))
        .await
        .unwrap();

    for name in ["status-page-phone.png", "status-page-desktop.png"] {
        let png = std::fs::read(artifacts.join(name)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is a PNG");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_reports_console_errors_and_exceptions() {
    // The page's own check of "no console errors" is only worth something if errors are seen.
    let html = "<!DOCTYPE html><title>t</title><link rel=icon href='data:,'>\
                <script>console.error('boom', 42); setTimeout(() => { throw new Error('late'); });</script>"
        .to_owned();
    let address = serve(html).await;
    let browser = Browser::launch().await.unwrap();
    let page = browser
        .open(&format!("http://{address}/status"), Viewport::DESKTOP)
        .await
        .unwrap();
    // The timer's exception is reported after the load event; wait for it with the page's
    // own clock rather than a sleep here.
    eval(&page, "new Promise(resolve => setTimeout(resolve, 50))").await;
    let errors = page.console_errors();
    assert_eq!(
        errors.first().map(String::as_str),
        Some("console.error: boom 42")
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("uncaught exception: Error: late")),
        "{errors:?}"
    );
    assert_eq!(eval(&page, "1 + 2").await, json!(3));
    assert!(page.eval("null.x").await.is_err());
}
