//! One configured server: its state, its tools, and the task that keeps
//! it connected.
//!
//! The supervisor connects (bounded by `connect_timeout`), lists the
//! tools, and then waits for the session to end, the tool list to change,
//! a reload, or shutdown. When a connection attempt fails or a session
//! ends, the server's tools stay known but are not offered, and the next
//! attempt waits a backoff: 1 s doubling to 60 s (Hermes' ceiling), on
//! tokio's clock; it starts from 1 s again after a session that lasted at
//! least the ceiling, or after a reload.

use crate::config::ServerSpec;
use crate::naming;
use crate::tool::McpTool;
use crate::transport::{Connector, Session};
use rmcp::model::Tool as RemoteTool;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long to wait before reconnecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// After the first failure.
    pub initial: Duration,
    /// The longest wait; each failure doubles the last.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait after `failures` failures in a row (at least one).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// Where a server is.
#[derive(Debug, Clone)]
pub(crate) enum Phase {
    /// `enabled: false`.
    Disabled,
    Connecting,
    Connected(Arc<dyn Session>),
    /// The last attempt failed or the session ended; retried at `retry_at`.
    Failed {
        error: String,
        retry_at: Instant,
    },
    /// The manager shut down.
    Stopped,
}

impl std::fmt::Debug for dyn Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session")
    }
}

/// What the tools of a server share with it.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) spec: ServerSpec,
    phase: Mutex<Phase>,
    /// Bumped on every change, for those waiting for one.
    changes: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Phase> {
        // A panic while holding this lock leaves a valid phase behind.
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn phase(&self) -> Phase {
        self.lock().clone()
    }

    fn set(&self, phase: Phase) {
        *self.lock() = phase;
        self.changes.send_modify(|n| *n += 1);
    }

    /// The live session, or why there is none, as a tool call reports it.
    pub(crate) fn session(&self) -> Result<Arc<dyn Session>, String> {
        let name = &self.spec.name;
        match self.phase() {
            Phase::Connected(session) => Ok(session),
            Phase::Connecting => Err(format!(
                "the MCP server '{name}' is (re)connecting; try again in a moment"
            )),
            Phase::Failed { error, retry_at } => Err(format!(
                "the MCP server '{name}' is restarting after: {error}. It is retried in {}.",
                human(retry_at.saturating_duration_since(Instant::now()))
            )),
            Phase::Disabled => Err(format!("the MCP server '{name}' is disabled")),
            Phase::Stopped => Err(format!("the MCP server '{name}' has shut down")),
        }
    }
}

/// `3 s`, `1 min 5 s`; whole seconds, rounded up.
pub(crate) fn human(duration: Duration) -> String {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// A request to a server's supervisor.
#[derive(Debug)]
pub(crate) enum Request {
    /// Reconnect now; answered once the new attempt has connected or failed.
    Reload(oneshot::Sender<()>),
}

/// A configured server.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) shared: Arc<Shared>,
    /// The tools of the last listing: offered while connected, still
    /// found by name while not, so a chosen call says why it cannot run.
    tools: Mutex<Vec<Arc<McpTool>>>,
    requests: mpsc::UnboundedSender<Request>,
    /// Connection attempts finished (connected or failed).
    settled: watch::Sender<u64>,
}

impl Server {
    /// A server and the receiving end of its requests.
    pub(crate) fn new(spec: ServerSpec) -> (Arc<Self>, mpsc::UnboundedReceiver<Request>) {
        let phase = if spec.enabled {
            Phase::Connecting
        } else {
            Phase::Disabled
        };
        let (requests, receiver) = mpsc::unbounded_channel();
        let server = Arc::new(Self {
            shared: Arc::new(Shared {
                spec,
                phase: Mutex::new(phase),
                changes: watch::channel(0).0,
            }),
            tools: Mutex::default(),
            requests,
            settled: watch::channel(0).0,
        });
        (server, receiver)
    }

    pub(crate) fn name(&self) -> &str {
        &self.shared.spec.name
    }

    /// The tools of the last listing, whether offered now or not.
    pub(crate) fn tools(&self) -> Vec<Arc<McpTool>> {
        self.tools.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_tools(&self, tools: Vec<Arc<McpTool>>) {
        *self.tools.lock().unwrap_or_else(|e| e.into_inner()) = tools;
    }

    /// Whether its tools are offered now.
    pub(crate) fn is_connected(&self) -> bool {
        matches!(self.shared.phase(), Phase::Connected(_))
    }

    /// Asks for a reconnection; the receiver fires when it has connected
    /// or failed (or the supervisor is gone).
    pub(crate) fn reload(&self) -> oneshot::Receiver<()> {
        let (ack, done) = oneshot::channel();
        // A supervisor that is gone drops the ack: the reload is then over.
        let _sent = self.requests.send(Request::Reload(ack));
        done
    }

    /// Every change of phase, counted.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// Connection attempts finished so far, counted.
    pub(crate) fn attempts(&self) -> watch::Receiver<u64> {
        self.settled.subscribe()
    }

    fn attempt_settled(&self, acks: &mut Vec<oneshot::Sender<()>>) {
        self.settled.send_modify(|n| *n += 1);
        for ack in acks.drain(..) {
            // The one who asked may have stopped waiting.
            let _told = ack.send(());
        }
    }
}

/// Which failures are news: the last one logged at WARN, so the same
/// failure again (a minute later, and every minute after) is only DEBUG,
/// and a different one, or any after a connection, is news again.
#[derive(Debug, Default)]
pub(crate) struct Repeats {
    warned: Option<String>,
}

impl Repeats {
    /// Whether `error` differs from the last one that was news; it is the
    /// last one from now on.
    pub(crate) fn is_news(&mut self, error: &str) -> bool {
        if self.warned.as_deref() == Some(error) {
            return false;
        }
        self.warned = Some(error.to_owned());
        true
    }

    /// After a connection every failure is news again.
    pub(crate) fn forget(&mut self) {
        self.warned = None;
    }
}

/// Keeps `server` connected until `shutdown`.
pub(crate) async fn supervise(
    server: Arc<Server>,
    connector: Arc<dyn Connector>,
    backoff: Backoff,
    mut requests: mpsc::UnboundedReceiver<Request>,
    shutdown: CancellationToken,
) {
    let name = server.name().to_owned();
    let mut failures: u32 = 0;
    let mut warned = Repeats::default();
    let mut acks: Vec<oneshot::Sender<()>> = Vec::new();
    'reconnect: loop {
        server.shared.set(Phase::Connecting);
        let changed = Arc::new(Notify::new());
        let attempt = tokio::select! {
            () = shutdown.cancelled() => break 'reconnect,
            attempt = connect(&server, connector.as_ref(), changed.clone()) => attempt,
        };
        while let Ok(Request::Reload(ack)) = requests.try_recv() {
            acks.push(ack);
        }
        let error = match attempt {
            Ok(session) => {
                let since = Instant::now();
                server.shared.set(Phase::Connected(session.clone()));
                warned.forget();
                server.attempt_settled(&mut acks);
                tracing::info!(target: "hermod::mcp", server = %name, tools = server.tools().len(), "MCP server connected");
                let ended = serve(
                    &server,
                    session.as_ref(),
                    &changed,
                    &mut requests,
                    &mut acks,
                    &shutdown,
                )
                .await;
                session.close().await;
                match ended {
                    Ended::Shutdown => break 'reconnect,
                    Ended::Reload => {
                        failures = 0;
                        continue 'reconnect;
                    }
                    Ended::Broke(error) => {
                        if since.elapsed() >= backoff.max {
                            failures = 0;
                        }
                        error
                    }
                }
            }
            Err(error) => {
                server.attempt_settled(&mut acks);
                error
            }
        };
        failures += 1;
        let delay = backoff.delay(failures);
        if warned.is_news(&error) {
            tracing::warn!(target: "hermod::mcp", server = %name, %error, retry_in = %human(delay), "MCP server unavailable");
        } else {
            tracing::debug!(target: "hermod::mcp", server = %name, %error, retry_in = %human(delay), "MCP server still unavailable");
        }
        server.shared.set(Phase::Failed {
            error,
            retry_at: Instant::now() + delay,
        });
        tokio::select! {
            () = shutdown.cancelled() => break 'reconnect,
            () = tokio::time::sleep(delay) => {}
            request = requests.recv() => match request {
                Some(Request::Reload(ack)) => {
                    acks.push(ack);
                    failures = 0;
                }
                None => break 'reconnect,
            },
        }
    }
    server.shared.set(Phase::Stopped);
    server.attempt_settled(&mut acks);
}

/// Connects and lists the tools, within the connect timeout.
async fn connect(
    server: &Server,
    connector: &dyn Connector,
    changed: Arc<Notify>,
) -> Result<Arc<dyn Session>, String> {
    let spec = &server.shared.spec;
    let timeout = spec.connect_timeout;
    let attempt = async {
        let session = connector.connect(spec, changed).await?;
        match session.list_tools().await {
            Ok(listed) => Ok((session, listed)),
            Err(e) => {
                session.close().await;
                Err(e)
            }
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok((session, listed))) => {
            server.set_tools(build_tools(&server.shared, listed));
            Ok(session)
        }
        Ok(Err(error)) => Err(error),
        Err(_) => Err(format!(
            "it did not connect and list its tools within {} (connect_timeout)",
            human(timeout)
        )),
    }
}

/// How a session ended.
enum Ended {
    Shutdown,
    Reload,
    Broke(String),
}

/// Serves a connected session until it ends.
async fn serve(
    server: &Server,
    session: &dyn Session,
    changed: &Notify,
    requests: &mut mpsc::UnboundedReceiver<Request>,
    acks: &mut Vec<oneshot::Sender<()>>,
    shutdown: &CancellationToken,
) -> Ended {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ended::Shutdown,
            reason = session.closed() => return Ended::Broke(reason),
            () = changed.notified() => {
                let listing = tokio::time::timeout(
                    server.shared.spec.connect_timeout,
                    session.list_tools(),
                ).await;
                match listing {
                    Ok(Ok(listed)) => {
                        server.set_tools(build_tools(&server.shared, listed));
                        server.shared.changes.send_modify(|n| *n += 1);
                        tracing::info!(target: "hermod::mcp", server = %server.name(), tools = server.tools().len(), "MCP server's tools changed");
                    }
                    Ok(Err(error)) => return Ended::Broke(error),
                    Err(_) => return Ended::Broke("listing its changed tools timed out".into()),
                }
            }
            request = requests.recv() => match request {
                Some(Request::Reload(ack)) => {
                    acks.push(ack);
                    return Ended::Reload;
                }
                None => return Ended::Shutdown,
            },
        }
    }
}

/// The server's tools the filter lets through, named for the model.
/// Two tools whose names become the same are both left out (as Hermes
/// does): which one the model meant could not be told.
fn build_tools(shared: &Arc<Shared>, listed: Vec<RemoteTool>) -> Vec<Arc<McpTool>> {
    let spec = &shared.spec;
    let allowed: Vec<RemoteTool> = listed
        .into_iter()
        .filter(|t| spec.filter.allows(&t.name))
        .collect();
    let mut count: HashMap<String, usize> = HashMap::new();
    for tool in &allowed {
        *count
            .entry(naming::tool_name(&spec.name, &tool.name))
            .or_default() += 1;
    }
    allowed
        .into_iter()
        .filter_map(|tool| {
            let name = naming::tool_name(&spec.name, &tool.name);
            if count[&name] > 1 {
                tracing::warn!(target: "hermod::mcp", server = %spec.name, tool = %tool.name, %name, "two tools of this MCP server get the same name; neither is offered");
                return None;
            }
            let description = tool
                .description
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .map_or_else(
                    || format!("MCP tool {} from {}", tool.name, spec.name),
                    str::to_owned,
                );
            Some(Arc::new(McpTool::new(
                shared.clone(),
                name,
                tool.name.to_string(),
                description,
                input_schema(&tool),
            )))
        })
        .collect()
}

/// The tool's input schema as an object schema model APIs accept.
fn input_schema(tool: &RemoteTool) -> Value {
    let mut schema: Map<String, Value> = (*tool.input_schema).clone();
    if schema.is_empty() {
        return json!({"type": "object", "properties": {}});
    }
    if schema.get("type").is_none_or(Value::is_null) {
        schema.insert("type".into(), json!("object"));
    }
    if schema.get("type") == Some(&json!("object")) && !schema.contains_key("properties") {
        schema.insert("properties".into(), json!({}));
    }
    Value::Object(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let backoff = Backoff::default();
        let secs: Vec<u64> = (1..=9).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(60));
        assert_eq!(backoff.delay(0), Duration::from_secs(1));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_millis(1500)), "2 s");
        assert_eq!(human(Duration::from_secs(60)), "1 min");
        assert_eq!(human(Duration::from_secs(65)), "1 min 5 s");
        assert_eq!(human(Duration::ZERO), "0 s");
    }
}
