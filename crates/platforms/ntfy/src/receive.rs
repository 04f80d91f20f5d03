//! Receiving: the topic's JSON stream (`GET /<topic>/json`), read line by
//! line, resumed with `since=<last message id>` after a reconnect or a
//! restart.
//!
//! Each `message` is submitted with `submit_once` under its id, and only
//! then is its id saved as the cursor ([`AdapterState`]), so a restart
//! resumes after the last recorded message and a message fetched again
//! is dropped as a duplicate. Our own messages (tagged, or ids we
//! published) and empty ones move the cursor without a submission.
//!
//! Every line — keepalives included (ntfy sends one every 45 s by
//! default) — starts the read timeout (`NTFY_KEEPALIVE_TIMEOUT`) over; a
//! stream silent that long, ended, or broken is opened again after the
//! kit's backoff. A refused token (401/403) stops the adapter.

use crate::adapter::NtfyAdapter;
use crate::api::NtfyError;
use crate::lines::{Lines, Read};
use crate::types::Attachment;
use crate::types::{Line, read_line};
use hermod_adapter_kit::{
    AdapterState, ConnectionState, KitError, MediaFile, StateKey, human_size, truncate,
};
use hermod_core::{AdapterContext, AdapterError, CoreError, Submitted};
use hermod_model::{AttachmentKind, InboundEvent};
use std::time::Duration;
use tracing::{debug, info, warn};

/// The last message id handled, per topic.
const CURSOR: StateKey<String> = StateKey::new("since");

/// Longest line logged when it cannot be read, in characters.
const MAX_LOGGED: usize = 160;

/// Why a stream ended.
enum Ended {
    /// Shutdown: stop receiving.
    Stop,
    /// Open it again after the backoff.
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

/// What kind of attachment a MIME type is.
fn kind_of(mime: &str) -> AttachmentKind {
    match mime.split('/').next().unwrap_or_default() {
        "image" => AttachmentKind::Photo,
        "audio" => AttachmentKind::Audio,
        "video" => AttachmentKind::Video,
        _ => AttachmentKind::Document,
    }
}

impl NtfyAdapter {
    /// The stream's cursor in the store.
    fn cursor_state(&self) -> AdapterState<String> {
        AdapterState::new(
            std::sync::Arc::clone(self.store()),
            &crate::PLATFORM,
            CURSOR.scoped(self.config().topic()),
        )
    }

    /// Receives until shutdown (`Ok`) or a refused token (`Auth`).
    pub(crate) async fn receive(&self, ctx: &AdapterContext) -> Result<(), AdapterError> {
        let state = self.cursor_state();
        let mut cursor = state.load_or_warn().await;
        self.connection().set_state(ConnectionState::Connecting);
        info!(
            topic = self.config().topic(),
            ?cursor,
            "subscribing to the ntfy topic"
        );
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

    /// Opens the stream from `cursor` and reads it until it ends.
    async fn stream(
        &self,
        ctx: &AdapterContext,
        state: &AdapterState<String>,
        cursor: &mut Option<String>,
    ) -> Result<Ended, AdapterError> {
        let topic = self.config().topic();
        let opened = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Ok(Ended::Stop),
            opened = self.api().subscribe(topic, cursor.as_deref()) => opened,
        };
        let response = match opened {
            Ok(response) => response,
            Err(e @ NtfyError::Refused { .. }) => return Err(e.into()),
            Err(NtfyError::RateLimited(wait)) => {
                return Ok(Ended::Retry {
                    reason: "ntfy's limit reached".into(),
                    retry_after: Some(wait),
                });
            }
            Err(e) => return Ok(Ended::retry(e.to_string())),
        };
        let timeout = self.config().keepalive_timeout();
        let mut lines = Lines::new(response, timeout);
        loop {
            let read = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(Ended::Stop),
                read = lines.next() => read,
            };
            let line = match read {
                Read::Line(line) => line,
                Read::Silent => {
                    return Ok(Ended::retry(format!(
                        "nothing on the stream for {} s",
                        timeout.as_secs()
                    )));
                }
                Read::Broken(reason) => {
                    return Ok(Ended::retry(format!("the stream broke: {reason}")));
                }
                Read::Ended => return Ok(Ended::retry("ntfy ended the stream")),
            };
            if let Some(ended) = self.handle(&line, ctx, state, cursor).await {
                return Ok(ended);
            }
        }
    }

    /// Downloads `file` into the media directory for the agent when the
    /// server itself serves it and core will answer the sender; external
    /// URLs stay links in the text, and a failed download leaves a line
    /// saying why.
    async fn attach(&self, event: &mut InboundEvent, file: &Attachment, ctx: &AdapterContext) {
        if !self.api().serves(&file.url) {
            debug!("an attachment on another server is left as a link");
            return;
        }
        if !(event.vouched || ctx.inbound.admits(&event.source).await) {
            debug!("the sender is not allowed; the attachment is not fetched");
            return;
        }
        let mime = file
            .mime
            .as_deref()
            .and_then(|m| m.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        let media = MediaFile {
            kind: kind_of(mime.as_deref().unwrap_or_default()),
            id: event.message_id.clone().unwrap_or_default(),
            file_name: Some(file.name.clone()).filter(|n| !n.is_empty()),
            extension: None,
            mime_type: mime,
            size: file.size,
        };
        let dir = self.config().media();
        match dir
            .download(self.api().file_request(&file.url), &media)
            .await
        {
            Ok(attachment) => event.attachments.push(attachment),
            Err(e) => {
                warn!(error = %e, "cannot download an ntfy attachment; the agent is told");
                let why = match e {
                    KitError::TooLarge { max_bytes } => {
                        format!(
                            "it is larger than {} (NTFY_MEDIA_MAX_MB)",
                            human_size(max_bytes)
                        )
                    }
                    other => other.to_string(),
                };
                let note = format!("[the attachment {} could not be fetched: {why}]", file.name);
                let text = event.content.text();
                event.content = hermod_model::Content::Text(format!("{text}\n\n{note}"));
            }
        }
    }

    /// Handles one line; `Some` when the stream must end.
    async fn handle(
        &self,
        line: &str,
        ctx: &AdapterContext,
        state: &AdapterState<String>,
        cursor: &mut Option<String>,
    ) -> Option<Ended> {
        let (id, event, key, attachment) = match read_line(line, |id| self.is_own(id)) {
            Line::Open => {
                self.connection().connected(ctx);
                return None;
            }
            Line::Keepalive => return None,
            Line::Other(kind) => {
                debug!(kind, "ntfy event ignored");
                return None;
            }
            Line::Malformed(problem) => {
                warn!(
                    problem = %truncate(&problem, MAX_LOGGED),
                    "skipping a line of the ntfy stream that cannot be read"
                );
                return None;
            }
            Line::Skip { id, reason } => {
                debug!(id, reason, "ntfy message not answered");
                (id, None, String::new(), None)
            }
            Line::Message {
                id,
                key,
                event,
                attachment,
            } => (id, Some(*event), key, attachment),
        };
        if let Some(mut event) = event {
            if let Some(file) = attachment {
                self.attach(&mut event, &file, ctx).await;
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
                    // Not acknowledged: the stream is opened again from the
                    // cursor and delivers it once more.
                    return Some(Ended::retry(format!("cannot record inbound messages: {e}")));
                }
                Err(e) => warn!(error = %e, "an inbound message was refused; skipping it"),
            }
        }
        if let Err(e) = state.save(&id).await {
            // Recorded: the stream goes on; a restart before the next save
            // fetches it again and the inbox drops it.
            warn!(error = %e, "cannot save the ntfy cursor");
        }
        *cursor = Some(id);
        None
    }
}
