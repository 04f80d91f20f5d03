//! [`Connection`]: one running agent process and the JSON-RPC 2.0 traffic
//! on its stdin/stdout.
//!
//! A reader task owns the process: it reads frames, hands responses to the
//! requests waiting for them, routes `session/update` notifications and
//! `session/request_permission` requests to the turn subscribed to their
//! ACP session, and answers client methods hermod does not offer with
//! -32601. Malformed frames are logged and skipped. When the output ends
//! (the process died) or a frame is too long, the connection is dead: every
//! waiting request fails with the exit status and the last stderr line, and
//! the whole process group is killed so no tool the agent started outlives
//! it. stderr is logged line by line under the `hermod::acp` target (at
//! DEBUG, or WARN for lines that report an error).

use crate::config::AcpConfig;
use crate::error::AcpError;
use crate::frames::{MAX_FRAME, read_frame};
use crate::protocol::{
    self, Frame, Incoming, InitializeResponse, METHOD_NOT_FOUND, PermissionRequest, RpcError,
    SessionNotification, Update,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// The tracing target of everything the agent process says.
pub(crate) const LOG_TARGET: &str = "hermod::acp";

/// How long a process that closed its output gets to exit before it is
/// killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// What the agent sends about one ACP session, in the order it sent it.
#[derive(Debug)]
pub(crate) enum SessionMessage {
    Update(Update),
    /// A permission request; answer it with [`Connection::respond`].
    Permission {
        id: Value,
        request: PermissionRequest,
    },
}

type Pending = oneshot::Sender<Result<Value, RpcError>>;

#[derive(Debug, Default)]
struct Routes {
    pending: HashMap<u64, Pending>,
    sessions: HashMap<String, mpsc::UnboundedSender<SessionMessage>>,
    /// Set once the connection died; nothing new is routed after.
    death: Option<AcpError>,
}

/// The shared state of a connection (the reader task holds it too).
#[derive(Debug)]
struct Inner {
    stdin: tokio::sync::Mutex<ChildStdin>,
    next_id: AtomicU64,
    routes: Mutex<Routes>,
    /// Fires once the connection is dead.
    dead: CancellationToken,
    /// Fired by hermod to end the process.
    kill: CancellationToken,
}

impl Inner {
    fn routes(&self) -> MutexGuard<'_, Routes> {
        // Every update is a single insert, remove or drain.
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running agent process, initialized. Dropping it kills the process.
#[derive(Debug)]
pub(crate) struct Connection {
    inner: Arc<Inner>,
    /// Which start of the agent this is (sessions of older ones are gone).
    pub(crate) generation: u64,
    pub(crate) init: InitializeResponse,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.inner.kill.cancel();
    }
}

impl Connection {
    /// Starts the agent and runs `initialize`.
    pub(crate) async fn start(config: &AcpConfig, generation: u64) -> Result<Self, AcpError> {
        let mut command = tokio::process::Command::new(&config.command);
        command
            .args(&config.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command.env_clear().envs(config.process_env());
        if let Some(dir) = &config.cwd {
            command.current_dir(dir);
        }
        // Its own process group, so shutting down reaches the tools it runs.
        #[cfg(unix)]
        command.process_group(0);
        let spawn_error = |reason: String| AcpError::Spawn {
            command: config.command.clone(),
            reason,
        };
        let mut child = command.spawn().map_err(|e| spawn_error(e.to_string()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(spawn_error("its standard streams were not piped".into()));
        };
        tracing::info!(
            target: LOG_TARGET,
            command = %config.command,
            pid = child.id(),
            generation,
            "ACP agent started"
        );
        let inner = Arc::new(Inner {
            stdin: tokio::sync::Mutex::new(stdin),
            next_id: AtomicU64::new(0),
            routes: Mutex::default(),
            dead: CancellationToken::new(),
            kill: CancellationToken::new(),
        });
        let last_stderr = Arc::new(Mutex::new(None));
        let stderr_task = tokio::spawn(log_stderr(stderr, last_stderr.clone()));
        tokio::spawn(read_loop(
            inner.clone(),
            child,
            stdout,
            stderr_task,
            last_stderr,
        ));
        let mut connection = Self {
            inner,
            generation,
            init: InitializeResponse::default(),
        };
        let answer = connection
            .request_within(
                "initialize",
                protocol::initialize_params(),
                config.startup_timeout(),
            )
            .await?;
        let init: InitializeResponse = serde_json::from_value(answer)
            .map_err(|e| AcpError::Protocol(format!("unreadable initialize answer: {e}")))?;
        if init.protocol_version != protocol::PROTOCOL_VERSION {
            return Err(AcpError::Protocol(format!(
                "the agent speaks protocol version {}, hermod speaks {}",
                init.protocol_version,
                protocol::PROTOCOL_VERSION
            )));
        }
        let info = init.agent_info.clone().unwrap_or_default();
        tracing::info!(
            target: LOG_TARGET,
            agent = %info.name,
            version = %info.version,
            load_session = init.agent_capabilities.load_session,
            images = init.agent_capabilities.prompt_capabilities.image,
            "ACP agent initialized"
        );
        connection.init = init;
        Ok(connection)
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.inner.dead.is_cancelled()
    }

    /// Sends a request and waits for its answer (no time limit: a prompt
    /// lasts as long as the agent works).
    pub(crate) async fn request(&self, method: &str, params: Value) -> Result<Value, AcpError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut routes = self.inner.routes();
            if let Some(death) = &routes.death {
                return Err(death.clone());
            }
            routes.pending.insert(id, tx);
        }
        let frame = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        if let Err(err) = self.write(&frame).await {
            self.inner.routes().pending.remove(&id);
            return Err(err);
        }
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(AcpError::Rpc {
                method: method.to_owned(),
                error,
            }),
            Err(_) => Err(self.death().await),
        }
    }

    /// [`Connection::request`] bounded by `limit`.
    pub(crate) async fn request_within(
        &self,
        method: &'static str,
        params: Value,
        limit: Duration,
    ) -> Result<Value, AcpError> {
        match tokio::time::timeout(limit, self.request(method, params)).await {
            Ok(result) => result,
            Err(_) => Err(AcpError::Timeout {
                what: method,
                secs: limit.as_secs(),
            }),
        }
    }

    /// Sends a notification.
    pub(crate) async fn notify(&self, method: &str, params: Value) -> Result<(), AcpError> {
        self.write(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await
    }

    /// Answers a request of the agent.
    pub(crate) async fn respond(&self, id: Value, result: Value) -> Result<(), AcpError> {
        self.write(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
            .await
    }

    /// Routes what the agent sends about `session_id` to the returned
    /// receiver until [`Connection::unsubscribe`].
    pub(crate) fn subscribe(
        &self,
        session_id: &str,
    ) -> Result<mpsc::UnboundedReceiver<SessionMessage>, AcpError> {
        // Unbounded so one slow chat never stalls the reader (and with it
        // every other session): the agent writes at the pace of a model.
        let (tx, rx) = mpsc::unbounded_channel();
        let mut routes = self.inner.routes();
        if let Some(death) = &routes.death {
            return Err(death.clone());
        }
        routes.sessions.insert(session_id.to_owned(), tx);
        Ok(rx)
    }

    pub(crate) fn unsubscribe(&self, session_id: &str) {
        self.inner.routes().sessions.remove(session_id);
    }

    /// Kills the process group and waits (bounded) until the reader saw it.
    pub(crate) async fn shutdown(&self) {
        self.inner.kill.cancel();
        let _ = tokio::time::timeout(EXIT_GRACE, self.inner.dead.cancelled()).await;
    }

    async fn write(&self, frame: &Value) -> Result<(), AcpError> {
        let mut line = frame.to_string();
        line.push('\n');
        let written = {
            let mut stdin = self.inner.stdin.lock().await;
            match stdin.write_all(line.as_bytes()).await {
                Ok(()) => stdin.flush().await,
                Err(err) => Err(err),
            }
        };
        match written {
            Ok(()) => Ok(()),
            // A closed pipe means the process is going or gone; the reader
            // knows why.
            Err(_) => Err(self.death().await),
        }
    }

    /// Why the connection died, once the reader has found out.
    async fn death(&self) -> AcpError {
        let _ = tokio::time::timeout(EXIT_GRACE, self.inner.dead.cancelled()).await;
        self.inner
            .routes()
            .death
            .clone()
            .unwrap_or_else(|| AcpError::Exited {
                status: "its pipes closed".into(),
                stderr: None,
            })
    }
}

/// Logs each stderr line and remembers the last non-empty one.
async fn log_stderr(stderr: tokio::process::ChildStderr, last: Arc<Mutex<Option<String>>>) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if looks_like_an_error(line) {
            tracing::warn!(target: LOG_TARGET, "agent: {line}");
        } else {
            // Agents log every prompt (often with the user's words): detail.
            tracing::debug!(target: LOG_TARGET, "agent: {line}");
        }
        *last.lock().unwrap_or_else(PoisonError::into_inner) = Some(line.to_owned());
    }
}

/// Whether a stderr line reports a failure (Python's and Rust's logging
/// and crash formats), which an operator should see without debug logs.
fn looks_like_an_error(line: &str) -> bool {
    ["ERROR", "CRITICAL", "FATAL", "Traceback", "panicked"]
        .iter()
        .any(|mark| line.contains(mark))
}

/// Reads frames until the output ends, hermod kills the process, or a frame
/// is too long; then records why the connection died.
async fn read_loop(
    inner: Arc<Inner>,
    mut child: Child,
    stdout: ChildStdout,
    stderr_task: tokio::task::JoinHandle<()>,
    last_stderr: Arc<Mutex<Option<String>>>,
) {
    let pid = child.id();
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    let mut broken = None;
    loop {
        let read = tokio::select! {
            () = inner.kill.cancelled() => {
                broken = Some(AcpError::Shutdown);
                break;
            }
            read = read_frame(&mut reader, &mut line, MAX_FRAME) => read,
        };
        match read {
            Ok(true) => dispatch(&inner, &line),
            Ok(false) => break,
            Err(err) => {
                tracing::warn!(target: LOG_TARGET, error = %err, "ending the ACP agent");
                broken = Some(AcpError::Protocol(err.to_string()));
                break;
            }
        }
    }
    if broken.is_some() {
        kill_group(pid).await;
        let _ = child.start_kill();
    }
    let status = match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        Ok(Ok(status)) => status.to_string(),
        Ok(Err(err)) => format!("its status is unknown: {err}"),
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            "it closed its output and was killed".to_owned()
        }
    };
    // Whatever the agent started in its group goes with it.
    kill_group(pid).await;
    // The last words usually arrive just before or after the output ends.
    let _ = tokio::time::timeout(Duration::from_secs(1), stderr_task).await;
    let stderr = last_stderr
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let death = broken.unwrap_or(AcpError::Exited { status, stderr });
    if !matches!(death, AcpError::Shutdown) {
        tracing::warn!(target: LOG_TARGET, error = %death, "ACP agent gone");
    }
    let (pending, sessions) = {
        let mut routes = inner.routes();
        routes.death = Some(death);
        (
            std::mem::take(&mut routes.pending),
            std::mem::take(&mut routes.sessions),
        )
    };
    // Dropping the senders wakes every waiter, who then reads the death.
    drop(pending);
    drop(sessions);
    inner.dead.cancel();
}

/// Ends the agent's whole process group (it leads its own group).
async fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid {
        // Without libc (unsafe is forbidden here), kill(1) does it.
        let _ = tokio::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
    #[cfg(not(unix))]
    let _ = pid;
}

fn dispatch(inner: &Arc<Inner>, line: &[u8]) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let frame = match serde_json::from_slice::<Incoming>(line) {
        Ok(incoming) => incoming.classify(),
        Err(err) => {
            tracing::warn!(
                target: LOG_TARGET,
                error = %err,
                frame = %preview(line),
                "skipping a malformed frame from the ACP agent"
            );
            return;
        }
    };
    match frame {
        Some(Frame::Response { id, result }) => {
            let waiter = inner.routes().pending.remove(&id);
            match waiter {
                Some(waiter) => {
                    let _ = waiter.send(result);
                }
                None => tracing::debug!(target: LOG_TARGET, id, "answer to no open request"),
            }
        }
        Some(Frame::Notification { method, params }) => on_notification(inner, &method, params),
        Some(Frame::Request { id, method, params }) => {
            on_request(inner, &id, &method, params);
        }
        None => tracing::warn!(
            target: LOG_TARGET,
            frame = %preview(line),
            "skipping a frame that is neither request, response nor notification"
        ),
    }
}

fn on_notification(inner: &Inner, method: &str, params: Value) {
    if method != "session/update" {
        tracing::debug!(target: LOG_TARGET, method, "ignoring a notification");
        return;
    }
    let Ok(note) = serde_json::from_value::<SessionNotification>(params) else {
        tracing::warn!(target: LOG_TARGET, "skipping a session/update without sessionId or update");
        return;
    };
    let Some(update) = Update::parse(&note.update) else {
        tracing::warn!(target: LOG_TARGET, session = %note.session_id, "skipping a malformed session/update");
        return;
    };
    let routes = inner.routes();
    match routes.sessions.get(&note.session_id) {
        Some(tx) => {
            let _ = tx.send(SessionMessage::Update(update));
        }
        // Replayed history of a `session/load`, or updates after a turn.
        None => {
            tracing::debug!(target: LOG_TARGET, session = %note.session_id, ?update, "update outside a turn")
        }
    }
}

fn on_request(inner: &Arc<Inner>, id: &Value, method: &str, params: Value) {
    let answer = if method == "session/request_permission" {
        match serde_json::from_value::<PermissionRequest>(params) {
            Ok(request) => {
                let session = request.session_id.clone();
                let routed = {
                    let routes = inner.routes();
                    routes.sessions.get(&session).is_some_and(|tx| {
                        tx.send(SessionMessage::Permission {
                            id: id.clone(),
                            request,
                        })
                        .is_ok()
                    })
                };
                if routed {
                    return;
                }
                tracing::info!(target: LOG_TARGET, %session, "permission asked outside a turn: cancelled");
                json!({"jsonrpc": "2.0", "id": id, "result": protocol::permission_outcome(None)})
            }
            Err(err) => json!({"jsonrpc": "2.0", "id": id, "error": {
                "code": -32602, "message": format!("invalid params: {err}")
            }}),
        }
    } else {
        tracing::debug!(target: LOG_TARGET, method, "the agent called a method hermod does not offer");
        json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": METHOD_NOT_FOUND,
            "message": format!("hermod does not offer {method}"),
        }})
    };
    let mut line = answer.to_string();
    line.push('\n');
    // Written beside the reader: a turn may hold stdin for a long prompt
    // that the agent reads only once its own output is drained.
    let inner = inner.clone();
    tokio::spawn(async move {
        let mut stdin = inner.stdin.lock().await;
        if stdin.write_all(line.as_bytes()).await.is_ok() {
            let _ = stdin.flush().await;
        }
    });
}

/// The start of a frame for a log line.
fn preview(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut shown: String = text.chars().take(200).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_of_the_agent_are_told_apart() {
        assert!(looks_like_an_error(
            "2026-12-05 09:56:39 [ERROR] acp_adapter.server: Agent error in session x"
        ));
        assert!(looks_like_an_error("Traceback (most recent call last):"));
        assert!(looks_like_an_error(
            "thread 'main' panicked at src/main.rs:3:5"
        ));
        assert!(!looks_like_an_error(
            "2026-12-05 09:56:39 [INFO] acp_adapter.server: Prompt on session x: hello"
        ));
    }

    #[test]
    fn previews_are_cut() {
        let long = "é".repeat(300);
        let shown = preview(long.as_bytes());
        assert_eq!(shown.chars().count(), 201);
        assert!(shown.ends_with('…'));
        assert_eq!(preview(b"short"), "short");
    }
}
