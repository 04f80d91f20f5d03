//! The gateway's side of the state: the session (id, intents, sequence
//! numbers and the log of its dispatches for RESUME), the open
//! connections, what clients sent, and delivery of dispatches with the
//! intent rules of the Gateway documentation:
//!
//! - an event tied to intents reaches a session only if it asked for one
//!   of them (MESSAGE_CREATE: `GUILD_MESSAGES` in guilds,
//!   `DIRECT_MESSAGES` in DMs; INTERACTION_CREATE needs none);
//! - without `MESSAGE_CONTENT`, guild messages arrive with empty
//!   `content`, `embeds`, `attachments` and `components` unless the bot
//!   wrote them or is mentioned in them (DMs are never emptied).
//!
//! Dispatches made while no session exists are lost, as they are at
//! Discord; while a session exists without a connection they are logged
//! and replayed on RESUME.

use super::faults::SessionFault;
use crate::peer::socket::{SocketHandle, Sockets};
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Gateway intents (Gateway, "List of Intents").
pub mod intents {
    pub const GUILDS: u64 = 1 << 0;
    pub const GUILD_MEMBERS: u64 = 1 << 1;
    pub const GUILD_PRESENCES: u64 = 1 << 8;
    pub const GUILD_MESSAGES: u64 = 1 << 9;
    pub const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
    pub const GUILD_MESSAGE_TYPING: u64 = 1 << 11;
    pub const DIRECT_MESSAGES: u64 = 1 << 12;
    pub const DIRECT_MESSAGE_REACTIONS: u64 = 1 << 13;
    pub const DIRECT_MESSAGE_TYPING: u64 = 1 << 14;
    pub const MESSAGE_CONTENT: u64 = 1 << 15;
    /// Intents that must be enabled for the app before IDENTIFY may ask
    /// for them (else close 4014).
    pub const PRIVILEGED: u64 = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT;
    /// Every defined bit; others close the connection with 4013.
    pub const VALID: u64 = ((1 << 17) - 1) | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25);
}

pub(crate) use crate::peer::socket::Outgoing;

/// A websocket connection a client opened.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConnection {
    pub id: u64,
    /// The query string it connected with (`v=10&encoding=json`).
    pub query: Option<String>,
    /// Opened on READY's `resume_gateway_url` rather than the URL of
    /// `GET /gateway/bot`.
    pub via_resume_url: bool,
    /// The close code the client sent, if it closed with one.
    pub client_close_code: Option<u16>,
    /// The close code the fake sent, if it closed with one.
    pub server_close_code: Option<u16>,
    pub open: bool,
}

/// One payload a client sent on the gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientFrame {
    pub connection: u64,
    /// `op`, when the frame was JSON with one.
    pub op: Option<u64>,
    /// The whole payload (`Null` when it was not JSON).
    pub payload: Value,
    pub at: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) intents: u64,
    /// The last `s` given out.
    pub(crate) seq: u64,
    /// Every dispatch by its `s`, as sent, for replay.
    pub(crate) log: Vec<(u64, String)>,
    /// The connection it is delivered on.
    pub(crate) conn: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct GatewayState {
    pub(crate) heartbeat_interval: Duration,
    /// Close connections whose heartbeats stop (off for paused-time tests
    /// where the clock may outrun the socket).
    pub(crate) enforce_heartbeats: bool,
    /// Privileged intents enabled for the app (Developer Portal switches).
    pub(crate) privileged_enabled: u64,
    /// Answer heartbeats with op 11 (off: a zombied connection).
    pub(crate) acks: bool,
    pub(crate) session: Option<Session>,
    pub(crate) conns: Sockets,
    pub(crate) connections: Vec<GatewayConnection>,
    pub(crate) frames: Vec<ClientFrame>,
    pub(crate) identify_count: usize,
    pub(crate) resume_count: usize,
    pub(crate) heartbeat_count: usize,
    pub(crate) ready_count: usize,
    /// Dispatches lost because no session existed.
    pub(crate) undelivered: usize,
    pub(crate) session_faults: VecDeque<SessionFault>,
    pub(crate) sessions_started: u64,
}

impl GatewayState {
    pub(crate) fn new(heartbeat_interval: Duration, enforce_heartbeats: bool) -> Self {
        Self {
            heartbeat_interval,
            enforce_heartbeats,
            privileged_enabled: intents::PRIVILEGED,
            acks: true,
            session: None,
            conns: Sockets::default(),
            connections: Vec::new(),
            frames: Vec::new(),
            identify_count: 0,
            resume_count: 0,
            heartbeat_count: 0,
            ready_count: 0,
            undelivered: 0,
            session_faults: VecDeque::new(),
            sessions_started: 0,
        }
    }

    /// Registers a new connection; returns its id.
    pub(crate) fn open(
        &mut self,
        handle: SocketHandle,
        query: Option<String>,
        via_resume_url: bool,
    ) -> u64 {
        let id = self.connections.len() as u64 + 1;
        self.conns.insert(id, handle);
        self.connections.push(GatewayConnection {
            id,
            query,
            via_resume_url,
            client_close_code: None,
            server_close_code: None,
            open: true,
        });
        id
    }

    /// Forgets a connection that ended. A client closing with 1000 or 1001
    /// ends its session ("your session will be invalidated").
    pub(crate) fn closed(&mut self, conn: u64, client_code: Option<u16>, server_code: Option<u16>) {
        self.conns.remove(conn);
        if let Some(record) = self.connections.iter_mut().find(|c| c.id == conn) {
            record.open = false;
            record.client_close_code = client_code;
            record.server_close_code = server_code;
        }
        let attached = self.session.as_ref().is_some_and(|s| s.conn == Some(conn));
        if attached {
            if matches!(client_code, Some(1000 | 1001)) {
                self.session = None;
            } else if let Some(session) = &mut self.session {
                session.conn = None;
            }
        }
    }

    pub(crate) fn send(&self, conn: u64, out: Outgoing) {
        // A connection that just ended drops what it was sent.
        self.conns.send(conn, out);
    }

    /// The connection scripted controls act on: the session's, else the
    /// newest open one.
    pub(crate) fn current_conn(&self) -> Option<u64> {
        self.session
            .as_ref()
            .and_then(|s| s.conn)
            .or_else(|| self.conns.newest())
    }

    /// Starts a session on `conn`; returns its id.
    pub(crate) fn start_session(&mut self, conn: u64, intents: u64) -> String {
        self.sessions_started += 1;
        let id = super::ids::hex_token(0x5E55_1000 + self.sessions_started, 32);
        self.session = Some(Session {
            id: id.clone(),
            intents,
            seq: 0,
            log: Vec::new(),
            conn: Some(conn),
        });
        id
    }

    /// Sends a dispatch to the session if it asked for one of the
    /// intents in `needs` (0: none needed); returns its `s`.
    pub(crate) fn dispatch(&mut self, event: &str, data: Value, needs: u64) -> Option<u64> {
        let Some(session) = &mut self.session else {
            self.undelivered += 1;
            return None;
        };
        if needs != 0 && session.intents & needs == 0 {
            return None;
        }
        session.seq += 1;
        let s = session.seq;
        let mut frame = Map::new();
        frame.insert("op".into(), json!(0));
        frame.insert("t".into(), json!(event));
        frame.insert("s".into(), json!(s));
        frame.insert("d".into(), data);
        let frame = Value::Object(frame).to_string();
        session.log.push((s, frame.clone()));
        if let Some(conn) = session.conn {
            self.send(conn, Outgoing::Text(frame));
        }
        Some(s)
    }

    /// Dispatches a MESSAGE_CREATE or MESSAGE_UPDATE, applying the
    /// message content intent.
    pub(crate) fn dispatch_message(
        &mut self,
        event: &str,
        mut message: Value,
        view: MessageView,
    ) -> Option<u64> {
        let needs = if view.in_guild {
            intents::GUILD_MESSAGES
        } else {
            intents::DIRECT_MESSAGES
        };
        let content_allowed = self
            .session
            .as_ref()
            .is_some_and(|s| s.intents & intents::MESSAGE_CONTENT != 0);
        if view.in_guild && !content_allowed && !view.by_bot && !view.mentions_bot {
            empty_content(&mut message);
        }
        self.dispatch(event, message, needs)
    }
}

/// What decides whether a message's content is visible to the bot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageView {
    pub(crate) in_guild: bool,
    pub(crate) by_bot: bool,
    pub(crate) mentions_bot: bool,
}

/// Empties the fields the message content intent guards.
fn empty_content(message: &mut Value) {
    if let Some(object) = message.as_object_mut() {
        object.insert("content".into(), json!(""));
        object.insert("embeds".into(), json!([]));
        object.insert("attachments".into(), json!([]));
        object.insert("components".into(), json!([]));
        object.remove("poll");
        if let Some(referenced) = object.get_mut("referenced_message")
            && referenced.is_object()
        {
            empty_content(referenced);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::socket::channel;

    #[tokio::test]
    async fn dispatches_follow_intents_and_sequence() {
        let mut gateway = GatewayState::new(Duration::from_secs(41), true);
        gateway.dispatch("MESSAGE_CREATE", json!({}), 0);
        assert_eq!(gateway.undelivered, 1, "no session yet");
        let (tx, mut rx) = channel();
        let conn = gateway.open(tx, None, false);
        gateway.start_session(conn, intents::GUILD_MESSAGES);
        let guild = MessageView {
            in_guild: true,
            by_bot: false,
            mentions_bot: false,
        };
        let message =
            json!({"content": "secret", "embeds": [{}], "attachments": [], "components": []});
        assert_eq!(
            gateway.dispatch_message("MESSAGE_CREATE", message.clone(), guild),
            Some(1)
        );
        let dm = MessageView {
            in_guild: false,
            ..guild
        };
        assert_eq!(
            gateway.dispatch_message("MESSAGE_CREATE", message, dm),
            None,
            "no DIRECT_MESSAGES"
        );
        let Some(Outgoing::Text(frame)) = rx.recv().await else {
            panic!("a dispatch");
        };
        let frame: Value = serde_json::from_str(&frame).expect("JSON");
        assert_eq!(frame["s"], 1);
        assert_eq!(frame["d"]["content"], "", "no MESSAGE_CONTENT");
        assert_eq!(frame["d"]["embeds"], json!([]));
        gateway.closed(conn, Some(4000), None);
        assert!(
            gateway.session.is_some(),
            "resumable after a non-1000 close"
        );
        gateway.dispatch("TYPING_START", json!({}), 0);
        assert_eq!(gateway.session.as_ref().map(|s| s.log.len()), Some(2));
    }

    #[test]
    fn a_clean_close_ends_the_session() {
        let mut gateway = GatewayState::new(Duration::from_secs(41), true);
        let (tx, _rx) = channel();
        let conn = gateway.open(tx, None, false);
        gateway.start_session(conn, 0);
        gateway.closed(conn, Some(1000), None);
        assert!(gateway.session.is_none());
    }
}
