//! Answering: the stream consumer for a turn, the final reply through the
//! outbox, and direct replies (commands, acknowledgements, errors).

use crate::adapter::{Adapter, messenger_of};
use crate::delivery::{self, Consumer, Outcome, Remaining, deliver_entry};
use crate::error::CoreError;
use crate::reply::{ReplyMode, TurnEvent};
use crate::session::reset::ResetReason;
use crate::session::voice;
use crate::session::worker::WorkerDeps;
use hermod_agent::TurnOutcome;
use hermod_model::{Attachment, ChatTarget, InboundEvent, MessageRef, Outbound, SessionId};
use hermod_store::{AppendMessages, NewMessage, NewOutbox, OutboxState};
use tracing::{debug, error, warn};

/// A consumer showing the reply in the event's chat.
pub(crate) fn new_consumer<'a>(
    deps: &'a WorkerDeps,
    adapter: &'a dyn Adapter,
    event: &InboundEvent,
    mode: &ReplyMode,
    reset: Option<ResetReason>,
    resumed: bool,
) -> Option<Consumer<'a>> {
    let chat_id = event.source.chat_id.clone()?;
    let caps = adapter.capabilities();
    let mut plan = delivery::plan(
        &deps.streaming,
        &deps.display,
        &event.source.platform,
        &caps,
    );
    if matches!(mode, ReplyMode::Notify { .. }) || resumed {
        // Background results arrive whole; so does a reply resumed after a
        // restart, which replaces the previews the stopped run showed.
        plan.progressive = false;
    }
    let target = ChatTarget {
        chat_id,
        thread_id: event.source.thread_id.clone(),
    };
    let notice = reset.map(|r| r.notice().to_owned());
    Some(Consumer::new(
        adapter,
        plan,
        target,
        event.message_id.clone(),
        notice,
        &deps.metrics,
    ))
}

/// Where a turn's reply is recorded.
pub(crate) struct ReplyTo<'a> {
    pub(crate) session: &'a SessionId,
    /// The outbox idempotency key.
    pub(crate) key: String,
    /// Preview messages a stopped run showed for this reply: the reply
    /// replaces them.
    pub(crate) previous: &'a [String],
    /// Files to send with the reply besides those its `MEDIA:` lines name
    /// (a spoken version of it, say). The gateway made them, so they are
    /// not checked against the allowed directories; they go after the
    /// `MEDIA:` files, each exactly once, like them.
    pub(crate) attachments: Vec<Attachment>,
}

/// Persists the reply with its outbox entry in one transaction, then
/// delivers what the preview does not already show.
pub(crate) async fn finish_reply(
    deps: &WorkerDeps,
    event: &InboundEvent,
    mode: &ReplyMode,
    reply: ReplyTo<'_>,
    consumer: Consumer<'_>,
    outcome: &TurnOutcome,
) -> Result<(), CoreError> {
    let ReplyTo {
        session,
        key,
        previous,
        attachments: extra,
    } = reply;
    // The files the reply names; the consumer already keeps the directives
    // out of the text it shows.
    let media = deps.media_roots.collect(&outcome.text);
    let mut attachments = media.attachments;
    attachments.extend(extra);
    let (text, preview, shown) = match consumer.finish(&outcome.text).await {
        Remaining::Silent if attachments.is_empty() => {
            delete_previews(deps, event, previous).await;
            return persist_reply(deps, session, outcome).await;
        }
        Remaining::Silent => (String::new(), None, String::new()),
        Remaining::Deliver {
            text,
            preview,
            shown,
        } => (text, preview, shown),
    };
    let text = match media.notes.join("\n") {
        notes if notes.is_empty() => text,
        notes if text.is_empty() => notes,
        notes => format!("{text}\n\n{notes}"),
    };
    // A spoken version of a visible reply, when the chat asked (`/voice`).
    let text = if text.trim().is_empty() {
        text
    } else {
        let spoken = voice::speak_reply(deps, event, &outcome.text).await;
        attachments.extend(spoken.attachment);
        match spoken.note {
            Some(note) => format!("{text}\n\n{note}"),
            None => text,
        }
    };
    let text = match mode {
        ReplyMode::Notify { prefix } => format!("{prefix}\n\n{text}"),
        _ => text,
    };
    if text.trim().is_empty() && preview.is_none() && attachments.is_empty() {
        delete_previews(deps, event, previous).await;
        return persist_reply(deps, session, outcome).await;
    }
    let now = deps.clock.now_ms();
    let message_ids = match &preview {
        Some(preview) => vec![preview.clone()],
        // Delivery edits these into the reply's parts (and removes extras).
        None => previous.to_vec(),
    };
    let append = reply_messages(session, outcome, now);
    let new = NewOutbox {
        key,
        platform: event.source.platform.clone(),
        target: ChatTarget {
            chat_id: event.source.chat_id.clone().unwrap_or_default(),
            thread_id: event.source.thread_id.clone(),
        },
        reply_to: event.message_id.clone(),
        text: text.clone(),
        session: Some(session.clone()),
        message_ids,
        attachments,
        created_at_ms: now,
    };
    let (_, entry) = deps
        .persist("store the reply", || {
            deps.store.append_reply(append.clone(), new.clone())
        })
        .await?;
    if entry.state != OutboxState::Pending {
        return Ok(());
    }
    if preview.is_some() && shown == text && entry.attachments.is_empty() {
        // The preview already shows the final text: nothing more to send.
        deps.persist("record a delivery", || {
            deps.store
                .outbox_delivered(entry.id, &entry.message_ids, now)
        })
        .await?;
        delivery::tell_hooks(deps, &entry, Ok(&entry.message_ids));
        return Ok(());
    }
    match deliver_entry(deps, &entry).await? {
        Outcome::Delivered(_) => {}
        Outcome::Deferred(reason) => {
            debug!(key = %entry.key, %reason, "reply deferred; the outbox retries it")
        }
        Outcome::Failed(reason) => warn!(key = %entry.key, %reason, "reply could not be delivered"),
    }
    Ok(())
}

/// For a streaming submitter (the HTTP API), the files the final reply
/// names, checked against the allowed directories like a chat's: sent
/// just before the final event, which still carries the raw text.
pub(crate) fn stream_files(
    deps: &WorkerDeps,
    mode: &ReplyMode,
    outcome: &TurnOutcome,
) -> Option<TurnEvent> {
    if !mode.is_stream() {
        return None;
    }
    let media = deps.media_roots.collect(&outcome.text);
    (!media.attachments.is_empty() || !media.notes.is_empty()).then_some(TurnEvent::Files(media))
}

pub(crate) fn reply_messages(
    session: &SessionId,
    outcome: &TurnOutcome,
    now: i64,
) -> AppendMessages {
    AppendMessages {
        session: session.clone(),
        messages: outcome
            .messages
            .iter()
            .map(|m| NewMessage {
                message: m.clone(),
                at_ms: now,
                platform_message_id: None,
            })
            .collect(),
        usage: outcome.usage,
    }
}

pub(crate) async fn persist_reply(
    deps: &WorkerDeps,
    session: &SessionId,
    outcome: &TurnOutcome,
) -> Result<(), CoreError> {
    let append = reply_messages(session, outcome, deps.clock.now_ms());
    deps.persist("store the reply", || {
        deps.store.append_messages(append.clone())
    })
    .await?;
    Ok(())
}

/// Deletes the previews a stopped run left in the event's chat, when the
/// turn resumed for them ends without a reply to put in their place (best
/// effort; they would otherwise keep a cursor).
pub(crate) async fn delete_previews(deps: &WorkerDeps, event: &InboundEvent, ids: &[String]) {
    // A platform without a messenger never showed previews.
    let (Some(messenger), Some(chat_id)) = (
        deps.adapters
            .get(&event.source.platform)
            .and_then(|adapter| adapter.messenger()),
        &event.source.chat_id,
    ) else {
        return;
    };
    for id in ids {
        let message = MessageRef {
            target: ChatTarget {
                chat_id: chat_id.clone(),
                thread_id: event.source.thread_id.clone(),
            },
            message_id: id.clone(),
        };
        if let Err(e) = messenger.delete(message).await {
            debug!(error = %e, "could not delete a stale preview");
        }
    }
}

/// Sends text to the event's chat through its adapter (with a prefix in
/// `Notify` mode). Streaming submitters get it as a [`TurnEvent::Reply`].
pub(crate) async fn reply(deps: &WorkerDeps, mode: &ReplyMode, event: &InboundEvent, text: String) {
    match mode {
        ReplyMode::Stream { events, .. } => {
            let _ = events.send(TurnEvent::Reply { text }).await;
        }
        _ => deliver(deps, mode, event, text).await,
    }
}

pub(crate) async fn deliver(
    deps: &WorkerDeps,
    mode: &ReplyMode,
    event: &InboundEvent,
    text: String,
) {
    if text.trim().is_empty() {
        return;
    }
    let text = match mode {
        ReplyMode::Notify { prefix } => format!("{prefix}\n\n{text}"),
        _ => text,
    };
    let platform = &event.source.platform;
    let Some(adapter) = deps.adapters.get(platform) else {
        warn!(%platform, "no adapter to deliver the reply through");
        return;
    };
    let Some(chat_id) = event.source.chat_id.clone() else {
        warn!(%platform, "the event has no chat to reply to");
        return;
    };
    let outbound = Outbound {
        target: ChatTarget {
            chat_id,
            thread_id: event.source.thread_id.clone(),
        },
        text,
        reply_to: event.message_id.clone(),
        attachments: Vec::new(),
        idempotency_key: None,
    };
    let sent = match messenger_of(adapter.as_ref()) {
        Ok(messenger) => messenger.send(outbound).await.map(drop),
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        warn!(%platform, error = %e, "delivering the reply failed");
    }
}

pub(crate) async fn fail(
    deps: &WorkerDeps,
    mode: &ReplyMode,
    event: &InboundEvent,
    error: CoreError,
) {
    match mode {
        ReplyMode::Stream { events, .. } => {
            let _ = events.send(TurnEvent::Failed(error)).await;
        }
        _ => {
            // The chat was told already ("Interrupting…", "Stopped.").
            if matches!(error, CoreError::Cancelled | CoreError::Interrupted) {
                return;
            }
            if matches!(error, CoreError::Store(_)) {
                error!(platform = %event.source.platform, error = %error, "turn failed");
            } else {
                warn!(platform = %event.source.platform, error = %error, "turn failed");
            }
            deliver(deps, mode, event, format!("⚠️ {}", error.user_message())).await;
        }
    }
}
