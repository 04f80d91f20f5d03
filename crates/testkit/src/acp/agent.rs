//! The fake agent's runtime: JSON-RPC over stdin/stdout, one scripted turn
//! per prompt. Requests from hermod are handled as they arrive, so
//! `session/cancel` and answers to the fake's own requests get through
//! while a turn plays.

use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Notify, mpsc, oneshot};

struct Fake {
    dir: PathBuf,
    script: Value,
    out: mpsc::UnboundedSender<String>,
    /// The fake's own requests waiting for hermod's answer.
    pending: Mutex<HashMap<u64, oneshot::Sender<Value>>>,
    next_id: AtomicU64,
    /// Sessions hermod cancelled (cleared when their next prompt starts).
    cancelled: Mutex<HashSet<String>>,
    cancel_arrived: Notify,
    /// Serializes the turn counter across concurrent prompts.
    turns: Mutex<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the fake on stdin/stdout with the script at `script_path`; returns
/// when stdin closes.
///
/// # Panics
///
/// When the script cannot be read.
pub async fn run(script_path: &Path) {
    let script: Value = serde_json::from_str(
        &std::fs::read_to_string(script_path).expect("the fake ACP agent's script is readable"),
    )
    .expect("the fake ACP agent's script is JSON");
    let dir = script_path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let (out, mut lines) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = lines.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err()
                || stdout.write_all(b"\n").await.is_err()
                || stdout.flush().await.is_err()
            {
                return;
            }
        }
    });
    let fake = Arc::new(Fake {
        dir,
        script,
        out,
        pending: Mutex::default(),
        next_id: AtomicU64::new(1000),
        cancelled: Mutex::default(),
        cancel_arrived: Notify::new(),
        turns: Mutex::new(()),
    });
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = stdin.next_line().await {
        fake.record(&line);
        let Ok(frame) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        fake.clone().on_frame(frame);
    }
    drop(fake);
    let _ = writer.await;
}

impl Fake {
    fn record(&self, line: &str) {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("received.jsonl"))
        {
            let _ = writeln!(file, "{line}");
        }
    }

    fn send(&self, frame: &Value) {
        let _ = self.out.send(frame.to_string());
    }

    fn answer(&self, id: &Value, result: &Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    fn fail(&self, id: &Value, code: i64, message: &str) {
        self.send(
            &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
        );
    }

    fn update(&self, session: &str, update: &Value) {
        self.send(&json!({
            "jsonrpc": "2.0",
            "method": "session/update",
            "params": {"sessionId": session, "update": update},
        }));
    }

    fn text(&self, session: &str, text: &str) {
        self.update(session, &json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": text}}),
        );
    }

    /// Sends a request to hermod and waits for its answer (`result` or
    /// `error` object).
    async fn ask(&self, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        rx.await.unwrap_or(Value::Null)
    }

    fn is_cancelled(&self, session: &str) -> bool {
        lock(&self.cancelled).contains(session)
    }

    fn on_frame(self: Arc<Self>, frame: Value) {
        let method = frame["method"].as_str().map(str::to_owned);
        let id = frame.get("id").cloned();
        match (method.as_deref(), id) {
            (None, Some(id)) => {
                let waiter = id.as_u64().and_then(|id| lock(&self.pending).remove(&id));
                if let Some(waiter) = waiter {
                    let answer = frame
                        .get("result")
                        .or_else(|| frame.get("error"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    let _ = waiter.send(answer);
                }
            }
            (Some("session/cancel"), None) => {
                if let Some(session) = frame["params"]["sessionId"].as_str() {
                    lock(&self.cancelled).insert(session.to_owned());
                    self.cancel_arrived.notify_waiters();
                }
            }
            (Some("initialize"), Some(id)) => self.answer(&id, &json!({
                    "protocolVersion": 1,
                    "agentCapabilities": {
                        "loadSession": self.script["load_session"].as_bool().unwrap_or(true),
                        "promptCapabilities": {"image": self.script["image"].as_bool().unwrap_or(false)},
                    },
                    "agentInfo": {"name": "fake-acp-agent", "version": "1.0"},
                    "authMethods": [],
                }),
            ),
            (Some("session/new"), Some(id)) => {
                let session = format!("fake-session-{}-{}", std::process::id(), self.next_id.fetch_add(1, Ordering::Relaxed));
                if let Ok(mut file) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join("sessions.txt"))
                {
                    let _ = writeln!(file, "{session}");
                }
                self.answer(&id, &json!({"sessionId": session}));
            }
            (Some("session/load"), Some(id)) => {
                let session = frame["params"]["sessionId"].as_str().unwrap_or_default();
                let known = std::fs::read_to_string(self.dir.join("sessions.txt"))
                    .unwrap_or_default()
                    .lines()
                    .any(|line| line == session);
                if known {
                    // The replayed history, which a client must not show as
                    // new output.
                    self.text(session, "REPLAYED HISTORY");
                    self.answer(&id, &json!({}));
                } else if self.script["load_null"].as_bool().unwrap_or(false) {
                    // How some agents say they no longer have a session.
                    self.answer(&id, &Value::Null);
                } else {
                    self.fail(&id, -32002, "session not found");
                }
            }
            (Some("session/prompt"), Some(id)) => {
                tokio::spawn(async move { self.prompt(id, frame["params"].clone()).await });
            }
            (Some(other), Some(id)) => self.fail(&id, -32601, &format!("method not found: {other}")),
            _ => {}
        }
    }

    /// The next turn's steps (the position survives restarts).
    fn next_turn(&self) -> Vec<Value> {
        let _guard = lock(&self.turns);
        let counter = self.dir.join("next_turn");
        let index: usize = std::fs::read_to_string(&counter)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let _ = std::fs::write(&counter, (index + 1).to_string());
        self.script["turns"]
            .get(index)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_else(|| vec![json!({"text": "no more scripted turns"})])
    }

    async fn prompt(self: Arc<Self>, id: Value, params: Value) {
        let session = params["sessionId"].as_str().unwrap_or_default().to_owned();
        lock(&self.cancelled).remove(&session);
        for step in self.next_turn() {
            if let Some(text) = step["text"].as_str() {
                self.text(&session, text);
            } else if let Some(text) = step["thought"].as_str() {
                self.update(&session, &json!({"sessionUpdate": "agent_thought_chunk", "content": {"type": "text", "text": text}}));
            } else if let Some(call) = step.get("tool_call") {
                self.update(&session, &json!({
                    "sessionUpdate": "tool_call", "toolCallId": call["id"], "title": call["title"],
                    "kind": "execute", "status": "pending", "rawInput": call["input"],
                }));
            } else if let Some(done) = step.get("tool_done") {
                let status = if done["failed"].as_bool().unwrap_or(false) {
                    "failed"
                } else {
                    "completed"
                };
                self.update(&session, &json!({
                    "sessionUpdate": "tool_call_update", "toolCallId": done["id"], "status": status,
                    "content": [{"type": "content", "content": {"type": "text", "text": done["output"]}}],
                }));
            } else if let Some(entries) = step["plan"].as_array() {
                let entries: Vec<Value> = entries
                    .iter()
                    .map(|e| json!({"content": e, "priority": "medium", "status": "pending"}))
                    .collect();
                self.update(
                    &session,
                    &json!({"sessionUpdate": "plan", "entries": entries}),
                );
            } else if let Some(asked) = step.get("permission") {
                let answer = self
                    .ask("session/request_permission", json!({
                        "sessionId": session,
                        "toolCall": {
                            "toolCallId": asked["id"], "title": "terminal", "kind": "execute", "status": "pending",
                            "content": [{"type": "content", "content": {"type": "text", "text": format!("$ {}", asked["command"].as_str().unwrap_or_default())}}],
                            "rawInput": {"command": asked["command"]},
                        },
                        "options": [
                            {"optionId": "opt-allow-once", "name": "Allow once", "kind": "allow_once"},
                            {"optionId": "opt-allow-always", "name": "Allow always", "kind": "allow_always"},
                            {"optionId": "opt-reject", "name": "Deny", "kind": "reject_once"},
                        ],
                    }))
                    .await;
                let chosen = match answer["outcome"]["outcome"].as_str() {
                    Some("selected") => answer["outcome"]["optionId"]
                        .as_str()
                        .unwrap_or("?")
                        .to_owned(),
                    Some(other) => other.to_owned(),
                    None => format!("unreadable answer {answer}"),
                };
                self.text(&session, &format!("permission: {chosen}"));
            } else if let Some(line) = step["raw"].as_str() {
                let _ = self.out.send(line.to_owned());
            } else if let Some(path) = step["read_file"].as_str() {
                let answer = self
                    .ask(
                        "fs/read_text_file",
                        json!({"sessionId": session, "path": path}),
                    )
                    .await;
                self.text(&session, &format!("fs: {}", answer["code"]));
            } else if step.get("spawn_sleeper").is_some() {
                // A tool process of the agent's, in its process group.
                if let Ok(child) = std::process::Command::new("sleep").arg("300").spawn() {
                    let _ = std::fs::write(self.dir.join("sleeper.pid"), child.id().to_string());
                }
            } else if let Some(ms) = step["sleep_ms"].as_u64() {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            } else if step.get("wait_for_cancel").is_some() {
                loop {
                    let arrived = self.cancel_arrived.notified();
                    if self.is_cancelled(&session) {
                        break;
                    }
                    arrived.await;
                }
            } else if let Some(crash) = step.get("crash") {
                let _ = writeln!(
                    std::io::stderr(),
                    "{}",
                    crash["stderr"].as_str().unwrap_or_default()
                );
                // Give the writer a moment so frames already queued go out.
                tokio::time::sleep(Duration::from_millis(50)).await;
                std::process::exit(i32::try_from(crash["code"].as_i64().unwrap_or(1)).unwrap_or(1));
            } else if let Some(message) = step["error"].as_str() {
                self.fail(&id, -32603, message);
                return;
            } else if let Some(stop) = step.get("stop") {
                let mut result = json!({"stopReason": stop["reason"]});
                if !stop["usage"].is_null() {
                    result["usage"] = stop["usage"].clone();
                }
                self.answer(&id, &result);
                return;
            }
        }
        let reason = if self.is_cancelled(&session) {
            "cancelled"
        } else {
            "end_turn"
        };
        self.answer(&id, &json!({"stopReason": reason}));
    }
}
