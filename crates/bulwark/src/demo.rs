//! The quick start's built-in upstream: answers every request with a JSON echo of what
//! it received (method, path, headers), so a first run needs no app behind bulwark.
//! `/status/<code>` answers with that status, to show retries and the dead-letter queue.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub async fn serve(listener: TcpListener, cancel: CancellationToken) {
    let app = axum::Router::new().fallback(echo);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await;
    if let Err(error) = result {
        tracing::error!(%error, "Demo upstream stopped.");
    }
}

async fn echo(request: Request) -> (StatusCode, Json<serde_json::Value>) {
    // Shows deliveries in the quick start's log; webhook-id is set on deliveries only.
    let webhook_id = request
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok());
    tracing::info!(
        method = request.method().as_str(),
        path = request.uri().path(),
        webhook_id = webhook_id.unwrap_or("-"),
        "Demo upstream received a request."
    );
    let headers: BTreeMap<&str, &str> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("<binary>")))
        .collect();
    let status = request
        .uri()
        .path()
        .strip_prefix("/status/")
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    let body = Json(serde_json::json!({
        "hello": "from the demo upstream behind bulwark",
        "method": request.method().as_str(),
        "path": request.uri().path(),
        "headers": headers,
    }));
    (status, body)
}
