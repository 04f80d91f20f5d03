//! A fake Home Assistant for the tests: its WebSocket API (`auth_required`
//! → `auth` → `auth_ok`/`auth_invalid`, `subscribe_events`, `ping`/`pong`,
//! `event` messages with the subscription's id, `result` errors for
//! unknown commands) and the REST calls the adapter makes
//! (`GET /api/`, `POST /api/services/<domain>/<service>`, with 401 as
//! `401: Unauthorized` and 400 for an unknown service), on one port as
//! Home Assistant serves them, built from the developer documentation.
//!
//! Persistent notifications are kept as Home Assistant keeps them: by
//! `notification_id`, a create with a known id replacing that one in
//! place, `dismiss` removing it. Faults: a REST answer of any status (or
//! a 429 with `Retry-After`, as a proxy would send it), dropped
//! websockets, unanswered pings, refused tokens, raw frames.
//!
//! HTTP is written by hand (one request per connection, then close):
//! enough for reqwest, and the websocket upgrade of the same port.

#![allow(dead_code, reason = "each test target uses part of the fake")]

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// The adapter's default custom message event.
pub const MESSAGE_EVENT: &str = "hermod_message";

/// The token the fake accepts unless told otherwise.
pub const TOKEN: &str = "eyJfake.hass0token0for0tests.sig";

/// A persistent notification as Home Assistant holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub title: Option<String>,
    pub message: String,
}

/// A service call the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCall {
    pub domain: String,
    pub service: String,
    pub data: Value,
}

/// What the next service call is answered with instead of being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: <secs>`.
    RateLimited(u64),
    /// This status, with Home Assistant's text body.
    Status(u16),
}

enum Push {
    Frame(String),
    Event(Value),
    Drop,
}

#[derive(Default)]
struct State {
    notifications: Vec<Notification>,
    calls: Vec<ServiceCall>,
    faults: VecDeque<Fault>,
    /// Entity states, so a change carries the state it replaces.
    states: HashMap<String, Value>,
    /// Websocket connections opened, and auth messages received.
    connections: usize,
    auths: usize,
    /// `subscribe_events` commands answered, ever.
    subscriptions: usize,
    /// Open subscribed connections: (connection number, sender).
    subscribers: Vec<(usize, mpsc::UnboundedSender<Push>)>,
    /// Event types subscribed to, ever.
    subscribed_types: Vec<String>,
    pings: usize,
    ignore_pings: bool,
    refuse_tokens: bool,
    /// Close every new websocket at once (Home Assistant restarting).
    hang_up: bool,
    /// An event sent right after the answer to a `state_changed`
    /// subscription, before the next command is read.
    after_subscribing: Option<Value>,
    /// Event types only an administrator may subscribe to (a token of
    /// another user).
    admin_only: Vec<String>,
    next_context: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Notify,
    token: String,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed.notify_waiters();
        out
    }
}

/// The fake; stops listening when dropped.
pub struct FakeHass {
    shared: Arc<Shared>,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeHass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHass")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for FakeHass {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeHass {
    /// Listens on 127.0.0.1, a free port, accepting [`TOKEN`].
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            token: TOKEN.to_owned(),
        });
        let serving = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(stream, Arc::clone(&serving)));
            }
        });
        Self { shared, addr, task }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An entity's state changes to `state` (with `attributes`), as
    /// `POST /api/states/<entity>` or a device would change it: every
    /// subscriber gets the `state_changed` event, with the previous state
    /// as `old_state`. Returns the event's `context.id`.
    pub fn set_state(&self, entity_id: &str, state: &str, attributes: &Value) -> String {
        let (event, context) = self.shared.update(|s| {
            s.next_context += 1;
            let context = format!("01FAKECONTEXT{:013}", s.next_context);
            let new_state = json!({
                "entity_id": entity_id,
                "state": state,
                "attributes": attributes,
                "last_changed": "2025-04-30T12:00:00.000000+00:00",
                "last_updated": "2025-04-30T12:00:00.000000+00:00",
                "context": {"id": context, "parent_id": null, "user_id": null}
            });
            let old_state = s
                .states
                .insert(entity_id.to_owned(), new_state.clone())
                .unwrap_or(Value::Null);
            let event = json!({
                "event_type": "state_changed",
                "data": {"entity_id": entity_id, "old_state": old_state, "new_state": new_state},
                "origin": "LOCAL",
                "time_fired": "2025-04-30T12:00:00.000000+00:00",
                "context": {"id": context, "parent_id": null, "user_id": null}
            });
            (event, context)
        });
        self.push_event(&event);
        context
    }

    /// An automation fires `event_type` with `data`, as
    /// `POST /api/events/<event_type>` does. Returns its `context.id`.
    pub fn fire(&self, event_type: &str, data: &Value) -> String {
        let context = self.shared.update(|s| {
            s.next_context += 1;
            format!("01FAKEFIRED{:015}", s.next_context)
        });
        self.push_event(&json!({
            "event_type": event_type,
            "data": data,
            "origin": "REMOTE",
            "time_fired": "2025-04-30T12:00:00.000000+00:00",
            "context": {"id": context, "parent_id": null, "user_id": null}
        }));
        context
    }

    /// Sends `event` (an event object) to every subscriber.
    pub fn push_event(&self, event: &Value) {
        self.broadcast(|| Push::Event(event.clone()));
    }

    /// Sends a raw text frame to every subscriber.
    pub fn push_frame(&self, frame: &str) {
        self.broadcast(|| Push::Frame(frame.to_owned()));
    }

    /// Drops every websocket without a close frame.
    pub fn drop_connections(&self) {
        self.broadcast(|| Push::Drop);
    }

    fn broadcast(&self, push: impl Fn() -> Push) {
        let state = self.shared.lock();
        for (_, tx) in &state.subscribers {
            let _ = tx.send(push());
        }
    }

    /// Answers the next service call with `fault`.
    pub fn fail_next_call(&self, fault: Fault) {
        self.shared.update(|s| s.faults.push_back(fault));
    }

    /// Stops answering pings (a half-dead connection).
    pub fn ignore_pings(&self) {
        self.shared.update(|s| s.ignore_pings = true);
    }

    /// Refuses subscriptions to `event_type` as Home Assistant refuses a
    /// user who is not an administrator a custom event.
    pub fn refuse_subscriptions_to(&self, event_type: &str) {
        self.shared
            .update(|s| s.admin_only.push(event_type.to_owned()));
    }

    /// Sends `event` on the next `state_changed` subscription right after
    /// answering it: a change that happens while the adapter's other
    /// subscriptions are still unanswered.
    pub fn push_after_subscribing(&self, event: &Value) {
        self.shared
            .update(|s| s.after_subscribing = Some(event.clone()));
    }

    /// Closes every new websocket before `auth_required`, or stops.
    pub fn hang_up_on_connect(&self, on: bool) {
        self.shared.update(|s| s.hang_up = on);
    }

    /// Refuses every token from now on (a token revoked).
    pub fn refuse_tokens(&self) {
        self.shared.update(|s| s.refuse_tokens = true);
    }

    pub fn notifications(&self) -> Vec<Notification> {
        self.shared.lock().notifications.clone()
    }

    pub fn calls(&self) -> Vec<ServiceCall> {
        self.shared.lock().calls.clone()
    }

    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    pub fn subscriptions(&self) -> usize {
        self.shared.lock().subscriptions
    }

    pub fn pings(&self) -> usize {
        self.shared.lock().pings
    }

    /// Waits (without a deadline: wrap it in `within`) until `check`
    /// holds for the state.
    async fn until(&self, check: impl Fn(&State) -> bool) {
        loop {
            let changed = self.shared.changed.notified();
            if check(&self.shared.lock()) {
                return;
            }
            changed.await;
        }
    }

    /// Waits until at least `n` notifications exist; returns them.
    pub async fn wait_for_notifications(&self, n: usize) -> Vec<Notification> {
        self.until(|s| s.notifications.len() >= n).await;
        self.notifications()
    }

    /// Waits until `n` connections, ever, subscribed to the message
    /// event — the adapter's last subscription, so they receive all.
    pub async fn wait_for_subscriptions(&self, n: usize) {
        self.wait_for_subscriptions_to(MESSAGE_EVENT, n).await;
    }

    /// Waits until `n` subscriptions to `event_type` were made, ever.
    pub async fn wait_for_subscriptions_to(&self, event_type: &str, n: usize) {
        self.until(|s| {
            s.subscribed_types
                .iter()
                .filter(|t| *t == event_type)
                .count()
                >= n
        })
        .await;
    }

    /// The event types subscribed to, in order, ever.
    pub fn subscribed_types(&self) -> Vec<String> {
        self.shared.lock().subscribed_types.clone()
    }

    /// Waits until `n` websocket connections were opened, ever.
    pub async fn wait_for_connections(&self, n: usize) {
        self.until(|s| s.connections >= n).await;
    }

    /// Waits until `n` pings arrived, ever.
    pub async fn wait_for_pings(&self, n: usize) {
        self.until(|s| s.pings >= n).await;
    }
}

/// One TCP connection: a websocket upgrade or one REST request.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
        return;
    }
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let upgrade = headers
        .get("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    if upgrade && path == "/api/websocket" {
        let key = headers
            .get("sec-websocket-key")
            .cloned()
            .unwrap_or_default();
        let mut stream = reader.into_inner();
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        let socket = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
        websocket(socket, shared).await;
        return;
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).await.is_err() {
        return;
    }
    let authorized = headers.get("authorization").map(String::as_str)
        == Some(&format!("Bearer {}", shared.token))
        && !shared.lock().refuse_tokens;
    let (status, extra, body) = if authorized {
        rest(&shared, &method, &path, &body)
    } else {
        (401, String::new(), "401: Unauthorized".to_owned())
    };
    let kind = if body.starts_with(['{', '[']) {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = reader.into_inner();
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A REST request from an authorized caller: status, extra headers, body.
fn rest(shared: &Shared, method: &str, path: &str, body: &[u8]) -> (u16, String, String) {
    if method == "GET" && path == "/api/" {
        return (
            200,
            String::new(),
            r#"{"message":"API running."}"#.to_owned(),
        );
    }
    let Some(service) = path.strip_prefix("/api/services/") else {
        return (404, String::new(), "404: Not Found".to_owned());
    };
    let Some((domain, service)) = service.split_once('/') else {
        return (404, String::new(), "404: Not Found".to_owned());
    };
    let Ok(data) = serde_json::from_slice::<Value>(body) else {
        return (
            400,
            String::new(),
            r#"{"message":"Data should be valid JSON."}"#.to_owned(),
        );
    };
    shared.update(|s| {
        s.calls.push(ServiceCall {
            domain: domain.to_owned(),
            service: service.to_owned(),
            data: data.clone(),
        });
        match s.faults.pop_front() {
            Some(Fault::RateLimited(secs)) => {
                return (
                    429,
                    format!("Retry-After: {secs}\r\n"),
                    "429: Too Many Requests".to_owned(),
                );
            }
            Some(Fault::Status(status)) => {
                return (status, String::new(), format!("{status}: Fault"));
            }
            None => {}
        }
        let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
        match (domain, service) {
            ("persistent_notification", "create") => {
                let Some(message) = text("message") else {
                    return (400, String::new(), "400: Bad Request".to_owned());
                };
                let id = text("notification_id")
                    .unwrap_or_else(|| format!("generated_{}", s.notifications.len()));
                let notification = Notification {
                    id: id.clone(),
                    title: text("title"),
                    message,
                };
                match s.notifications.iter_mut().find(|n| n.id == id) {
                    Some(existing) => *existing = notification,
                    None => s.notifications.push(notification),
                }
                (200, String::new(), "[]".to_owned())
            }
            ("persistent_notification", "dismiss") => {
                let id = text("notification_id").unwrap_or_default();
                s.notifications.retain(|n| n.id != id);
                (200, String::new(), "[]".to_owned())
            }
            ("notify", _) if service.starts_with("fake_") => (200, String::new(), "[]".to_owned()),
            _ => (400, String::new(), "400: Bad Request".to_owned()),
        }
    })
}

/// One websocket: the authentication phase, then commands and pushes.
async fn websocket(mut socket: WebSocketStream<TcpStream>, shared: Arc<Shared>) {
    let (number, hang_up) = shared.update(|s| {
        s.connections += 1;
        (s.connections, s.hang_up)
    });
    if hang_up {
        return;
    }
    let send = |v: Value| Message::text(v.to_string());
    if socket
        .send(send(
            json!({"type": "auth_required", "ha_version": "2025.4.4"}),
        ))
        .await
        .is_err()
    {
        return;
    }
    let auth = loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => break text.as_str().to_owned(),
            Some(Ok(_)) => {}
            _ => return,
        }
    };
    let auth: Value = serde_json::from_str(&auth).unwrap_or(Value::Null);
    let refused = shared.update(|s| {
        s.auths += 1;
        s.refuse_tokens
    });
    if auth["type"] != "auth" || auth["access_token"] != shared.token.as_str() || refused {
        let _ = socket
            .send(send(
                json!({"type": "auth_invalid", "message": "Invalid access token or password"}),
            ))
            .await;
        let _ = socket.close(None).await;
        return;
    }
    if socket
        .send(send(json!({"type": "auth_ok", "ha_version": "2025.4.4"})))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    // (id, event type; `None`: every event)
    let mut subscriptions: Vec<(u64, Option<String>)> = Vec::new();
    loop {
        tokio::select! {
            incoming = socket.next() => {
                let Some(Ok(message)) = incoming else { break };
                let Message::Text(text) = message else { continue };
                let Ok(command) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                let id = command["id"].as_u64().unwrap_or(0);
                let answer = match command["type"].as_str() {
                    Some("subscribe_events")
                        if command["event_type"]
                            .as_str()
                            .is_some_and(|t| shared.lock().admin_only.iter().any(|a| a == t)) =>
                    {
                        Some(json!({"id": id, "type": "result", "success": false,
                            "error": {"code": "unauthorized", "message": "Unauthorized"}}))
                    }
                    Some("subscribe_events") => {
                        let event_type = command["event_type"].as_str().map(str::to_owned);
                        let first = subscriptions.is_empty();
                        subscriptions.push((id, event_type.clone()));
                        shared.update(|s| {
                            s.subscriptions += 1;
                            s.subscribed_types.push(event_type.unwrap_or_else(|| "*".into()));
                            if first {
                                s.subscribers.push((number, tx.clone()));
                            }
                        });
                        Some(json!({"id": id, "type": "result", "success": true, "result": null}))
                    }
                    Some("ping") => {
                        let ignore = shared.update(|s| {
                            s.pings += 1;
                            s.ignore_pings
                        });
                        (!ignore).then(|| json!({"id": id, "type": "pong"}))
                    }
                    _ => Some(json!({"id": id, "type": "result", "success": false,
                        "error": {"code": "unknown_command", "message": "Unknown command."}})),
                };
                if let Some(answer) = answer
                    && socket.send(send(answer)).await.is_err()
                {
                    break;
                }
                if command["event_type"] == "state_changed"
                    && let Some(event) = shared.update(|s| s.after_subscribing.take())
                {
                    let frame = json!({"id": id, "type": "event", "event": event});
                    if socket.send(send(frame)).await.is_err() {
                        break;
                    }
                }
            }
            push = rx.recv() => {
                let frames = match push {
                    Some(Push::Event(event)) => subscriptions
                        .iter()
                        .filter(|(_, t)| t.is_none() || t.as_deref() == event["event_type"].as_str())
                        .map(|(id, _)| json!({"id": id, "type": "event", "event": event}).to_string())
                        .collect(),
                    Some(Push::Frame(frame)) => vec![frame],
                    Some(Push::Drop) | None => break,
                };
                for frame in frames {
                    if socket.send(Message::text(frame)).await.is_err() {
                        return shared.update(|s| s.subscribers.retain(|(n, _)| *n != number));
                    }
                }
            }
        }
    }
    shared.update(|s| s.subscribers.retain(|(n, _)| *n != number));
}
