//! A scripted [`Connector`] for testing the supervision on paused time:
//! each connection attempt takes the next step of its server's script.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use crate::config::ServerSpec;
use crate::transport::{Connector, Session};
use async_trait::async_trait;
use rmcp::model::{CallToolResult, JsonObject, Tool as RemoteTool};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// What one connection attempt does.
pub(crate) enum Step {
    /// Connects with these tools.
    Up(Vec<&'static str>),
    /// Fails with this error.
    Fail(&'static str),
    /// Never answers.
    Hang,
}

/// A connector following a script per server (then failing forever).
#[derive(Default)]
pub(crate) struct Scripted {
    scripts: Mutex<HashMap<String, VecDeque<Step>>>,
    /// When each server was tried.
    pub(crate) attempts: Mutex<HashMap<String, Vec<Instant>>>,
    /// Every session made, by server.
    pub(crate) sessions: Mutex<HashMap<String, Vec<Arc<FakeSession>>>>,
}

impl Scripted {
    pub(crate) fn script(&self, server: &str, steps: impl IntoIterator<Item = Step>) {
        self.scripts
            .lock()
            .unwrap()
            .insert(server.to_owned(), steps.into_iter().collect());
    }

    pub(crate) fn attempts(&self, server: &str) -> Vec<Instant> {
        self.attempts
            .lock()
            .unwrap()
            .get(server)
            .cloned()
            .unwrap_or_default()
    }

    /// The latest session of `server`.
    pub(crate) fn session(&self, server: &str) -> Arc<FakeSession> {
        self.sessions.lock().unwrap()[server]
            .last()
            .cloned()
            .unwrap()
    }
}

#[async_trait]
impl Connector for Scripted {
    async fn connect(
        &self,
        spec: &ServerSpec,
        changed: Arc<Notify>,
    ) -> Result<Arc<dyn Session>, String> {
        self.attempts
            .lock()
            .unwrap()
            .entry(spec.name.clone())
            .or_default()
            .push(Instant::now());
        let step = self
            .scripts
            .lock()
            .unwrap()
            .get_mut(&spec.name)
            .and_then(VecDeque::pop_front);
        match step {
            Some(Step::Up(tools)) => {
                let session = Arc::new(FakeSession::new(tools, changed));
                self.sessions
                    .lock()
                    .unwrap()
                    .entry(spec.name.clone())
                    .or_default()
                    .push(session.clone());
                Ok(session)
            }
            Some(Step::Fail(error)) => Err(error.to_owned()),
            Some(Step::Hang) => std::future::pending().await,
            None => Err("the script is over".into()),
        }
    }
}

/// A session whose tools echo their arguments; `sleep` never answers.
pub(crate) struct FakeSession {
    tools: Mutex<Vec<&'static str>>,
    changed: Arc<Notify>,
    ended: watch::Sender<Option<String>>,
    pub(crate) closed: Mutex<bool>,
}

impl FakeSession {
    fn new(tools: Vec<&'static str>, changed: Arc<Notify>) -> Self {
        Self {
            tools: Mutex::new(tools),
            changed,
            ended: watch::channel(None).0,
            closed: Mutex::new(false),
        }
    }

    /// The server goes away (its process exited).
    pub(crate) fn end(&self, reason: &str) {
        self.ended.send_replace(Some(reason.to_owned()));
    }

    /// The server's tools change, and it says so.
    pub(crate) fn change_tools(&self, tools: Vec<&'static str>) {
        *self.tools.lock().unwrap() = tools;
        self.changed.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.lock().unwrap()
    }
}

#[async_trait]
impl Session for FakeSession {
    async fn list_tools(&self) -> Result<Vec<RemoteTool>, String> {
        let tools = self.tools.lock().unwrap().clone();
        Ok(tools
            .into_iter()
            .map(|name| {
                serde_json::from_value(json!({
                    "name": name,
                    "description": format!("The {name} tool."),
                    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
                }))
                .unwrap()
            })
            .collect())
    }

    async fn call_tool(&self, name: &str, arguments: JsonObject) -> Result<CallToolResult, String> {
        if name == "sleep" {
            return std::future::pending().await;
        }
        Ok(serde_json::from_value(json!({
            "content": [{"type": "text", "text": format!("{name} {}", serde_json::Value::Object(arguments))}],
        }))
        .unwrap())
    }

    async fn closed(&self) -> String {
        let mut ended = self.ended.subscribe();
        ended
            .wait_for(Option::is_some)
            .await
            .unwrap()
            .clone()
            .unwrap()
    }

    async fn close(&self) {
        *self.closed.lock().unwrap() = true;
        self.end("closed by hermod");
    }
}
