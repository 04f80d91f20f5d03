//! The gateway connection (Gateway; Gateway Events): connect to the URL
//! `GET /gateway/bot` gives (`?v=10&encoding=json`), HELLO, IDENTIFY with
//! the intents the adapter needs or RESUME with the session id and last
//! sequence on READY's `resume_gateway_url`, heartbeats on the server's
//! interval (the first one at a random point of it) with zombie
//! detection, and what to do after a close or an op 7 / op 9.
//!
//! The session (id, sequence, resume URL) lives in memory only: a
//! restarted gateway identifies anew, and core's inbox makes a message
//! seen twice be answered once.
//!
//! Close codes ([`after_close`]): 4004 (bad token) and 4010-4014 stop the
//! adapter with what to fix; 4007 and 4009 start a new session; anything
//! else (a dropped socket included) resumes. Transient breaks are retried
//! here with the kit's backoff; only the fatal ones reach core's
//! supervisor.
//!
//! Dispatches the adapter acts on go to the event handler through a
//! bounded queue, so a slow download never delays a heartbeat.

use crate::adapter::DiscordAdapter;
use crate::types::{Hello, Payload, Ready, intents, op};
use hermod_adapter_kit::truncate;
use hermod_adapter_kit::ws::{self, AfterClose, Frame, Heartbeat, Websocket};
use hermod_core::{AdapterContext, AdapterError};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

/// How long opening the websocket may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long HELLO may take after the socket opened.
const HELLO_TIMEOUT: Duration = Duration::from_secs(20);

/// The close code sent when the session should stay resumable (Discord:
/// "any close code besides 1000 or 1001").
const RESUMABLE_CLOSE: u16 = 4000;

/// The close code sent on shutdown: the session ends with it.
const FINAL_CLOSE: u16 = 1000;

/// Longest problem description logged, in characters.
const MAX_PROBLEM: usize = 160;

/// The live session, for RESUME.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub id: String,
    pub seq: Option<u64>,
    pub resume_url: String,
}

/// A dispatch for the event handler.
#[derive(Debug)]
pub(crate) enum Event {
    /// READY: who the bot is (already recorded on the adapter).
    Ready,
    Message(Value),
    Interaction(Value),
    /// GUILD_CREATE, THREAD_CREATE, CHANNEL_CREATE: channel kinds.
    Guild(Value),
    Channel(Value),
}

/// How one connection ended.
#[derive(Debug)]
enum End {
    Shutdown,
    /// Connect again and resume (if there is a session).
    Resume(String),
    /// Connect again with a new session, after `wait` when given.
    Reconnect {
        reason: String,
        wait: Option<Duration>,
    },
    Fatal(AdapterError),
}

/// What a close code means for the adapter (Opcodes and Status Codes,
/// "Gateway Close Event Codes"; `None`: the socket ended without one).
pub(crate) fn after_close(code: Option<u16>) -> AfterClose {
    let Some(code) = code else {
        return AfterClose::Resume;
    };
    match code {
        4004 => AfterClose::Fatal(
            "Discord refused the bot token (close 4004); check DISCORD_BOT_TOKEN \
             (Developer Portal → your application → Bot → Reset Token)"
                .into(),
        ),
        4010 => AfterClose::Fatal(
            "Discord refused the shard sent when identifying (close 4010); this is a bug in hermod"
                .into(),
        ),
        4011 => AfterClose::Fatal(
            "Discord requires sharding for this bot (close 4011): it is in too many servers for \
             one connection, which hermod does not support yet"
                .into(),
        ),
        4012 => AfterClose::Fatal(
            "Discord refused gateway version 10 (close 4012); update hermod".into(),
        ),
        4013 => AfterClose::Fatal(
            "Discord refused the gateway intents (close 4013); this is a bug in hermod".into(),
        ),
        4014 => AfterClose::Fatal(
            "Discord refused the Message Content intent (close 4014): enable it in the Developer \
             Portal → your application → Bot → Privileged Gateway Intents → Message Content \
             Intent, then restart"
                .into(),
        ),
        // Invalid sequence, session timed out: a new session.
        4007 | 4009 => AfterClose::Reconnect,
        _ => AfterClose::Resume,
    }
}

/// The websocket URL with the version and encoding the adapter speaks.
pub(crate) fn connect_url(base: &str) -> Result<String, String> {
    let mut url = hermod_http::reqwest::Url::parse(base)
        .map_err(|_| "the gateway URL Discord gave is not a URL".to_owned())?;
    if url.path().is_empty() {
        url.set_path("/");
    }
    url.set_query(Some("v=10&encoding=json"));
    Ok(url.to_string())
}

/// A random wait of 1 to 5 seconds, before identifying again after a
/// session Discord invalidated (Gateway, "Resuming").
fn invalid_session_wait() -> Duration {
    let mut byte = [0u8; 2];
    let _ = getrandom::fill(&mut byte);
    let fraction = f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX);
    Duration::from_secs(1) + Duration::from_secs(4).mul_f64(fraction)
}

impl DiscordAdapter {
    /// Keeps a gateway session until shutdown (`Ok`) or a failure
    /// retrying cannot help (`Err`).
    pub(crate) async fn gateway(
        &self,
        ctx: &AdapterContext,
        events: mpsc::Sender<Event>,
    ) -> Result<(), AdapterError> {
        let mut session: Option<Session> = None;
        let mut gateway_url: Option<String> = None;
        loop {
            let url = match &session {
                Some(s) => s.resume_url.clone(),
                None => match &gateway_url {
                    Some(url) => url.clone(),
                    None => match self.gateway_url(ctx).await? {
                        Some(url) => {
                            gateway_url = Some(url.clone());
                            url
                        }
                        None => return Ok(()),
                    },
                },
            };
            let end = self.connect_once(&url, &mut session, ctx, &events).await;
            let (reason, wait) = match end {
                End::Shutdown => return Ok(()),
                End::Fatal(e) => {
                    error!(error = %e, "the Discord gateway refused us; Discord stops here");
                    return Err(e);
                }
                End::Resume(reason) => (reason, None),
                End::Reconnect { reason, wait } => {
                    session = None;
                    // The URL may have moved since.
                    gateway_url = None;
                    (reason, wait)
                }
            };
            if !self.connection().retry(ctx, &reason, wait).await {
                return Ok(());
            }
        }
    }

    /// `GET /gateway/bot`'s URL, retrying transient failures; `None` on
    /// shutdown. A refused token is `Auth`.
    async fn gateway_url(&self, ctx: &AdapterContext) -> Result<Option<String>, AdapterError> {
        loop {
            let result = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(None),
                result = self.fetch_gateway_url() => result,
            };
            match result {
                Ok(url) => return Ok(Some(url)),
                Err(e) if e.is_retryable() => {
                    let reason = format!("cannot reach Discord: {e}");
                    if !self.connection().retry(ctx, &reason, e.retry_after()).await {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// One connection: HELLO, IDENTIFY or RESUME, then dispatches until
    /// it ends.
    async fn connect_once(
        &self,
        url: &str,
        session: &mut Option<Session>,
        ctx: &AdapterContext,
        events: &mpsc::Sender<Event>,
    ) -> End {
        let full = match connect_url(url) {
            Ok(full) => full,
            Err(reason) => {
                return End::Reconnect { reason, wait: None };
            }
        };
        let mut socket = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return End::Shutdown,
            result = ws::connect(&full, CONNECT_TIMEOUT) => match result {
                Ok(socket) => socket,
                Err(e) => return End::Resume(e.to_string()),
            },
        };
        let interval = match self.hello(&mut socket, ctx).await {
            Ok(interval) => interval,
            Err(end) => return end,
        };
        let mut heartbeat = Heartbeat::with_jitter(interval);
        let opening = match session {
            Some(s) => json!({"op": op::RESUME, "d": {
                "token": self.token().expose(),
                "session_id": s.id,
                "seq": s.seq,
            }}),
            None => json!({"op": op::IDENTIFY, "d": {
                "token": self.token().expose(),
                "intents": intents::WANTED,
                "properties": {"os": std::env::consts::OS, "browser": "hermod", "device": "hermod"},
            }}),
        };
        if let Err(e) = socket.send_text(&opening.to_string()).await {
            return End::Resume(e.to_string());
        }
        debug!(resuming = session.is_some(), "gateway session requested");
        loop {
            tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => {
                    socket.close(FINAL_CLOSE, "shutting down").await;
                    return End::Shutdown;
                }
                () = heartbeat.due() => {
                    if heartbeat.beat().is_err() {
                        socket.close(RESUMABLE_CLOSE, "no heartbeat ACK").await;
                        return End::Resume("Discord did not acknowledge a heartbeat; the connection is a zombie".into());
                    }
                    let seq = session.as_ref().and_then(|s| s.seq);
                    let beat = json!({"op": op::HEARTBEAT, "d": seq});
                    if let Err(e) = socket.send_text(&beat.to_string()).await {
                        return End::Resume(e.to_string());
                    }
                }
                frame = socket.recv() => match frame {
                    Frame::Text(text) => {
                        if let Some(end) = self
                            .on_payload(&text, session, &mut heartbeat, ctx, events)
                            .await
                        {
                            let code = match end {
                                End::Reconnect { .. } | End::Resume(_) => RESUMABLE_CLOSE,
                                _ => FINAL_CLOSE,
                            };
                            socket.close(code, "reconnecting").await;
                            return end;
                        }
                    }
                    Frame::Binary(_) => warn!("skipping a binary gateway frame (only JSON is asked for)"),
                    Frame::Closed { code, reason } => return closed(code, &reason),
                },
            }
        }
    }

    /// Waits for HELLO; returns the heartbeat interval.
    async fn hello(&self, socket: &mut Websocket, ctx: &AdapterContext) -> Result<Duration, End> {
        let deadline = tokio::time::sleep(HELLO_TIMEOUT);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Err(End::Shutdown),
                () = &mut deadline => return Err(End::Resume("no HELLO from the Discord gateway".into())),
                frame = socket.recv() => match frame {
                    Frame::Text(text) => match serde_json::from_str::<Payload>(&text) {
                        Ok(payload) if payload.op == op::HELLO => {
                            match serde_json::from_value::<Hello>(payload.d) {
                                Ok(hello) if hello.heartbeat_interval > 0 => {
                                    return Ok(Duration::from_millis(hello.heartbeat_interval));
                                }
                                _ => warn!("skipping a HELLO without a heartbeat interval"),
                            }
                        }
                        Ok(payload) => debug!(op = payload.op, "a payload before HELLO; skipped"),
                        Err(e) => warn!(problem = %truncate(&e.to_string(), MAX_PROBLEM), "skipping a malformed gateway frame"),
                    },
                    Frame::Binary(_) => warn!("skipping a binary gateway frame"),
                    Frame::Closed { code, reason } => return Err(closed(code, &reason)),
                },
            }
        }
    }

    /// Handles one payload; `Some` when the connection must end.
    async fn on_payload(
        &self,
        text: &str,
        session: &mut Option<Session>,
        heartbeat: &mut Heartbeat,
        ctx: &AdapterContext,
        events: &mpsc::Sender<Event>,
    ) -> Option<End> {
        let payload: Payload = match serde_json::from_str(text) {
            Ok(payload) => payload,
            Err(e) => {
                warn!(problem = %truncate(&e.to_string(), MAX_PROBLEM), "skipping a malformed gateway frame");
                return None;
            }
        };
        match payload.op {
            op::DISPATCH => {
                if let (Some(seq), Some(s)) = (payload.s, session.as_mut()) {
                    s.seq = Some(s.seq.map_or(seq, |old| old.max(seq)));
                }
                let kind = payload.t.unwrap_or_default();
                self.on_dispatch(&kind, payload.d, payload.s, session, ctx, events)
                    .await
            }
            op::HEARTBEAT => {
                heartbeat.beat_now();
                None
            }
            op::HEARTBEAT_ACK => {
                heartbeat.acked();
                None
            }
            op::RECONNECT => {
                info!("Discord asked to reconnect; resuming");
                Some(End::Resume("Discord asked to reconnect".into()))
            }
            op::INVALID_SESSION => {
                if payload.d.as_bool() == Some(true) && session.is_some() {
                    info!("Discord invalidated the session as resumable; resuming");
                    Some(End::Resume("Discord invalidated the session".into()))
                } else {
                    info!("Discord invalidated the session; identifying anew");
                    *session = None;
                    Some(End::Reconnect {
                        reason: "Discord invalidated the session".into(),
                        wait: Some(invalid_session_wait()),
                    })
                }
            }
            op::HELLO => None,
            other => {
                debug!(op = other, "unknown gateway opcode; skipped");
                None
            }
        }
    }

    async fn on_dispatch(
        &self,
        kind: &str,
        data: Value,
        seq: Option<u64>,
        session: &mut Option<Session>,
        ctx: &AdapterContext,
        events: &mpsc::Sender<Event>,
    ) -> Option<End> {
        let event = match kind {
            "READY" => {
                let ready: Ready = match serde_json::from_value(data) {
                    Ok(ready) => ready,
                    Err(e) => {
                        warn!(problem = %truncate(&e.to_string(), MAX_PROBLEM), "a READY without a session; identifying again");
                        return Some(End::Reconnect {
                            reason: "Discord's READY could not be read".into(),
                            wait: None,
                        });
                    }
                };
                *session = Some(Session {
                    id: ready.session_id.clone(),
                    seq,
                    resume_url: ready.resume_gateway_url.clone(),
                });
                self.set_me(&ready);
                info!(bot = %ready.user.username, id = %ready.user.id, "connected to Discord");
                self.connection().connected(ctx);
                Event::Ready
            }
            "RESUMED" => {
                info!("resumed the Discord session");
                self.connection().connected(ctx);
                return None;
            }
            "MESSAGE_CREATE" => Event::Message(data),
            "INTERACTION_CREATE" => Event::Interaction(data),
            "GUILD_CREATE" => Event::Guild(data),
            "THREAD_CREATE" | "CHANNEL_CREATE" => Event::Channel(data),
            other => {
                debug!(event = other, "gateway event not handled");
                return None;
            }
        };
        tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => Some(End::Shutdown),
            sent = events.send(event) => sent.err().map(|_| End::Shutdown),
        }
    }
}

/// How a close ends the connection.
fn closed(code: Option<u16>, reason: &str) -> End {
    let described = match code {
        Some(code) => format!("the gateway closed the connection ({code} {reason})"),
        None => format!("the gateway connection broke ({reason})"),
    };
    match after_close(code) {
        AfterClose::Resume => End::Resume(described),
        AfterClose::Reconnect => End::Reconnect {
            reason: described,
            wait: None,
        },
        AfterClose::Fatal(message) if code == Some(4004) => End::Fatal(AdapterError::Auth(message)),
        AfterClose::Fatal(message) => End::Fatal(AdapterError::Startup(message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_follow_discords_table() {
        assert_eq!(after_close(None), AfterClose::Resume);
        assert_eq!(after_close(Some(4000)), AfterClose::Resume);
        assert_eq!(after_close(Some(1001)), AfterClose::Resume);
        assert_eq!(after_close(Some(4008)), AfterClose::Resume);
        assert_eq!(after_close(Some(4007)), AfterClose::Reconnect);
        assert_eq!(after_close(Some(4009)), AfterClose::Reconnect);
        for code in [4004, 4010, 4011, 4012, 4013, 4014] {
            assert!(
                matches!(after_close(Some(code)), AfterClose::Fatal(_)),
                "{code}"
            );
        }
        let AfterClose::Fatal(auth) = after_close(Some(4004)) else {
            unreachable!()
        };
        assert!(auth.contains("DISCORD_BOT_TOKEN"));
        let AfterClose::Fatal(intent) = after_close(Some(4014)) else {
            unreachable!()
        };
        assert!(
            intent.contains("Message Content") && intent.contains("Privileged Gateway Intents")
        );
        assert!(matches!(
            closed(Some(4004), ""),
            End::Fatal(AdapterError::Auth(_))
        ));
        assert!(matches!(
            closed(Some(4014), ""),
            End::Fatal(AdapterError::Startup(_))
        ));
    }

    #[test]
    fn the_connect_url_asks_for_version_10_json() {
        assert_eq!(
            connect_url("wss://gateway.discord.gg").unwrap(),
            "wss://gateway.discord.gg/?v=10&encoding=json"
        );
        assert_eq!(
            connect_url("ws://127.0.0.1:9/resume").unwrap(),
            "ws://127.0.0.1:9/resume?v=10&encoding=json"
        );
        assert!(connect_url("not a url").is_err());
    }

    #[test]
    fn the_wait_after_an_invalid_session_is_one_to_five_seconds() {
        for _ in 0..50 {
            let wait = invalid_session_wait();
            assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(5));
        }
    }

    #[test]
    fn identify_asks_for_message_content() {
        assert_eq!(intents::WANTED, 1 | (1 << 9) | (1 << 12) | (1 << 15));
    }
}
