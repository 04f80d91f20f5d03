//! Socket Mode: `apps.connections.open` with the app-level token gives a
//! one-use `wss://` URL; the socket opens with `hello` and then carries
//! envelopes (`events_api`, `slash_commands`, `interactive`), each
//! acknowledged at once by sending back `{"envelope_id": …}` — before
//! anything is done with it, as Slack wants an acknowledgement within
//! three seconds — and handed to the worker ([`crate::receive`]).
//!
//! Reconnecting: a `disconnect` message (`refresh_requested`, `warning`:
//! the socket closes shortly) opens a new connection at once; Socket Mode
//! turned off (`link_disabled`), a dropped socket or one silent for
//! [`SILENCE`] reconnects after the kit's backoff. Each connection opens
//! with a fresh URL. Malformed frames are logged and skipped: a frame is
//! never a reason to reconnect.

use crate::adapter::SlackAdapter;
use crate::api::SocketUrl;
use crate::error::{SlackError, TokenKind};
use crate::receive::{Job, Jobs};
use hermod_adapter_kit::ws::{self, Websocket};
use hermod_core::{AdapterContext, AdapterError};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// How often we ping the socket.
const PING_EVERY: Duration = Duration::from_secs(30);

/// A socket that carried nothing (not even a pong) this long is dead.
const SILENCE: Duration = Duration::from_secs(90);

/// Why a connection ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Shutdown,
    /// Slack asked us to reconnect (a `disconnect` message) after a
    /// `hello`: at once.
    Refresh(String),
    /// Lost, refused or disabled: after the backoff.
    Lost(String),
}

/// What one frame is.
#[derive(Debug)]
enum Frame {
    /// Nothing to do (logged).
    Skip,
    Hello,
    Disconnect(String),
    /// To acknowledge, then hand on (`None`: a kind we do not handle).
    Envelope {
        id: String,
        job: Option<Job>,
    },
}

impl SlackAdapter {
    /// Receives over Socket Mode until shutdown.
    pub(crate) async fn serve_socket(
        &self,
        ctx: &AdapterContext,
        jobs: Jobs,
    ) -> Result<(), AdapterError> {
        let none = Vec::new();
        loop {
            let url = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(()),
                url = self.api().call_as::<SocketUrl>("apps.connections.open", &none, TokenKind::App) => url,
            };
            let url = match url {
                Ok(url) => url.url,
                Err(e @ SlackError::Auth { .. }) => return Err(AdapterError::Auth(e.to_string())),
                Err(e) if e.is_retryable() => {
                    let reason = format!("cannot open a Socket Mode connection: {e}");
                    if !self.connection().retry(ctx, &reason, e.retry_after()).await {
                        return Ok(());
                    }
                    continue;
                }
                Err(e) => {
                    return Err(AdapterError::Startup(format!(
                        "Slack refused a Socket Mode connection ({e}); turn Socket Mode on in the \
                         app's settings, or unset SLACK_APP_TOKEN to use the Events API"
                    )));
                }
            };
            let socket = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(()),
                socket = ws::connect(&url, self.config().request_timeout()) => socket,
            };
            let ended = match socket {
                Ok(socket) => self.read_socket(socket, ctx, &jobs).await,
                Err(e) => Ended::Lost(e.to_string()),
            };
            match ended {
                Ended::Shutdown => return Ok(()),
                Ended::Refresh(reason) => {
                    info!(%reason, "Slack asked for a new Socket Mode connection; reconnecting");
                }
                Ended::Lost(reason) => {
                    if !self.connection().retry(ctx, &reason, None).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Reads one connection until it ends.
    async fn read_socket(&self, mut socket: Websocket, ctx: &AdapterContext, jobs: &Jobs) -> Ended {
        let mut hello = false;
        let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        loop {
            let frame = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => {
                    socket.close(1000, "shutting down").await;
                    return Ended::Shutdown;
                }
                frame = socket.recv() => Some(frame),
                _ = ping.tick() => None,
            };
            let Some(frame) = frame else {
                if socket.last_heard().elapsed() >= SILENCE {
                    return Ended::Lost(format!(
                        "Slack's Socket Mode connection was silent for {} s",
                        SILENCE.as_secs()
                    ));
                }
                if let Err(e) = socket.ping().await {
                    return Ended::Lost(format!("the Socket Mode connection failed: {e}"));
                }
                continue;
            };
            let text = match frame {
                ws::Frame::Text(text) => text,
                ws::Frame::Binary(bytes) => {
                    debug!(bytes = bytes.len(), "binary Socket Mode frame ignored");
                    continue;
                }
                ws::Frame::Closed { code, reason } => {
                    return Ended::Lost(match code {
                        Some(code) => {
                            format!("Slack closed the Socket Mode connection ({code}: {reason})")
                        }
                        None => format!("the Socket Mode connection ended: {reason}"),
                    });
                }
            };
            let frame = match parse(text.as_str()) {
                Ok(frame) => frame,
                Err(problem) => {
                    warn!(problem, bytes = text.len(), "skipping a Socket Mode frame");
                    continue;
                }
            };
            match classify(&frame) {
                Frame::Skip => {}
                Frame::Hello => {
                    hello = true;
                    self.connection().connected(ctx);
                    info!("receiving Slack events over Socket Mode");
                }
                Frame::Disconnect(reason) if hello && reason != "link_disabled" => {
                    return Ended::Refresh(reason);
                }
                Frame::Disconnect(reason) => {
                    return Ended::Lost(format!(
                        "Slack closed the Socket Mode connection ({reason})"
                    ));
                }
                Frame::Envelope { id, job } => {
                    // Acknowledged before anything is done with it.
                    let ack = json!({ "envelope_id": id }).to_string();
                    if let Err(e) = socket.send_text(&ack).await {
                        return Ended::Lost(format!(
                            "cannot acknowledge on the Socket Mode connection: {e}"
                        ));
                    }
                    if let Some(job) = job {
                        // The worker is gone only when the adapter is stopping.
                        let _ = jobs.send(job).await;
                    }
                }
            }
        }
    }
}

/// What `frame` asks for.
fn classify(frame: &Value) -> Frame {
    let kind = frame["type"].as_str().unwrap_or_default();
    match kind {
        "hello" => return Frame::Hello,
        "disconnect" => {
            let reason = frame["reason"].as_str().unwrap_or("unknown").to_owned();
            return Frame::Disconnect(reason);
        }
        _ => {}
    }
    let Some(id) = frame["envelope_id"].as_str().filter(|id| !id.is_empty()) else {
        if matches!(kind, "events_api" | "slash_commands" | "interactive") {
            warn!(kind, "skipping a Socket Mode envelope without envelope_id");
        } else {
            debug!(kind, "Socket Mode frame ignored");
        }
        return Frame::Skip;
    };
    let payload = frame.get("payload").filter(|p| p.is_object()).cloned();
    let job = match (kind, payload) {
        ("events_api", Some(payload)) => Some(Job::Event(payload)),
        ("slash_commands", Some(payload)) => Some(Job::Command {
            payload,
            unique: id.to_owned(),
        }),
        ("events_api" | "slash_commands", None) => {
            warn!(
                kind,
                envelope_id = id,
                "skipping a Socket Mode envelope without a payload"
            );
            None
        }
        _ => {
            debug!(
                kind,
                envelope_id = id,
                "Socket Mode envelope acknowledged and ignored"
            );
            None
        }
    };
    Frame::Envelope {
        id: id.to_owned(),
        job,
    }
}

/// A frame's JSON object, or what is wrong with it (never its content,
/// which may be someone's message).
fn parse(text: &str) -> Result<Value, &'static str> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err("a frame that is not a JSON object"),
        Err(_) => Err("a frame that is not JSON"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_objects_or_skipped() {
        assert!(parse(r#"{"type":"hello"}"#).is_ok());
        assert_eq!(parse("not json"), Err("a frame that is not JSON"));
        assert_eq!(parse("[1]"), Err("a frame that is not a JSON object"));
    }

    #[test]
    fn envelopes_are_acknowledged_and_handed_on_by_kind() {
        let frame = |text: &str| classify(&parse(text).unwrap());
        assert!(matches!(
            frame(r#"{"type":"hello","num_connections":1}"#),
            Frame::Hello
        ));
        assert!(matches!(
            frame(r#"{"type":"disconnect","reason":"refresh_requested"}"#),
            Frame::Disconnect(r) if r == "refresh_requested"
        ));
        assert!(matches!(
            frame(r#"{"envelope_id":"e1","type":"events_api","payload":{"type":"event_callback"},"accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}"#),
            Frame::Envelope { id, job: Some(Job::Event(_)) } if id == "e1"
        ));
        assert!(matches!(
            frame(r#"{"envelope_id":"e2","type":"slash_commands","payload":{"command":"/help"},"accepts_response_payload":true}"#),
            Frame::Envelope { job: Some(Job::Command { unique, .. }), .. } if unique == "e2"
        ));
        // Acknowledged, not handled.
        assert!(matches!(
            frame(
                r#"{"envelope_id":"e3","type":"interactive","payload":{"type":"block_actions"}}"#
            ),
            Frame::Envelope { job: None, .. }
        ));
        assert!(matches!(
            frame(r#"{"envelope_id":"e4","type":"events_api"}"#),
            Frame::Envelope { job: None, .. }
        ));
        // Nothing to acknowledge.
        assert!(matches!(
            frame(r#"{"type":"events_api","payload":{}}"#),
            Frame::Skip
        ));
        assert!(matches!(
            frame(r#"{"type":"from_the_future"}"#),
            Frame::Skip
        ));
    }
}
