//! Headless Chromium for browser tests, driven over the Chrome DevTools Protocol on its
//! WebSocket (no WebDriver, no npm). Unlike the rest of this crate it is async: call it
//! from a `#[tokio::test]`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), bulwark_testkit::chromium::ChromiumError> {
//! use bulwark_testkit::chromium::{Browser, Viewport};
//! let browser = Browser::launch().await?;
//! let page = browser.open("http://127.0.0.1:8080/", Viewport::PHONE).await?;
//! let title = page.eval("document.title").await?;
//! assert!(page.console_errors().is_empty());
//! page.screenshot("target/test-artifacts/page.png").await?;
//! # Ok(()) }
//! ```
//!
//! Chromium is the Debian package `chromium` (`/usr/bin/chromium`, or the program named by
//! `BULWARK_CHROMIUM`). A missing browser is an error, never a skip.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::binaries;

/// How long Chromium may take to print its DevTools address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one protocol command may take to answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a page may take to fire its load event.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of Chromium's stderr kept for error messages.
const STDERR_TAIL: usize = 30;
const DEVTOOLS_PREFIX: &str = "DevTools listening on ";

/// What went wrong driving the browser.
#[derive(Debug, thiserror::Error)]
pub enum ChromiumError {
    #[error(
        "Chromium is not installed (looked for {looked_for}): install the Debian package \
         `chromium` (`bash scripts/test.sh` installs everything the tests need)"
    )]
    NotInstalled { looked_for: String },
    #[error("could not create Chromium's profile folder")]
    Profile(#[source] std::io::Error),
    #[error("could not start {program}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "Chromium printed no DevTools address within {timeout:?}; its stderr ended with:\n{stderr}"
    )]
    NoDevToolsAddress { timeout: Duration, stderr: String },
    #[error("could not connect to Chromium's DevTools WebSocket at {url}")]
    Connect {
        url: String,
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    #[error("sending {method} to Chromium failed")]
    Send {
        method: String,
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    #[error("the DevTools connection closed while waiting for {method}")]
    Closed { method: String },
    #[error("{method} got no answer within {timeout:?}")]
    Timeout { method: String, timeout: Duration },
    #[error("{method} failed: {message} (code {code})")]
    Protocol {
        method: String,
        code: i64,
        message: String,
    },
    #[error("{method} answered without the expected {field}")]
    MissingField { method: String, field: &'static str },
    #[error("navigating to {url} failed: {error}")]
    Navigation { url: String, error: String },
    #[error("{url} fired no load event within {timeout:?}")]
    LoadTimeout { url: String, timeout: Duration },
    #[error("the script threw: {message}")]
    Evaluation { message: String },
    #[error("the screenshot is not valid base64")]
    ScreenshotData(#[source] base64::DecodeError),
    #[error("could not write the screenshot to {path}")]
    WriteScreenshot {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

type Result<T, E = ChromiumError> = std::result::Result<T, E>;
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The size and kind of screen a page is shown on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
    /// Phone emulation: the page's `<meta name="viewport">` is honoured and touch is on.
    pub mobile: bool,
}

impl Viewport {
    /// An iPhone X-class phone: 375 x 812 CSS pixels.
    pub const PHONE: Viewport = Viewport {
        width: 375,
        height: 812,
        mobile: true,
    };
    /// A laptop screen: 1280 x 800.
    pub const DESKTOP: Viewport = Viewport {
        width: 1280,
        height: 800,
        mobile: false,
    };
}

/// A headless Chromium of the test's own, killed (with its helper processes) on Drop.
pub struct Browser {
    child: Child,
    connection: Arc<Connection>,
    reader: JoinHandle<()>,
    // Dropped after the process is killed (fields drop after `Drop::drop`).
    _profile: TempDir,
}

impl Browser {
    /// Starts Chromium headless on a free DevTools port with a fresh profile, and connects.
    pub async fn launch() -> Result<Browser> {
        let program = chromium_program()?;
        let profile = tempfile::Builder::new()
            .prefix("bulwark-chromium-")
            .tempdir()
            .map_err(ChromiumError::Profile)?;
        let mut command = Command::new(&program);
        command
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so Drop can kill the renderer and GPU helpers too.
            .process_group(0);
        let mut child = command.spawn().map_err(|source| ChromiumError::Spawn {
            program: program.clone(),
            source,
        })?;

        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (address_tx, address_rx) = oneshot::channel();
        if let Some(stderr) = child.stderr.take() {
            let tail = Arc::clone(&tail);
            // Keeps draining stderr after the address is found: a full pipe would stall
            // Chromium.
            std::thread::spawn(move || read_stderr(stderr, address_tx, tail));
        }
        let url = match tokio::time::timeout(LAUNCH_TIMEOUT, address_rx).await {
            Ok(Ok(url)) => url,
            _ => {
                kill_group(&mut child);
                let stderr = lock(&tail).iter().cloned().collect::<Vec<_>>().join("\n");
                return Err(ChromiumError::NoDevToolsAddress {
                    timeout: LAUNCH_TIMEOUT,
                    stderr,
                });
            }
        };

        // Full-page screenshots arrive as one base64 message, larger than the defaults.
        let config = WebSocketConfig::default()
            .max_message_size(Some(512 << 20))
            .max_frame_size(Some(512 << 20));
        let socket =
            match tokio_tungstenite::connect_async_with_config(&url, Some(config), true).await {
                Ok((socket, _response)) => socket,
                Err(source) => {
                    kill_group(&mut child);
                    return Err(ChromiumError::Connect {
                        url,
                        source: Box::new(source),
                    });
                }
            };
        let (sink, stream) = socket.split();
        let connection = Arc::new(Connection {
            sink: tokio::sync::Mutex::new(sink),
            next_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        });
        let reader = tokio::spawn(read_messages(stream, Arc::clone(&connection)));
        Ok(Browser {
            child,
            connection,
            reader,
            _profile: profile,
        })
    }

    /// Opens `url` in a new tab of the given size and waits for its load event.
    pub async fn open(&self, url: &str, viewport: Viewport) -> Result<Page> {
        let connection = &self.connection;
        let created = connection
            .call("Target.createTarget", json!({"url": "about:blank"}), None)
            .await?;
        let target_id = string_field(&created, "Target.createTarget", "targetId")?;
        let attached = connection
            .call(
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
                None,
            )
            .await?;
        let session_id = string_field(&attached, "Target.attachToTarget", "sessionId")?;
        let (loads, _) = watch::channel(0u64);
        let events = Arc::new(SessionEvents {
            errors: Mutex::new(Vec::new()),
            loads,
        });
        lock(&connection.sessions).insert(session_id.clone(), Arc::clone(&events));
        let page = Page {
            connection: Arc::clone(connection),
            session_id,
            target_id,
            events,
        };

        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            page.call(domain, json!({})).await?;
        }
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": viewport.width,
                "height": viewport.height,
                "deviceScaleFactor": 1,
                "mobile": viewport.mobile,
            }),
        )
        .await?;
        page.call(
            "Emulation.setTouchEmulationEnabled",
            json!({"enabled": viewport.mobile}),
        )
        .await?;
        page.navigate(url).await?;
        Ok(page)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.reader.abort();
        kill_group(&mut self.child);
    }
}

/// One tab, attached through a flat DevTools session.
pub struct Page {
    connection: Arc<Connection>,
    session_id: String,
    target_id: String,
    events: Arc<SessionEvents>,
}

impl Page {
    /// Navigates and waits for the load event (bounded by a timeout).
    pub async fn navigate(&self, url: &str) -> Result<()> {
        let mut loads = self.events.loads.subscribe();
        let before = *loads.borrow_and_update();
        let navigated = self.call("Page.navigate", json!({"url": url})).await?;
        if let Some(error) = navigated.get("errorText").and_then(Value::as_str)
            && !error.is_empty()
        {
            return Err(ChromiumError::Navigation {
                url: url.to_owned(),
                error: error.to_owned(),
            });
        }
        match tokio::time::timeout(LOAD_TIMEOUT, loads.wait_for(|count| *count > before)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(ChromiumError::Closed {
                method: "Page.loadEventFired".to_owned(),
            }),
            Err(_) => Err(ChromiumError::LoadTimeout {
                url: url.to_owned(),
                timeout: LOAD_TIMEOUT,
            }),
        }
    }

    /// Evaluates a JavaScript expression (promises are awaited) and returns its value as
    /// JSON; `undefined` is `null`. A thrown exception is an error.
    pub async fn eval(&self, expression: &str) -> Result<Value> {
        let answer = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        if let Some(details) = answer.get("exceptionDetails") {
            return Err(ChromiumError::Evaluation {
                message: exception_text(details),
            });
        }
        Ok(answer
            .get("result")
            .and_then(|result| result.get("value"))
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Console errors, uncaught exceptions and browser log errors (failed requests,
    /// CSP violations) seen so far, in order.
    pub fn console_errors(&self) -> Vec<String> {
        lock(&self.events.errors).clone()
    }

    /// Saves a PNG of the whole page (not only the viewport), creating parent folders.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
        let size = metrics
            .get("cssContentSize")
            .ok_or(ChromiumError::MissingField {
                method: "Page.getLayoutMetrics".to_owned(),
                field: "cssContentSize",
            })?;
        let width = size.get("width").and_then(Value::as_f64).unwrap_or(0.0);
        let height = size.get("height").and_then(Value::as_f64).unwrap_or(0.0);
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
                }),
            )
            .await?;
        let data = string_field(&shot, "Page.captureScreenshot", "data")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(ChromiumError::ScreenshotData)?;
        let write = |path: &Path| -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, &png)
        };
        write(path).map_err(|source| ChromiumError::WriteScreenshot {
            path: path.to_owned(),
            source,
        })
    }

    /// Closes the tab.
    pub async fn close(self) -> Result<()> {
        lock(&self.connection.sessions).remove(&self.session_id);
        self.connection
            .call(
                "Target.closeTarget",
                json!({"targetId": self.target_id}),
                None,
            )
            .await
            .map(|_| ())
    }

    /// Sends any DevTools command to this tab and returns its result.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.connection
            .call(method, params, Some(&self.session_id))
            .await
    }
}

/// What a tab reports by itself, recorded by the reader task.
struct SessionEvents {
    errors: Mutex<Vec<String>>,
    /// How many load events fired.
    loads: watch::Sender<u64>,
}

type Pending = oneshot::Sender<Result<Value, (i64, String)>>;

struct Connection {
    sink: tokio::sync::Mutex<SplitSink<Socket, Message>>,
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    sessions: Mutex<HashMap<String, Arc<SessionEvents>>>,
}

impl Connection {
    async fn call(&self, method: &str, params: Value, session: Option<&str>) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut request = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            request["sessionId"] = Value::from(session);
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        let sent = self
            .sink
            .lock()
            .await
            .send(Message::text(request.to_string()))
            .await;
        if let Err(source) = sent {
            lock(&self.pending).remove(&id);
            return Err(ChromiumError::Send {
                method: method.to_owned(),
                source: Box::new(source),
            });
        }
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err((code, message)))) => Err(ChromiumError::Protocol {
                method: method.to_owned(),
                code,
                message,
            }),
            Ok(Err(_)) => Err(ChromiumError::Closed {
                method: method.to_owned(),
            }),
            Err(_) => {
                lock(&self.pending).remove(&id);
                Err(ChromiumError::Timeout {
                    method: method.to_owned(),
                    timeout: CALL_TIMEOUT,
                })
            }
        }
    }
}

/// Routes answers to their callers and records each tab's events, until the socket ends.
async fn read_messages(mut stream: SplitStream<Socket>, connection: Arc<Connection>) {
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        if let Some(id) = value.get("id").and_then(Value::as_u64) {
            let Some(tx) = lock(&connection.pending).remove(&id) else {
                continue;
            };
            let answer = match value.get("error") {
                Some(error) => Err((
                    error.get("code").and_then(Value::as_i64).unwrap_or(0),
                    error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown error")
                        .to_owned(),
                )),
                None => Ok(value.get("result").cloned().unwrap_or(Value::Null)),
            };
            let _ = tx.send(answer);
        } else if let (Some(method), Some(session)) = (
            value.get("method").and_then(Value::as_str),
            value.get("sessionId").and_then(Value::as_str),
        ) {
            let events = lock(&connection.sessions).get(session).cloned();
            if let Some(events) = events {
                record_event(&events, method, value.get("params").unwrap_or(&Value::Null));
            }
        }
    }
    // Waking every caller with "closed" beats letting each wait for its timeout.
    lock(&connection.pending).clear();
}

fn record_event(events: &SessionEvents, method: &str, params: &Value) {
    let error = match method {
        "Page.loadEventFired" => {
            events.loads.send_modify(|count| *count += 1);
            None
        }
        "Runtime.consoleAPICalled" => {
            let kind = params.get("type").and_then(Value::as_str).unwrap_or("");
            (kind == "error" || kind == "assert").then(|| {
                let args = params.get("args").and_then(Value::as_array);
                let texts: Vec<String> = args
                    .into_iter()
                    .flatten()
                    .map(|arg| match arg.get("value") {
                        Some(Value::String(text)) => text.clone(),
                        Some(other) => other.to_string(),
                        None => arg
                            .get("description")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    })
                    .collect();
                format!("console.{kind}: {}", texts.join(" "))
            })
        }
        "Runtime.exceptionThrown" => params
            .get("exceptionDetails")
            .map(|details| format!("uncaught exception: {}", exception_text(details))),
        "Log.entryAdded" => params.get("entry").and_then(|entry| {
            let level = entry.get("level").and_then(Value::as_str)?;
            (level == "error").then(|| {
                let text = entry.get("text").and_then(Value::as_str).unwrap_or("");
                match entry.get("url").and_then(Value::as_str) {
                    Some(url) if !url.is_empty() => format!("log: {text} ({url})"),
                    _ => format!("log: {text}"),
                }
            })
        }),
        _ => None,
    };
    if let Some(error) = error {
        lock(&events.errors).push(error);
    }
}

fn exception_text(details: &Value) -> String {
    details
        .get("exception")
        .and_then(|exception| exception.get("description"))
        .and_then(Value::as_str)
        .or_else(|| details.get("text").and_then(Value::as_str))
        .unwrap_or("unknown exception")
        .to_owned()
}

fn string_field(value: &Value, method: &str, field: &'static str) -> Result<String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(ChromiumError::MissingField {
            method: method.to_owned(),
            field,
        })
}

fn chromium_program() -> Result<PathBuf> {
    resolve_program(
        std::env::var_os("BULWARK_CHROMIUM"),
        binaries::on_path("chromium"),
    )
}

/// `BULWARK_CHROMIUM` when set (it must exist: a wrong override is a mistake to report,
/// not a reason to fall back), else `chromium` from PATH.
fn resolve_program(
    override_path: Option<std::ffi::OsString>,
    on_path: Option<PathBuf>,
) -> Result<PathBuf> {
    if let Some(program) = override_path.filter(|p| !p.is_empty()) {
        let program = PathBuf::from(program);
        return if program.is_file() {
            Ok(program)
        } else {
            Err(ChromiumError::NotInstalled {
                looked_for: format!("BULWARK_CHROMIUM={}", program.display()),
            })
        };
    }
    on_path.ok_or(ChromiumError::NotInstalled {
        looked_for: "`chromium` on PATH".to_owned(),
    })
}

fn read_stderr(
    stderr: std::process::ChildStderr,
    address: oneshot::Sender<String>,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let mut address = Some(address);
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if let Some(url) = line.trim().strip_prefix(DEVTOOLS_PREFIX)
            && let Some(tx) = address.take()
        {
            let _ = tx.send(url.trim().to_owned());
        }
        let mut tail = lock(&tail);
        if tail.len() == STDERR_TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

/// Kills Chromium and every helper process it started, then reaps it.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group that `child`
        // leads (spawned with `process_group(0)`); it touches no memory of ours.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A panic on another test thread must not hide this one's errors.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_chromium_is_an_error_naming_the_package() {
        let error = resolve_program(None, None).unwrap_err();
        assert!(matches!(error, ChromiumError::NotInstalled { .. }));
        assert!(
            error
                .to_string()
                .contains("install the Debian package `chromium`"),
            "{error}"
        );
        let wrong = resolve_program(
            Some("/nonexistent/chromium".into()),
            Some(PathBuf::from("/usr/bin/chromium")),
        );
        assert!(
            matches!(wrong, Err(ChromiumError::NotInstalled { looked_for }) if looked_for == "BULWARK_CHROMIUM=/nonexistent/chromium")
        );
        let from_path = resolve_program(None, Some(PathBuf::from("/usr/bin/chromium"))).unwrap();
        assert_eq!(from_path, PathBuf::from("/usr/bin/chromium"));
    }

    #[test]
    fn console_errors_and_exceptions_are_recorded_and_other_levels_ignored() {
        let (loads, _) = watch::channel(0);
        let events = SessionEvents {
            errors: Mutex::new(Vec::new()),
            loads,
        };
        record_event(
            &events,
            "Runtime.consoleAPICalled",
            &json!({"type": "log", "args": [{"type": "string", "value": "fine"}]}),
        );
        record_event(
            &events,
            "Runtime.consoleAPICalled",
            &json!({"type": "error", "args": [
                {"type": "string", "value": "boom"},
                {"type": "object", "description": "Object"}
            ]}),
        );
        record_event(
            &events,
            "Log.entryAdded",
            &json!({"entry": {"level": "warning", "text": "meh"}}),
        );
        record_event(
            &events,
            "Log.entryAdded",
            &json!({"entry": {"level": "error", "text": "404", "url": "http://x/favicon.ico"}}),
        );
        record_event(
            &events,
            "Runtime.exceptionThrown",
            &json!({"exceptionDetails": {"text": "Uncaught", "exception": {"description": "Error: bad"}}}),
        );
        record_event(&events, "Page.loadEventFired", &json!({}));
        assert_eq!(
            *events.errors.lock().unwrap(),
            vec![
                "console.error: boom Object",
                "log: 404 (http://x/favicon.ico)",
                "uncaught exception: Error: bad",
            ]
        );
        assert_eq!(*events.loads.borrow(), 1);
    }
}
