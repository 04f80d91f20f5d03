//! Reaching a server: a [`Session`] is one live connection, a
//! [`Connector`] makes them. The real connector speaks MCP through
//! `rmcp` over a child process's stdio or streamable HTTP; tests of the
//! supervision put a fake in its place.
//!
//! A stdio server gets a small environment: `PATH`, `HOME`, `USER`,
//! `LANG`, `LC_ALL`, `TERM`, `SHELL`, `TMPDIR` and `XDG_*` from hermod's,
//! plus its own `env:` (as Hermes does), so the gateway's API keys do not
//! leak into every tool server. Its stderr goes to the log (target
//! `hermod::mcp`), never to the gateway's stdout; it is killed when its
//! session ends or hermod exits.

use crate::config::{ServerSpec, Transport};
use async_trait::async_trait;
use hermod_model::Secret;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    JsonObject, Tool as RemoteTool,
};
use rmcp::service::{
    NotificationContext, Peer, QuitReason, RoleClient, RunningService,
    RunningServiceCancellationToken, ServiceError,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Notify, watch};

/// Variables of hermod's environment a stdio server also gets.
const PASSED_ENV: [&str; 8] = [
    "PATH", "HOME", "USER", "LANG", "LC_ALL", "TERM", "SHELL", "TMPDIR",
];
/// Headers the transport sets itself.
const RESERVED_HEADERS: [&str; 4] = [
    "accept",
    "mcp-session-id",
    "last-event-id",
    "mcp-protocol-version",
];
/// A stderr line longer than this is cut in the log.
const MAX_LOG_LINE: usize = 2000;

/// One live connection to a server.
#[async_trait]
pub(crate) trait Session: Send + Sync {
    /// Every tool the server has (all pages).
    async fn list_tools(&self) -> Result<Vec<RemoteTool>, String>;
    /// Calls the server's tool `name`. Dropping the future cancels the call.
    async fn call_tool(&self, name: &str, arguments: JsonObject) -> Result<CallToolResult, String>;
    /// Resolves, with why, once the session is over: the process exited,
    /// the connection closed, or a request found the transport broken.
    async fn closed(&self) -> String;
    /// Ends the session; a child process is asked to exit, then killed.
    async fn close(&self);
}

/// Makes sessions.
#[async_trait]
pub(crate) trait Connector: Send + Sync {
    /// Connects to `spec`'s server and completes the handshake; `changed`
    /// is notified whenever the server says its tool list changed.
    async fn connect(
        &self,
        spec: &ServerSpec,
        changed: Arc<Notify>,
    ) -> Result<Arc<dyn Session>, String>;
}

/// Checks that `name: value` can be sent as a header; the reason when not.
pub(crate) fn check_header(name: &str, value: &Secret) -> Result<(), String> {
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "header {name} is set by the MCP transport itself; remove it from headers"
        ));
    }
    reqwest::header::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("header name {name:?} is not a valid HTTP header name"))?;
    reqwest::header::HeaderValue::from_str(value.expose()).map_err(|_| {
        format!("the value of header {name} has characters a header cannot carry (a line break?)")
    })?;
    Ok(())
}

/// The connector that speaks MCP with `rmcp`.
#[derive(Debug, Default)]
pub(crate) struct RmcpConnector;

#[async_trait]
impl Connector for RmcpConnector {
    async fn connect(
        &self,
        spec: &ServerSpec,
        changed: Arc<Notify>,
    ) -> Result<Arc<dyn Session>, String> {
        let handler = Handler { changed };
        let service = match &spec.transport {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let mut cmd = tokio::process::Command::new(command);
                cmd.args(args).env_clear().kill_on_drop(true);
                for (key, value) in std::env::vars_os() {
                    let passed = key
                        .to_str()
                        .is_some_and(|k| PASSED_ENV.contains(&k) || k.starts_with("XDG_"));
                    if passed {
                        cmd.env(key, value);
                    }
                }
                cmd.envs(env.iter().map(|(k, v)| (k, v.expose())));
                if let Some(cwd) = cwd {
                    cmd.current_dir(cwd);
                }
                let (process, stderr) = TokioChildProcess::builder(cmd)
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("could not start {command}: {e}"))?;
                if let Some(stderr) = stderr {
                    tokio::spawn(log_stderr(spec.name.clone(), stderr));
                }
                handler
                    .serve(process)
                    .await
                    .map_err(|e| format!("the MCP handshake failed: {e}"))?
            }
            Transport::Http { url, headers } => {
                let mut custom = HashMap::new();
                for (name, value) in headers {
                    let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("header name {name:?} is not valid"))?;
                    let mut value = reqwest::header::HeaderValue::from_str(value.expose())
                        .map_err(|_| format!("the value of header {name} is not valid"))?;
                    value.set_sensitive(true);
                    custom.insert(name, value);
                }
                let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .custom_headers(custom)
                    .reinit_on_expired_session(true);
                let transport = StreamableHttpClientTransport::with_client(http_client()?, config);
                handler.serve(transport).await.map_err(|e| {
                    // The error may quote the URL, query (a token?) and all.
                    let shown = crate::config::shown_url(url);
                    format!("could not connect to {shown}: {e}").replace(url.as_str(), &shown)
                })?
            }
        };
        Ok(Arc::new(RmcpSession::new(service)))
    }
}

/// The HTTP client for MCP endpoints: hermod's TLS setup, and redirects
/// only within the same origin, so configured headers (tokens) never
/// follow a redirect to another host.
fn http_client() -> Result<reqwest::Client, String> {
    hermod_http::install_crypto_provider();
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if attempt.previous().len() > 10 || !same_origin {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .tls_backend_rustls()
        .user_agent(hermod_http::USER_AGENT)
        .connect_timeout(std::time::Duration::from_secs(10))
        .redirect(policy)
        .build()
        .map_err(|e| format!("could not set up the HTTP client: {e}"))
}

/// Logs a stdio server's stderr, line by line.
async fn log_stderr(server: String, stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                let line = match line.char_indices().nth(MAX_LOG_LINE) {
                    Some((cut, _)) => format!("{}…", &line[..cut]),
                    None => line,
                };
                tracing::info!(target: "hermod::mcp", server = %server, "stderr: {line}");
            }
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(target: "hermod::mcp", server = %server, error = %e, "stopped reading stderr");
                break;
            }
        }
    }
}

/// Who hermod is, and where tool list changes go.
#[derive(Debug, Clone)]
struct Handler {
    changed: Arc<Notify>,
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("hermod", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }
}

/// A session over `rmcp`.
struct RmcpSession {
    peer: Peer<RoleClient>,
    /// Stops the service (taken by the first [`Session::close`]).
    cancel: Mutex<Option<RunningServiceCancellationToken>>,
    /// Why the session ended, once it has.
    ended: watch::Sender<Option<String>>,
    /// Set once the service's task has finished, transport closed.
    finished: watch::Sender<bool>,
}

impl RmcpSession {
    fn new(service: RunningService<RoleClient, Handler>) -> Self {
        let peer = service.peer().clone();
        let cancel = Mutex::new(Some(service.cancellation_token()));
        let (ended, _) = watch::channel(None);
        let (finished, _) = watch::channel(false);
        let (on_end, on_finish) = (ended.clone(), finished.clone());
        // The service's task ends when its transport does (the process
        // exited, the stream ended) or when it is cancelled, after closing
        // the transport (a child process is then asked to exit and killed).
        tokio::spawn(async move {
            let reason = match service.waiting().await {
                Ok(QuitReason::Cancelled) => "closed by hermod".to_owned(),
                Ok(_) => "the connection closed (did the server exit?)".to_owned(),
                Err(e) => format!("the connection failed ({e})"),
            };
            on_end.send_if_modified(|r| {
                r.get_or_insert(reason);
                true
            });
            on_finish.send_replace(true);
        });
        Self {
            peer,
            cancel,
            ended,
            finished,
        }
    }

    /// Records a transport failure a request ran into: the session is over.
    fn broken(&self, error: &ServiceError) -> bool {
        let broken = matches!(
            error,
            ServiceError::TransportClosed | ServiceError::TransportSend(_)
        );
        if broken {
            let reason = format!("the connection broke: {error}");
            self.ended.send_if_modified(|r| {
                r.get_or_insert(reason);
                true
            });
        }
        broken
    }
}

#[async_trait]
impl Session for RmcpSession {
    async fn list_tools(&self) -> Result<Vec<RemoteTool>, String> {
        self.peer.list_all_tools().await.map_err(|e| {
            self.broken(&e);
            format!("listing the tools failed: {e}")
        })
    }

    async fn call_tool(&self, name: &str, arguments: JsonObject) -> Result<CallToolResult, String> {
        let params = CallToolRequestParams::new(name.to_owned()).with_arguments(arguments);
        self.peer.call_tool(params).await.map_err(|e| {
            if self.broken(&e) {
                format!("the connection to the server broke during the call ({e})")
            } else {
                e.to_string()
            }
        })
    }

    async fn closed(&self) -> String {
        let mut ended = self.ended.subscribe();
        match ended.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            Err(_) => "the session was dropped".into(),
        }
    }

    async fn close(&self) {
        let cancel = self.cancel.lock().ok().and_then(|mut c| c.take());
        if let Some(cancel) = cancel {
            cancel.cancel();
        }
        let mut finished = self.finished.subscribe();
        // Only an error when the task is gone, which means it finished.
        let _finished = finished.wait_for(|done| *done).await;
    }
}

impl Drop for RmcpSession {
    /// A session dropped without [`Session::close`] still ends: its
    /// process is asked to exit and killed by the service's task.
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.get_mut().ok().and_then(Option::take) {
            cancel.cancel();
        }
    }
}
