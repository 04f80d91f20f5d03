//! Receiving: signal-cli's event stream (`GET /api/v1/events`), read as
//! Server-Sent Events, opened again after the kit's backoff when it ends,
//! breaks, or stays silent past `SIGNAL_KEEPALIVE_TIMEOUT`.
//!
//! Exactly once: each message is submitted with `submit_once` under
//! `<sender>:<timestamp>` (Signal's timestamp is unique per sender), so an
//! event seen twice is handled once. Newer signal-cli numbers its events
//! and keeps the last 1000: the id of the last event handled is saved
//! ([`AdapterState`]) only after its message was recorded, and sent as
//! `Last-Event-ID` when the stream is opened again — after a drop or a
//! restart — so signal-cli first replays what came meanwhile. Without
//! ids (signal-cli 0.14 and older), what arrives while no stream is open
//! is only kept if the daemon runs with `--receive-mode on-connection`
//! (see the README).

use crate::adapter::SignalAdapter;
use crate::api::SignalError;
use crate::envelope::{self, Context, FileRef, Read as Envelope};
use crate::sse::{Event, Events, Read};
use hermod_adapter_kit::{AdapterState, ConnectionState, KitError, StateKey, human_size, truncate};
use hermod_core::{AdapterContext, AdapterError, CoreError, Submitted};
use hermod_model::InboundEvent;
use std::time::Duration;
use tracing::{debug, info, warn};

/// The id of the last event handled, per account.
const CURSOR: StateKey<String> = StateKey::new("last_event_id");

/// Longest event data logged when it cannot be read, in characters.
const MAX_LOGGED: usize = 160;

/// Why a stream ended.
enum Ended {
    Stop,
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
}

impl Ended {
    fn retry(reason: impl Into<String>) -> Self {
        Ended::Retry {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

impl SignalAdapter {
    fn cursor_state(&self) -> AdapterState<String> {
        AdapterState::new(
            std::sync::Arc::clone(self.store()),
            &crate::PLATFORM,
            CURSOR.scoped(self.config().account()),
        )
    }

    /// Receives until shutdown (`Ok`) or a setup signal-cli refuses.
    pub(crate) async fn receive(&self, ctx: &AdapterContext) -> Result<(), AdapterError> {
        let state = self.cursor_state();
        let mut cursor = state.load_or_warn().await;
        self.connection().set_state(ConnectionState::Connecting);
        info!(
            url = self.config().http_url(),
            account = %crate::config::redact_phone(self.config().account()),
            ?cursor,
            "listening to signal-cli's events"
        );
        self.learn_account().await;
        loop {
            let ended = match self.stream(ctx, &state, &mut cursor).await {
                Ok(ended) => ended,
                Err(e) => {
                    self.connection().set_state(ConnectionState::Failed);
                    return Err(e);
                }
            };
            match ended {
                Ended::Stop => return Ok(()),
                Ended::Retry {
                    reason,
                    retry_after,
                } => {
                    if !self.connection().retry(ctx, &reason, retry_after).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The account's uuid from `listAccounts` (multi-account daemons
    /// answer it), so mentions by uuid are recognised from the start;
    /// otherwise it is learned from the account's own sync messages.
    async fn learn_account(&self) {
        let Ok(accounts) = self
            .api()
            .call("listAccounts", serde_json::json!({}), None)
            .await
        else {
            return;
        };
        let account = self.config().account();
        let uuid = accounts.as_array().into_iter().flatten().find_map(|a| {
            (a.get("number").and_then(|n| n.as_str()) == Some(account))
                .then(|| a.get("aci").or_else(|| a.get("uuid")))
                .flatten()
                .and_then(|u| u.as_str())
        });
        if let Some(uuid) = uuid {
            self.learn_account_uuid(uuid);
        }
    }

    /// Opens the stream from `cursor` and reads it until it ends.
    async fn stream(
        &self,
        ctx: &AdapterContext,
        state: &AdapterState<String>,
        cursor: &mut Option<String>,
    ) -> Result<Ended, AdapterError> {
        let opened = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Ok(Ended::Stop),
            opened = self.api().open_events(cursor.as_deref()) => opened,
        };
        let response = match opened {
            Ok(response) => response,
            Err(e @ SignalError::Setup(_)) => return Err(e.into()),
            Err(e) => return Ok(Ended::retry(e.to_string())),
        };
        self.connection().connected(ctx);
        let timeout = self.config().keepalive_timeout();
        let mut events = Events::new(response, timeout, cursor.clone());
        loop {
            let read = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(Ended::Stop),
                read = events.next() => read,
            };
            let event = match read {
                Read::Event(event) => event,
                Read::Silent => {
                    return Ok(Ended::retry(format!(
                        "nothing on signal-cli's event stream for {} s",
                        timeout.as_secs()
                    )));
                }
                Read::Broken(reason) => {
                    return Ok(Ended::Retry {
                        reason: format!("the event stream broke: {reason}"),
                        retry_after: events.retry(),
                    });
                }
                Read::Ended => {
                    return Ok(Ended::Retry {
                        reason: "signal-cli ended the event stream".into(),
                        retry_after: events.retry(),
                    });
                }
            };
            if let Some(ended) = self.handle(event, ctx, state, cursor).await {
                return Ok(ended);
            }
        }
    }

    /// Handles one event; `Some` when the stream must end.
    async fn handle(
        &self,
        event: Event,
        ctx: &AdapterContext,
        state: &AdapterState<String>,
        cursor: &mut Option<String>,
    ) -> Option<Ended> {
        if event.kind == "receive" {
            if let Some(ended) = self.handle_receive(&event.data, ctx).await {
                return Some(ended);
            }
        } else {
            debug!(kind = %event.kind, "signal-cli event ignored");
        }
        if let Some(id) = event.id.filter(|id| cursor.as_deref() != Some(id.as_str())) {
            if let Err(e) = state.save(&id).await {
                // Recorded: the stream goes on; a restart before the next
                // save replays it and the inbox drops it.
                warn!(error = %e, "cannot save the last signal-cli event id");
            }
            *cursor = Some(id);
        }
        None
    }

    async fn handle_receive(&self, data: &str, ctx: &AdapterContext) -> Option<Ended> {
        let params: serde_json::Value = match serde_json::from_str(data) {
            Ok(params) => params,
            Err(e) => {
                warn!(
                    error = %e,
                    data = %truncate(data, MAX_LOGGED),
                    "skipping a signal-cli event that cannot be read"
                );
                return None;
            }
        };
        let uuid = self.account_uuid();
        let sent_by_us = |timestamp| self.sent_by_us(timestamp);
        let read = envelope::read(
            &params,
            Context {
                account: self.config().account(),
                account_uuid: uuid.as_deref(),
                config: self.config(),
                sent_by_us: &sent_by_us,
            },
        );
        let message = match read {
            Envelope::Message(message) => message,
            Envelope::Own { uuid } => {
                if let Some(uuid) = uuid {
                    self.learn_account_uuid(&uuid);
                }
                debug!("the account's own message; not answered");
                return None;
            }
            Envelope::Skip(reason) => {
                debug!(reason, "signal-cli event not answered");
                return None;
            }
        };
        let envelope::Message {
            key,
            mut event,
            files,
        } = *message;
        if !files.is_empty() {
            self.attach_files(&mut event, &files, ctx).await;
        }
        let submitted = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Some(Ended::Stop),
            submitted = ctx.inbound.submit_once(event, &key) => submitted,
        };
        match submitted {
            Ok(Submitted::Accepted) => debug!(key, "message submitted"),
            Ok(Submitted::Duplicate) => debug!(key, "message seen before; dropped"),
            Err(CoreError::ShuttingDown) => return Some(Ended::Stop),
            Err(CoreError::Store(e)) => {
                // Not recorded, so the cursor stays: the stream is opened
                // again from it and signal-cli replays the message.
                return Some(Ended::retry(format!("cannot record inbound messages: {e}")));
            }
            Err(e) => warn!(error = %e, "an inbound message was refused; skipping it"),
        }
        None
    }

    /// Adds `files` to `event`, each fetched into the media directory or a
    /// line telling the model why not; nothing is fetched for a sender
    /// core will not answer.
    async fn attach_files(
        &self,
        event: &mut InboundEvent,
        files: &[FileRef],
        ctx: &AdapterContext,
    ) {
        if !(event.vouched || ctx.inbound.admits(&event.source).await) {
            debug!(
                files = files.len(),
                "the sender is not allowed; their files are not fetched"
            );
            return;
        }
        let author = event.source.user_id.clone().unwrap_or_default();
        let group = event
            .source
            .chat_id
            .as_deref()
            .and_then(|c| c.strip_prefix("group:"))
            .map(str::to_owned);
        for file in files {
            match self.fetch(file, &author, group.as_deref()).await {
                Ok(attachment) => event.attachments.push(attachment),
                Err(e) => {
                    let reason = match e {
                        KitError::TooLarge { max_bytes } => {
                            format!(
                                "it is larger than {} (SIGNAL_MAX_ATTACHMENT_MB)",
                                human_size(max_bytes)
                            )
                        }
                        other => {
                            warn!(file = %file.id, error = %other, "fetching a received file failed");
                            "fetching it from signal-cli failed".into()
                        }
                    };
                    let note = format!("[a file was attached but not fetched: {reason}]");
                    let text = event.content.text();
                    event.content = hermod_model::Content::Text(if text.trim().is_empty() {
                        note
                    } else {
                        format!("{text}\n{note}")
                    });
                }
            }
        }
    }
}
