//! One websocket session with Mattermost (`/api/v4/websocket`): the
//! authentication challenge, the event sequence, resumption and pings.
//!
//! The client authenticates by sending
//! `{"seq": 1, "action": "authentication_challenge", "data": {"token": …}}`
//! and is answered `{"status": "OK", "seq_reply": 1}`. The server numbers
//! the events it sends on a connection from 0 (`hello`, which names the
//! `connection_id`). A client that reconnects with `connection_id` and
//! `sequence_number` (the next number it expects) is sent the events it
//! missed, without a `hello`, when the server still has them; otherwise it
//! gets a new connection and a `hello`. A number that is not the one
//! expected means an event was lost: the session ends and is resumed from
//! the last one received, as the web app does.
//!
//! Pings (`{"action": "ping"}`, answered `pong`) go every
//! `MATTERMOST_PING_INTERVAL`; one unanswered when the next is due means
//! the connection is dead.

use crate::types::{Frame, read_frame};
use hermod_adapter_kit::ws::{self, Heartbeat, Websocket};
use hermod_model::Secret;
use serde_json::{Value, json};
use std::time::Duration;

/// Where a lost connection resumes: its id and the next event number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    pub connection_id: String,
    pub next_seq: i64,
}

/// What the session read.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A new connection (`hello`): events before it may be missed.
    Hello,
    /// An event other than `hello`, in order.
    Event { event: String, data: Value },
    /// A frame that is not one; logged and skipped.
    Malformed(String),
    /// The session ended; resume from [`Session::resume`].
    Ended(String),
}

/// Why a session could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The token was refused.
    Auth(String),
    /// Anything else: try again after the backoff.
    Transient(String),
}

/// An authenticated websocket session.
pub(crate) struct Session {
    ws: Websocket,
    /// The connection, once `hello` (or a resumption) named it.
    connection_id: Option<String>,
    /// The number of the next event; `None` before the first.
    expected: Option<i64>,
    /// The number of the next action this client sends.
    next_action: i64,
    heartbeat: Heartbeat,
    /// The number of the ping awaiting its pong.
    ping: Option<i64>,
    /// Frames read while waiting for the authentication's answer.
    pending: Vec<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("connection_id", &self.connection_id)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connects to `url`, authenticates with `token` and waits for the
    /// answer, all within `timeout`. `resume` is the connection the URL
    /// asks to resume.
    pub(crate) async fn open(
        url: &str,
        token: &Secret,
        resume: Option<&Resume>,
        timeout: Duration,
        ping_interval: Duration,
    ) -> Result<Self, OpenError> {
        let ws = ws::connect(url, timeout)
            .await
            .map_err(|e| OpenError::Transient(e.to_string()))?;
        let mut session = Self {
            ws,
            connection_id: resume.map(|r| r.connection_id.clone()),
            expected: resume.map(|r| r.next_seq),
            next_action: 1,
            heartbeat: Heartbeat::with_jitter(ping_interval),
            ping: None,
            pending: Vec::new(),
        };
        let challenge = session.action(
            "authentication_challenge",
            &json!({"token": token.expose()}),
        );
        session
            .ws
            .send_text(&challenge.1)
            .await
            .map_err(|e| OpenError::Transient(e.to_string()))?;
        let answered = tokio::time::timeout(timeout, session.await_reply(challenge.0)).await;
        match answered {
            Err(_) => Err(OpenError::Transient(format!(
                "Mattermost did not answer the authentication within {} s",
                timeout.as_secs().max(1)
            ))),
            Ok(result) => result.map(|()| session),
        }
    }

    /// A numbered action frame: its number and its text.
    fn action(&mut self, action: &str, data: &Value) -> (i64, String) {
        let seq = self.next_action;
        self.next_action += 1;
        let frame = json!({"seq": seq, "action": action, "data": data});
        (seq, frame.to_string())
    }

    /// Reads until the reply to `seq`. Events that come first (a `hello`
    /// before the reply) are left for [`Session::next`]: the socket is
    /// not read past the reply.
    async fn await_reply(&mut self, seq: i64) -> Result<(), OpenError> {
        loop {
            let text = match self.ws.recv().await {
                ws::Frame::Text(text) => text,
                ws::Frame::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                ws::Frame::Closed { code, reason } => {
                    return Err(OpenError::Transient(format!(
                        "Mattermost closed the websocket while authenticating ({code:?} {reason})"
                    )));
                }
            };
            match read_frame(&text) {
                Ok(Frame::Reply {
                    seq_reply,
                    ok,
                    error,
                }) if seq_reply == seq => {
                    return if ok {
                        Ok(())
                    } else {
                        Err(OpenError::Auth(
                            error.unwrap_or_else(|| "authentication failed".into()),
                        ))
                    };
                }
                Ok(Frame::Event { .. }) => {
                    // The server may greet before it answers: handle it
                    // as any event would be.
                    self.pending.push(text);
                }
                _ => {}
            }
        }
    }

    /// Where this session resumes, once it knows its connection.
    pub(crate) fn resume(&self) -> Option<Resume> {
        Some(Resume {
            connection_id: self.connection_id.clone()?,
            next_seq: self.expected?,
        })
    }

    /// The next thing that happened: an event, a malformed frame, or the
    /// end of the session. Pings are sent on the way.
    pub(crate) async fn next(&mut self) -> Incoming {
        loop {
            if let Some(text) = self.pending_frame() {
                if let Some(incoming) = self.handle(&text) {
                    return incoming;
                }
                continue;
            }
            let frame = tokio::select! {
                frame = self.ws.recv() => frame,
                () = self.heartbeat.due() => {
                    if self.heartbeat.beat().is_err() {
                        return Incoming::Ended("Mattermost did not answer a ping".into());
                    }
                    let (seq, ping) = self.action("ping", &json!({}));
                    self.ping = Some(seq);
                    if let Err(e) = self.ws.send_text(&ping).await {
                        return Incoming::Ended(e.to_string());
                    }
                    continue;
                }
            };
            let text = match frame {
                ws::Frame::Text(text) => text,
                ws::Frame::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                ws::Frame::Closed { code, reason } => {
                    return Incoming::Ended(match code {
                        Some(code) => format!("Mattermost closed the websocket ({code} {reason})"),
                        None => format!("the websocket ended: {reason}"),
                    });
                }
            };
            if let Some(incoming) = self.handle(&text) {
                return incoming;
            }
        }
    }

    fn pending_frame(&mut self) -> Option<String> {
        (!self.pending.is_empty()).then(|| self.pending.remove(0))
    }

    /// One frame: what to report, or `None` for a reply handled here.
    fn handle(&mut self, text: &str) -> Option<Incoming> {
        let (event, seq, data) = match read_frame(text) {
            Err(problem) => return Some(Incoming::Malformed(problem)),
            Ok(Frame::Reply { seq_reply, .. }) => {
                if self.ping == Some(seq_reply) {
                    self.ping = None;
                    self.heartbeat.acked();
                }
                return None;
            }
            Ok(Frame::Event { event, seq, data }) => (event, seq, data),
        };
        if event == "hello" {
            let id = data
                .get("connection_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            self.connection_id = Some(id).filter(|id| !id.is_empty());
            self.expected = Some(seq.unwrap_or(0) + 1);
            return Some(Incoming::Hello);
        }
        if let Some(seq) = seq {
            match self.expected {
                Some(expected) if seq != expected => {
                    return Some(Incoming::Ended(format!(
                        "an event was missed (got {seq}, expected {expected})"
                    )));
                }
                _ => self.expected = Some(seq + 1),
            }
        }
        Some(Incoming::Event { event, data })
    }

    /// Closes the websocket (on shutdown), within the kit's grace.
    pub(crate) async fn close(self) {
        self.ws.close(1000, "").await;
    }
}
