//! The CLI side of the admin API (`bulwark dlq`, `bulwark alerts`): one request to the
//! ops listener, the JSON answer printed. The token comes from `BULWARK_ADMIN_TOKEN`
//! (never a flag: flags end up in shell history and `ps`).

use std::process::ExitCode;

/// Builds one request with `build` (given a client and the base URL without a trailing
/// slash), sends it with the token, and prints the answer: pretty JSON on stdout for a
/// success, the status and problem on stderr otherwise. `scopes` names the scopes the
/// command needs, for the message when no token is set.
pub fn run(
    url: &str,
    scopes: &str,
    build: impl FnOnce(&reqwest::Client, &str) -> Result<reqwest::RequestBuilder, String>,
) -> ExitCode {
    let Ok(token) = std::env::var("BULWARK_ADMIN_TOKEN") else {
        eprintln!("set BULWARK_ADMIN_TOKEN to an admin token with the needed scope ({scopes})");
        return ExitCode::FAILURE;
    };
    let base = url.trim_end_matches('/');
    let client = reqwest::Client::new();
    let request = match build(&client, base) {
        Ok(request) => request,
        Err(problem) => {
            eprintln!("{problem}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(send(base, request.bearer_auth(token)))
}

/// `?k=v&...` of the pairs that have a value; values are the CLI's own (numbers, names).
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

async fn send(base: &str, request: reqwest::RequestBuilder) -> ExitCode {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            eprintln!("cannot reach the admin API at {base}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let pretty = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(text);
    if status.is_success() {
        if !pretty.is_empty() {
            println!("{pretty}");
        }
        ExitCode::SUCCESS
    } else {
        eprintln!("{status}: {pretty}");
        ExitCode::FAILURE
    }
}
