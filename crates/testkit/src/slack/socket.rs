//! Socket Mode: the tickets `apps.connections.open` hands out, the
//! websocket at `/link/?ticket=…`, the `hello` it opens with, envelopes
//! and their acknowledgements, redelivery, `disconnect` messages, dropped
//! sockets and malformed frames.
//!
//! As the docs describe: a ticket URL is good for one connection; up to
//! ten connections may be open and each envelope goes to any one of them
//! (round robin here); the app acknowledges an envelope by sending back
//! `{"envelope_id": …}`, optionally with a `payload`. An `events_api`
//! envelope not acknowledged within the ack timeout (3 s) is sent again
//! with `retry_attempt` counting up and `retry_reason: "timeout"`. Slash
//! commands and interactive payloads are not sent again — Slack shows the
//! user an error instead — so theirs only count as missed.

use super::events;
use super::state::{Shared, State};
pub(crate) use crate::peer::socket::Outgoing;
use crate::peer::{self, socket::SocketPeer, socket::Sockets};
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Connections beyond this are refused, as Slack allows "up to 10".
const MAX_CONNECTIONS: usize = 10;

/// What an envelope carries (its `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    EventsApi,
    SlashCommands,
    Interactive,
}

impl EnvelopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EventsApi => "events_api",
            Self::SlashCommands => "slash_commands",
            Self::Interactive => "interactive",
        }
    }
}

/// Why the fake sends a `disconnect` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The connection is about to be refreshed; the socket closes after the
    /// grace period.
    RefreshRequested,
    /// The socket closes in about ten seconds (the grace period).
    Warning,
    /// Socket Mode was turned off for the app: the socket closes at once.
    LinkDisabled,
}

impl DisconnectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RefreshRequested => "refresh_requested",
            Self::Warning => "warning",
            Self::LinkDisabled => "link_disabled",
        }
    }
}

/// One envelope frame the fake sent (each delivery and redelivery).
#[derive(Debug, Clone, PartialEq)]
pub struct SentEnvelope {
    pub envelope_id: String,
    pub kind: EnvelopeKind,
    pub retry_attempt: u32,
    /// The connection it went to.
    pub connection: u64,
    /// The frame as sent.
    pub frame: Value,
    /// When it was sent (tokio clock).
    pub at: Instant,
}

/// One acknowledgement the app sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    pub envelope_id: String,
    /// The connection it came on.
    pub connection: u64,
    /// The `payload` it carried, if any.
    pub payload: Option<Value>,
    /// Time since the envelope's latest delivery; `None` for an envelope
    /// the fake never sent.
    pub latency: Option<Duration>,
    /// False when the fake was told to lose it
    /// ([`super::FakeSlack::lose_next_acks`]), or it came for an envelope
    /// already acknowledged or unknown.
    pub honored: bool,
    /// When it arrived (tokio clock).
    pub at: Instant,
}

/// One websocket connection, open or closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketConnection {
    pub id: u64,
    pub opened_at: Instant,
    pub closed_at: Option<Instant>,
    /// Opened with `debug_reconnects=true`.
    pub debug_reconnects: bool,
}

#[derive(Debug)]
struct Envelope {
    kind: EnvelopeKind,
    payload: Value,
    accepts_response_payload: bool,
    attempt: u32,
    sent_at: Option<Instant>,
    acked: bool,
    given_up: bool,
}

#[derive(Debug, Default)]
pub(crate) struct SocketState {
    /// Tickets handed out and not yet used.
    tickets: HashSet<String>,
    connections: Sockets,
    pub(crate) log: Vec<SocketConnection>,
    next_round: usize,
    envelopes: HashMap<String, Envelope>,
    /// Envelopes waiting for a connection, in order.
    waiting: VecDeque<String>,
    pub(crate) sent: Vec<SentEnvelope>,
    pub(crate) acks: Vec<Ack>,
    /// Acks to lose (not honour) from now on.
    pub(crate) lose_acks: usize,
    pub(crate) redeliveries: usize,
    /// Envelopes never acknowledged, after their last attempt.
    pub(crate) missed: Vec<String>,
}

impl SocketState {
    pub(crate) fn open_connections(&self) -> usize {
        self.connections.len()
    }

    pub(crate) fn is_acked(&self, envelope_id: &str) -> bool {
        self.envelopes.get(envelope_id).is_some_and(|e| e.acked)
    }

    /// Hands out a ticket for one connection.
    pub(crate) fn ticket(&mut self, n: u64) -> String {
        let ticket = format!("{n:08x}-hermod-ticket");
        self.tickets.insert(ticket.clone());
        ticket
    }

    /// Writes `out` to one connection, or every one; returns how many.
    pub(crate) fn write(
        &self,
        connection: Option<u64>,
        mut out: impl FnMut() -> Outgoing,
    ) -> usize {
        match connection {
            Some(id) => usize::from(self.connections.send(id, out())),
            None => self.connections.broadcast(out),
        }
    }
}

/// Queues a payload as an envelope and sends it when a connection is
/// open; returns its `envelope_id`.
pub(crate) fn enqueue(
    shared: &Arc<Shared>,
    s: &mut State,
    kind: EnvelopeKind,
    payload: Value,
    accepts_response_payload: bool,
) -> String {
    let id = events::uuid(s);
    s.socket.envelopes.insert(
        id.clone(),
        Envelope {
            kind,
            payload,
            accepts_response_payload,
            attempt: 0,
            sent_at: None,
            acked: false,
            given_up: false,
        },
    );
    send(shared, s, &id);
    id
}

/// Sends envelope `id` (its current attempt) to the next connection, or
/// leaves it waiting for one.
fn send(shared: &Arc<Shared>, s: &mut State, id: &str) {
    let Some(envelope) = s.socket.envelopes.get(id) else {
        return;
    };
    let mut frame = json!({
        "envelope_id": id,
        "payload": envelope.payload,
        "type": envelope.kind.as_str(),
        "accepts_response_payload": envelope.accepts_response_payload,
    });
    if envelope.kind == EnvelopeKind::EventsApi {
        frame["retry_attempt"] = json!(envelope.attempt);
        frame["retry_reason"] = json!(if envelope.attempt == 0 { "" } else { "timeout" });
    }
    let (kind, attempt) = (envelope.kind, envelope.attempt);
    let ids = s.socket.connections.ids();
    let text = frame.to_string();
    let mut target = None;
    for offset in 0..ids.len() {
        let candidate = ids[(s.socket.next_round + offset) % ids.len()];
        if s.socket
            .connections
            .send(candidate, Outgoing::Text(text.clone()))
        {
            target = Some(candidate);
            s.socket.next_round += offset + 1;
            break;
        }
    }
    let Some(connection) = target else {
        s.socket.waiting.push_back(id.to_owned());
        return;
    };
    let now = Instant::now();
    if let Some(envelope) = s.socket.envelopes.get_mut(id) {
        envelope.sent_at = Some(now);
    }
    s.socket.sent.push(SentEnvelope {
        envelope_id: id.to_owned(),
        kind,
        retry_attempt: attempt,
        connection,
        frame,
        at: now,
    });
    let timer = shared.clone();
    let id = id.to_owned();
    shared.tasks.spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(timer.config.ack_timeout) => {
                timer.update(|s| on_ack_deadline(&timer, s, &id, attempt));
            }
            () = timer.shutdown.cancelled() => {}
        }
    });
}

/// An attempt's ack deadline passed: send it again, or give up.
fn on_ack_deadline(shared: &Arc<Shared>, s: &mut State, id: &str, attempt: u32) {
    let max = shared.config.max_redeliveries;
    let Some(envelope) = s.socket.envelopes.get_mut(id) else {
        return;
    };
    if envelope.acked || envelope.given_up || envelope.attempt != attempt {
        return;
    }
    if envelope.kind == EnvelopeKind::EventsApi && envelope.attempt < max {
        envelope.attempt += 1;
        s.socket.redeliveries += 1;
        send(shared, s, id);
    } else {
        envelope.given_up = true;
        s.socket.missed.push(id.to_owned());
    }
}

/// Sends the envelope `id` again now, as at-least-once delivery may.
pub(crate) fn redeliver(shared: &Arc<Shared>, s: &mut State, id: &str) -> bool {
    let Some(envelope) = s.socket.envelopes.get_mut(id) else {
        return false;
    };
    envelope.attempt += 1;
    envelope.acked = false;
    envelope.given_up = false;
    s.socket.redeliveries += 1;
    send(shared, s, id);
    true
}

/// Takes an acknowledgement frame from connection `connection`.
fn on_frame(s: &mut State, connection: u64, text: &str) {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let Some(id) = frame["envelope_id"].as_str() else {
        return;
    };
    let now = Instant::now();
    let lost = s.socket.lose_acks > 0;
    if lost {
        s.socket.lose_acks -= 1;
    }
    let envelope = s.socket.envelopes.get_mut(id);
    let latency = envelope
        .as_ref()
        .and_then(|e| e.sent_at)
        .map(|sent| now.duration_since(sent));
    let honored = match envelope {
        Some(envelope) if !lost && !envelope.acked => {
            envelope.acked = true;
            true
        }
        _ => false,
    };
    s.socket.acks.push(Ack {
        envelope_id: id.to_owned(),
        connection,
        payload: frame.get("payload").cloned(),
        latency,
        honored,
        at: now,
    });
}

/// `GET /link/?ticket=…`: upgrades to the Socket Mode websocket.
pub(crate) async fn connect(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let ticket = query.get("ticket").cloned().unwrap_or_default();
    let admitted = shared.update(|s| {
        s.socket.open_connections() < MAX_CONNECTIONS && s.socket.tickets.remove(&ticket)
    });
    if !admitted {
        return (StatusCode::UNAUTHORIZED, "invalid or used ticket").into_response();
    }
    let debug_reconnects = query.get("debug_reconnects").map(String::as_str) == Some("true");
    upgrade.on_upgrade(move |socket| run(shared, socket, debug_reconnects))
}

async fn run(shared: Arc<Shared>, mut socket: WebSocket, debug_reconnects: bool) {
    let (handle, mut outbox) = peer::socket::channel();
    let id = shared.update(|s| {
        let id = s.next();
        s.socket.connections.insert(id, handle.clone());
        s.socket.log.push(SocketConnection {
            id,
            opened_at: Instant::now(),
            closed_at: None,
            debug_reconnects,
        });
        // `debug_reconnects=true` makes connections short: 360 seconds.
        let lifetime = if debug_reconnects { 360 } else { 18_060 };
        let hello = json!({
            "type": "hello",
            "num_connections": s.socket.open_connections(),
            "debug_info": {
                "host": "applink-hermod-fake",
                "build_number": 1,
                "approximate_connection_time": lifetime,
            },
            "connection_info": {"app_id": shared.config.app_id},
        });
        // Queued under the lock, so the hello goes out before anything
        // else, the envelopes that waited for a connection first.
        handle.send(Outgoing::Text(hello.to_string()));
        let waiting: Vec<String> = s.socket.waiting.drain(..).collect();
        for envelope in waiting {
            send(&shared, s, &envelope);
        }
        id
    });
    let mut acks = Acks {
        shared: &shared,
        connection: id,
    };
    peer::socket::serve(&mut socket, &mut outbox, &shared.shutdown, &mut acks).await;
    shared.update(|s| {
        s.socket.connections.remove(id);
        if let Some(record) = s.socket.log.iter_mut().find(|c| c.id == id) {
            record.closed_at = Some(Instant::now());
        }
    });
}

/// Takes the app's frames on one connection: acknowledgements (binary
/// frames, which Socket Mode never uses, are ignored).
struct Acks<'a> {
    shared: &'a Shared,
    connection: u64,
}

impl SocketPeer for Acks<'_> {
    fn on_text(&mut self, text: &str) {
        self.shared.update(|s| on_frame(s, self.connection, text));
    }
}

/// Sends a `disconnect` message on every open connection and closes each
/// as the reason says; returns how many were told.
pub(crate) fn disconnect(shared: &Arc<Shared>, s: &mut State, reason: DisconnectReason) -> usize {
    let frame = json!({
        "type": "disconnect",
        "reason": reason.as_str(),
        "debug_info": {"host": "applink-hermod-fake"},
    })
    .to_string();
    let ids = s.socket.connections.ids();
    let mut told = 0;
    for id in ids {
        if s.socket.write(Some(id), || Outgoing::Text(frame.clone())) == 0 {
            continue;
        }
        told += 1;
        if reason == DisconnectReason::LinkDisabled {
            s.socket.write(Some(id), || Outgoing::Close(None));
            continue;
        }
        let closer = shared.clone();
        shared.tasks.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(closer.config.disconnect_grace) => {
                    closer.update(|s| s.socket.write(Some(id), || Outgoing::Close(None)));
                }
                () = closer.shutdown.cancelled() => {}
            }
        });
    }
    told
}
