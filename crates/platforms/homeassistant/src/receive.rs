//! Receiving: one websocket to `/api/websocket`, authenticated with the
//! token, subscribed to `state_changed` and to the custom message event
//! (`HASS_MESSAGE_EVENT`, when set), kept alive with `ping`s.
//!
//! Every admitted change and message is submitted with `submit_once` under its
//! `context.id`, so a change recorded but not yet answered when hermod
//! stopped is answered on the next start, and never twice. Home
//! Assistant keeps no backlog for a websocket client: changes made while
//! hermod is down or reconnecting are not delivered (as in Hermes).
//!
//! A `ping` goes out every `HASS_HEARTBEAT_INTERVAL`; one still
//! unanswered when the next is due means a dead connection, which is
//! opened again after the kit's backoff, like a closed or broken one.
//! `auth_invalid` stops the adapter with an authentication error instead
//! of reconnecting: a refused token stays refused. Frames that cannot be
//! read are logged and skipped.

use crate::adapter::HomeAssistantAdapter;
use crate::api::{AUTH_HINT, HassError};
use crate::events::{self, Filter, Read};
use crate::protocol::{self, Incoming};
use hermod_adapter_kit::ws::{self, Frame, Heartbeat, Websocket};
use hermod_adapter_kit::{ConnectionState, truncate};
use hermod_core::{AdapterContext, AdapterError, CoreError, Submitted};
use std::collections::HashMap;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// The event type Hermes subscribed to.
const EVENT_TYPE: &str = "state_changed";

/// The id of the `state_changed` subscription, the first command of
/// every connection.
const SUBSCRIPTION: u64 = 1;

/// The id of the message event's subscription, the second.
const MESSAGES: u64 = 2;

/// Longest frame logged when it cannot be read, in characters.
const MAX_LOGGED: usize = 160;

/// Why a connection ended.
enum Ended {
    /// Shutdown: stop receiving.
    Stop,
    /// Connect again after the backoff.
    Retry(String),
}

/// What a receive loop keeps across connections.
struct Receiving {
    filter: Filter,
    /// When each entity was last forwarded, for the cooldown.
    forwarded: HashMap<String, Instant>,
}

impl HomeAssistantAdapter {
    /// Receives until shutdown (`Ok`) or a refused token (`Auth`).
    pub(crate) async fn receive(&self, ctx: &AdapterContext) -> Result<(), AdapterError> {
        let config = self.config();
        self.connection().set_state(ConnectionState::Connecting);
        if config.forwards_no_changes() {
            warn!(
                "no watch_domains, watch_entities or watch_all configured for Home Assistant: \
                 every state change is dropped (set HASS_WATCH_DOMAINS, HASS_WATCH_ENTITIES or HASS_WATCH_ALL)"
            );
        }
        let mut receiving = Receiving {
            filter: Filter::new(
                &config.watch_domains,
                &config.watch_entities,
                &config.ignore_entities,
                config.watch_all,
            ),
            forwarded: HashMap::new(),
        };
        info!(url = config.base_url(), "connecting to Home Assistant");
        loop {
            match self.connect_once(ctx, &mut receiving).await {
                Ok(Ended::Stop) => return Ok(()),
                Ok(Ended::Retry(reason)) => {
                    if !self.connection().retry(ctx, &reason, None).await {
                        return Ok(());
                    }
                }
                Err(e) => {
                    self.connection().set_state(ConnectionState::Failed);
                    return Err(e);
                }
            }
        }
    }

    /// Connects, authenticates, subscribes and reads until the
    /// connection ends.
    async fn connect_once(
        &self,
        ctx: &AdapterContext,
        receiving: &mut Receiving,
    ) -> Result<Ended, AdapterError> {
        let timeout = self.config().request_timeout();
        let url = self.config().websocket_url();
        let connected = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Ok(Ended::Stop),
            connected = ws::connect(&url, timeout) => connected,
        };
        let mut socket = match connected {
            Ok(socket) => socket,
            Err(e) => return Ok(Ended::Retry(e.to_string())),
        };
        let opened = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => None,
            opened = tokio::time::timeout(timeout, self.open(&mut socket)) => Some(opened),
        };
        let ended = match opened {
            None => Ended::Stop,
            Some(Err(_)) => Ended::Retry(format!(
                "Home Assistant did not finish authenticating within {} s",
                timeout.as_secs()
            )),
            Some(Ok(Err(e @ HassError::Refused(_)))) => {
                socket.close(1000, "").await;
                return Err(AdapterError::Auth(format!("{e}; {AUTH_HINT}")));
            }
            Some(Ok(Err(e))) => Ended::Retry(e.to_string()),
            Some(Ok(Ok(()))) => {
                self.connection().connected(ctx);
                info!("subscribed to Home Assistant's state changes");
                self.read(ctx, &mut socket, receiving).await
            }
        };
        socket.close(1000, "").await;
        Ok(ended)
    }

    /// The authentication phase and the subscriptions, done when
    /// `state_changed` is subscribed.
    async fn open(&self, socket: &mut Websocket) -> Result<(), HassError> {
        let token = self
            .config()
            .token
            .as_ref()
            .map(|t| t.expose())
            .unwrap_or_default();
        let message_event = self.config().message_event();
        let mut authenticated = false;
        loop {
            let text = match socket.recv().await {
                Frame::Text(text) => text,
                Frame::Binary(_) => continue,
                Frame::Closed { code, reason } => {
                    return Err(HassError::Transient(format!(
                        "Home Assistant closed the connection while it opened ({}{reason})",
                        code.map(|c| format!("{c} ")).unwrap_or_default()
                    )));
                }
            };
            match protocol::parse(&text) {
                Incoming::AuthRequired => socket
                    .send_text(&protocol::auth(token))
                    .await
                    .map_err(|e| HassError::Transient(e.to_string()))?,
                Incoming::AuthOk { ha_version } => {
                    debug!(?ha_version, "authenticated to Home Assistant");
                    authenticated = true;
                    socket
                        .send_text(&protocol::subscribe_events(SUBSCRIPTION, EVENT_TYPE))
                        .await
                        .map_err(|e| HassError::Transient(e.to_string()))?;
                    if let Some(event) = message_event {
                        socket
                            .send_text(&protocol::subscribe_events(MESSAGES, event))
                            .await
                            .map_err(|e| HassError::Transient(e.to_string()))?;
                    }
                }
                Incoming::AuthInvalid { message } => return Err(HassError::Refused(message)),
                Incoming::Result {
                    id: SUBSCRIPTION,
                    success,
                    error,
                } if authenticated => {
                    if success {
                        // The message subscription's answer is read with
                        // the events: a change may come before it.
                        return Ok(());
                    }
                    let (code, message) = error.unwrap_or_default();
                    let said =
                        format!("Home Assistant refused the subscription ({code}: {message})");
                    return Err(if code == "unauthorized" {
                        HassError::Refused(said)
                    } else {
                        HassError::Transient(said)
                    });
                }
                other => debug!(?other, "Home Assistant message ignored while opening"),
            }
        }
    }

    /// The command phase: events, pongs, and the heartbeat.
    async fn read(
        &self,
        ctx: &AdapterContext,
        socket: &mut Websocket,
        receiving: &mut Receiving,
    ) -> Ended {
        let interval = self.config().heartbeat();
        let mut heartbeat = Heartbeat::new(interval, interval);
        let mut next_id = MESSAGES;
        loop {
            let frame = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ended::Stop,
                () = heartbeat.due() => {
                    if heartbeat.beat().is_err() {
                        return Ended::Retry(format!(
                            "no pong from Home Assistant within {} s",
                            interval.as_secs()
                        ));
                    }
                    next_id += 1;
                    if let Err(e) = socket.send_text(&protocol::ping(next_id)).await {
                        return Ended::Retry(e.to_string());
                    }
                    continue;
                }
                frame = socket.recv() => frame,
            };
            let text = match frame {
                Frame::Text(text) => text,
                Frame::Binary(_) => {
                    debug!("binary frame from Home Assistant ignored");
                    continue;
                }
                Frame::Closed { code, reason } => {
                    return Ended::Retry(format!(
                        "Home Assistant closed the connection ({}{reason})",
                        code.map(|c| format!("{c} ")).unwrap_or_default()
                    ));
                }
            };
            match protocol::parse(&text) {
                Incoming::Event { id, event } if id == SUBSCRIPTION || id == MESSAGES => {
                    if let Some(ended) = self.handle(ctx, &event, receiving).await {
                        return ended;
                    }
                }
                Incoming::Pong { .. } => heartbeat.acked(),
                Incoming::Result {
                    id: MESSAGES,
                    success: false,
                    error,
                } => {
                    // A token of a user who is not an administrator may
                    // subscribe to `state_changed` only: not fatal.
                    let (code, message) = error.unwrap_or_default();
                    warn!(
                        event = self.config().message_event(),
                        code,
                        message,
                        "Home Assistant refused the message event's subscription; only state changes are received"
                    );
                }
                Incoming::Malformed(problem) => warn!(
                    problem = %problem,
                    frame = %truncate(&text, MAX_LOGGED),
                    "skipping a Home Assistant message that cannot be read"
                ),
                other => debug!(?other, "Home Assistant message ignored"),
            }
        }
    }

    /// Forwards one event of the subscription; `Some` when the
    /// connection must end.
    async fn handle(
        &self,
        ctx: &AdapterContext,
        event: &serde_json::Value,
        receiving: &mut Receiving,
    ) -> Option<Ended> {
        let change = match events::read(event, self.config().message_event()) {
            Read::Change(change) => change,
            Read::Skip(reason) => {
                debug!(reason, "Home Assistant event not forwarded");
                return None;
            }
        };
        if let Some(entity) = &change.entity_id {
            if !receiving.filter.admits(entity) {
                debug!(entity, "entity not watched");
                return None;
            }
            let now = Instant::now();
            if let Some(last) = receiving.forwarded.get(entity)
                && now.duration_since(*last) < self.config().cooldown()
            {
                debug!(entity, "within the cooldown; dropped");
                return None;
            }
            receiving.forwarded.insert(entity.clone(), now);
        }
        let submitted = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Some(Ended::Stop),
            submitted = ctx.inbound.submit_once(events::inbound(&change), &change.key) => submitted,
        };
        match submitted {
            Ok(Submitted::Accepted) => debug!(key = change.key, "state change submitted"),
            Ok(Submitted::Duplicate) => {
                debug!(key = change.key, "state change seen before; dropped")
            }
            Err(CoreError::ShuttingDown) => return Some(Ended::Stop),
            Err(e) => warn!(
                entity = change.entity_id.as_deref().unwrap_or("-"),
                error = %e,
                "a state change could not be recorded and is lost (Home Assistant does not send it again)"
            ),
        }
        None
    }
}
