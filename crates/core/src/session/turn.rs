//! One agent turn, run as its own task so the session worker stays free to
//! take commands and busy input while it runs.
//!
//! The task resolves the session (applying the reset policy), persists the
//! user message, runs the agent while forwarding its events, persists the
//! reply and delivers it.

use crate::adapter::Adapter;
use crate::delivery::{self, Consumer, Outcome, Remaining, deliver_entry};
use crate::error::CoreError;
use crate::reply::{ReplyMode, TurnEvent};
use crate::router::Shared;
use crate::session::reset::{self, ResetReason};
use crate::session::worker::{Job, WorkerDeps, inbox_done};
use hermod_agent::{AgentError, AgentEvent, TurnControl, TurnOutcome, TurnRequest};
use hermod_model::{
    AttachmentKind, ChatMessage, ChatTarget, Content, ContentPart, InboundEvent, Outbound, Role,
    SessionId, SessionKey, Source,
};
use hermod_store::{
    AppendMessages, InboxState, NewMessage, NewOutbox, NewSession, OutboxState, SessionRecord,
    Store, StoreError,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// How often the typing indicator is renewed (platforms hide it after ~5 s).
const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(4);

/// What the worker can see of a running turn.
#[derive(Debug, Default)]
pub(crate) struct TurnSlot {
    inner: Mutex<SlotInner>,
    /// The agent has finished; the reply is being stored and delivered.
    finishing: AtomicBool,
}

#[derive(Debug, Default)]
struct SlotInner {
    control: Option<TurnControl>,
}

impl TurnSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_finishing(&self) -> bool {
        self.finishing.load(Ordering::SeqCst)
    }

    /// The agent turn's control, once the agent has started.
    pub(crate) fn control(&self) -> Option<TurnControl> {
        self.lock().control.clone()
    }
}

/// A turn the worker is waiting for.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) task: tokio::task::JoinHandle<TurnEnd>,
    /// Cancelled to interrupt the turn (busy input, /stop, /new).
    pub(crate) interrupt: CancellationToken,
    pub(crate) slot: Arc<TurnSlot>,
    pub(crate) started: Instant,
}

/// What the worker learns when a turn ends.
#[derive(Debug, Default)]
pub(crate) struct TurnEnd {
    /// Steer text the agent could not take; it runs as the next turn.
    pub(crate) unused_steer: Vec<String>,
    /// Where the turn's message came from (to answer the steer text).
    pub(crate) source: Option<Source>,
}

pub(crate) fn start(shared: &Arc<Shared>, key: SessionKey, job: Job) -> Running {
    let interrupt = CancellationToken::new();
    let slot = Arc::new(TurnSlot::default());
    let task = {
        let owned = Arc::clone(shared);
        let interrupt = interrupt.clone();
        let slot = Arc::clone(&slot);
        shared
            .tracker()
            .spawn(async move { run(owned.deps(), &key, job, &interrupt, &slot).await })
    };
    Running {
        task,
        interrupt,
        slot,
        started: Instant::now(),
    }
}

async fn run(
    deps: &WorkerDeps,
    key: &SessionKey,
    job: Job,
    interrupt: &CancellationToken,
    slot: &TurnSlot,
) -> TurnEnd {
    let Job {
        event,
        reply: mode,
        inbox,
    } = job;
    if let ReplyMode::Stream { cancel, .. } = &mode
        && cancel.is_cancelled()
    {
        debug!(session_key = %key, "submitter went away before the turn started");
        return TurnEnd::default();
    }
    if deps.turns.is_cancelled() {
        // Left unfinished in the inbox: the next start takes it up again.
        fail(deps, &mode, &event, CoreError::ShuttingDown).await;
        return TurnEnd::default();
    }
    let result = turn(deps, key, &event, &mode, &inbox, interrupt, slot).await;
    let stopped_by_shutdown =
        deps.turns.is_cancelled() && matches!(result, Err(CoreError::Cancelled));
    if !stopped_by_shutdown {
        inbox_done(deps, &event, &inbox).await;
    }
    match result {
        Ok(outcome) => TurnEnd {
            unused_steer: outcome.unused_steer,
            source: Some(event.source),
        },
        Err(e) => {
            fail(deps, &mode, &event, e).await;
            let unused_steer = slot
                .control()
                .map(|c| c.take_unused_steer())
                .unwrap_or_default();
            TurnEnd {
                unused_steer,
                source: Some(event.source),
            }
        }
    }
}

async fn emit(mode: &ReplyMode, event: TurnEvent) {
    if let ReplyMode::Stream { events, .. } = mode {
        // A closed receiver means the submitter went away; its drop guard
        // has cancelled the turn already.
        let _ = events.send(event).await;
    }
}

/// The session a turn runs in.
struct Resolved {
    id: SessionId,
    /// Created for this message.
    fresh: bool,
    model_override: Option<String>,
    /// The previous session was reset; tell the user.
    reset: Option<ResetReason>,
}

async fn turn(
    deps: &WorkerDeps,
    key: &SessionKey,
    event: &InboundEvent,
    mode: &ReplyMode,
    inbox: &[String],
    interrupt: &CancellationToken,
    slot: &TurnSlot,
) -> Result<TurnOutcome, CoreError> {
    let session = resolve(deps, key, event).await?;
    emit(
        mode,
        TurnEvent::Started {
            session_id: session.id.clone(),
        },
    )
    .await;

    let mut stored_history = match (&event.history, session.fresh) {
        (Some(_), _) | (None, true) => Vec::new(),
        (None, false) => deps.store.messages(&session.id).await?,
    };
    // A message whose turn a stopped process left unfinished comes back
    // after a restart: its user message is already the last one stored.
    let resumed = match (&event.message_id, stored_history.last()) {
        (Some(id), Some(last)) => {
            last.message.role == Role::User
                && last.platform_message_id.as_deref() == Some(id.as_str())
        }
        _ => false,
    };
    let user_row = if resumed {
        stored_history.pop().map(|m| m.id)
    } else {
        None
    };
    let history = match &event.history {
        Some(history) => history.clone(),
        None => stored_history.into_iter().map(|m| m.message).collect(),
    };
    let input = ChatMessage::user(user_content(event));

    let stored = match user_row {
        Some(row) => vec![row],
        None => {
            // The user message is on disk before the model sees it, so a
            // crash mid-turn never loses what the user wrote.
            let now = deps.clock.now_ms();
            let mut to_store: Vec<NewMessage> = Vec::new();
            if session.fresh
                && let Some(supplied) = &event.history
            {
                to_store.extend(supplied.iter().map(|m| NewMessage {
                    message: m.clone(),
                    at_ms: now,
                    platform_message_id: None,
                }));
            }
            to_store.push(NewMessage {
                message: input.clone(),
                at_ms: now,
                platform_message_id: event.message_id.clone(),
            });
            deps.store
                .append_messages(AppendMessages {
                    session: session.id.clone(),
                    messages: to_store,
                    usage: Default::default(),
                })
                .await?
        }
    };
    for key in inbox {
        let at = deps.clock.now_ms();
        deps.store
            .inbox_set_state(&event.source.platform, key, InboxState::Started, at)
            .await?;
    }
    // The reply's idempotency key: one reply per user message.
    let reply_key = format!(
        "reply:{}:{}",
        session.id,
        stored.last().copied().unwrap_or_default()
    );

    if resumed && let Some(entry) = deps.store.outbox_entry(&reply_key).await? {
        // The reply was produced before the stop; the outbox delivers it.
        debug!(key = %reply_key, "reply already produced for a resumed message");
        return Ok(TurnOutcome {
            text: entry.text,
            messages: Vec::new(),
            usage: Default::default(),
            finish_reason: hermod_agent::FinishReason::Stop,
            unused_steer: Vec::new(),
        });
    }

    let mut options = event.options.clone();
    if options.model.is_none() {
        options.model = session.model_override.clone();
    }
    let mut turn = deps.agent.run_turn(TurnRequest {
        session_id: session.id.clone(),
        history,
        input,
        system_prompt: event.system_prompt.clone(),
        options,
    });
    slot.lock().control = Some(turn.control.clone());
    let cancel = match mode {
        ReplyMode::Stream { cancel, .. } => cancel.clone(),
        _ => CancellationToken::new(),
    };
    let adapter = deps.adapters.get(&event.source.platform).cloned();
    let mut consumer = match (mode, &adapter) {
        (ReplyMode::Stream { .. }, _) | (_, None) => None,
        (_, Some(adapter)) => new_consumer(deps, adapter.as_ref(), event, mode, session.reset),
    };
    let mut interrupted = false;
    // "typing…" while the agent works, renewed before the platform hides it.
    let typing_target = match (&adapter, &event.source.chat_id, mode) {
        (Some(adapter), Some(chat_id), ReplyMode::Adapter) if adapter.typing().is_some() => {
            Some(ChatTarget {
                chat_id: chat_id.clone(),
                thread_id: event.source.thread_id.clone(),
            })
        }
        _ => None,
    };
    let mut typing = tokio::time::interval(TYPING_EVERY);
    loop {
        let flush_at = consumer.as_ref().and_then(Consumer::next_flush);
        let next = tokio::select! {
            next = turn.events.recv() => next,
            _ = typing.tick(), if typing_target.is_some() => {
                if let (Some(adapter), Some(target)) = (&adapter, &typing_target)
                    && let Some(typing) = adapter.typing()
                    && let Err(e) = typing.typing(target).await
                {
                    debug!(error = %e, "typing indicator failed");
                }
                continue;
            }
            () = sleep_until(flush_at), if flush_at.is_some() => {
                if let Some(consumer) = consumer.as_mut() {
                    consumer.flush(true).await;
                }
                continue;
            }
            () = interrupt.cancelled(), if !interrupted => { interrupted = true; turn.control.interrupt(); continue; }
            () = cancel.cancelled(), if !interrupted => { interrupted = true; turn.control.interrupt(); continue; }
            () = deps.turns.cancelled(), if !interrupted => { interrupted = true; turn.control.interrupt(); continue; }
        };
        let Some(agent_event) = next else {
            if let Some(consumer) = consumer {
                consumer.abandon().await;
            }
            return Err(CoreError::Agent(AgentError::Protocol(
                "the agent stopped without a final event".into(),
            )));
        };
        match agent_event {
            AgentEvent::Final(outcome) => {
                slot.finishing.store(true, Ordering::SeqCst);
                match consumer {
                    Some(consumer) if !interrupted => {
                        finish_reply(
                            deps,
                            event,
                            mode,
                            &session.id,
                            reply_key,
                            consumer,
                            &outcome,
                        )
                        .await?;
                    }
                    other => {
                        if let Some(consumer) = other {
                            consumer.abandon().await;
                        }
                        persist_reply(deps, &session.id, &outcome).await?;
                    }
                }
                emit(mode, TurnEvent::Agent(AgentEvent::Final(outcome.clone()))).await;
                return Ok(outcome);
            }
            AgentEvent::Failed(error) => {
                if let Some(consumer) = consumer {
                    consumer.abandon().await;
                }
                return Err(match error {
                    AgentError::Cancelled => CoreError::Cancelled,
                    other => CoreError::Agent(other),
                });
            }
            AgentEvent::ApprovalRequested {
                ref tool,
                ref description,
                ..
            } if !mode.is_stream() => {
                let text = format!(
                    "🔐 Approval needed: {tool} wants to {description}\nReply /approve or /deny [reason] \
                     (denied automatically if nobody answers)."
                );
                deliver(deps, &ReplyMode::Adapter, event, text).await;
            }
            other => {
                if let Some(consumer) = consumer.as_mut() {
                    consumer.on_event(&other).await;
                }
                emit(mode, TurnEvent::Agent(other)).await;
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A consumer showing the reply in the event's chat.
fn new_consumer<'a>(
    deps: &WorkerDeps,
    adapter: &'a dyn Adapter,
    event: &InboundEvent,
    mode: &ReplyMode,
    reset: Option<ResetReason>,
) -> Option<Consumer<'a>> {
    let chat_id = event.source.chat_id.clone()?;
    let caps = adapter.capabilities();
    let mut plan = delivery::plan(
        &deps.streaming,
        &deps.display,
        &event.source.platform,
        &caps,
    );
    if matches!(mode, ReplyMode::Notify { .. }) {
        // Background results arrive whole.
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
    ))
}

/// Persists the reply with its outbox entry in one transaction, then
/// delivers what the preview does not already show.
async fn finish_reply(
    deps: &WorkerDeps,
    event: &InboundEvent,
    mode: &ReplyMode,
    session: &SessionId,
    key: String,
    consumer: Consumer<'_>,
    outcome: &TurnOutcome,
) -> Result<(), CoreError> {
    let (text, preview, shown) = match consumer.finish(&outcome.text).await {
        Remaining::Silent => return persist_reply(deps, session, outcome).await,
        Remaining::Deliver {
            text,
            preview,
            shown,
        } => (text, preview, shown),
    };
    let text = match mode {
        ReplyMode::Notify { prefix } => format!("{prefix}\n\n{text}"),
        _ => text,
    };
    if text.trim().is_empty() && preview.is_none() {
        return persist_reply(deps, session, outcome).await;
    }
    let now = deps.clock.now_ms();
    let (_, entry) = deps
        .store
        .append_reply(
            reply_messages(session, outcome, now),
            NewOutbox {
                key,
                platform: event.source.platform.clone(),
                target: ChatTarget {
                    chat_id: event.source.chat_id.clone().unwrap_or_default(),
                    thread_id: event.source.thread_id.clone(),
                },
                reply_to: event.message_id.clone(),
                text: text.clone(),
                session: Some(session.clone()),
                message_ids: preview.iter().cloned().collect(),
                created_at_ms: now,
            },
        )
        .await?;
    if entry.state != OutboxState::Pending {
        return Ok(());
    }
    if preview.is_some() && shown == text {
        // The preview already shows the final text: nothing more to send.
        deps.store
            .outbox_delivered(entry.id, &entry.message_ids, now)
            .await?;
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

fn reply_messages(session: &SessionId, outcome: &TurnOutcome, now: i64) -> AppendMessages {
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

/// The text and images the agent sees: the message, plus a line for each
/// attachment (images also as image parts, for models that can see).
fn user_content(event: &InboundEvent) -> Content {
    if event.attachments.is_empty() {
        return event.content.clone();
    }
    let mut text = event.content.text();
    let mut images = Vec::new();
    for a in &event.attachments {
        let kind = match a.kind {
            AttachmentKind::Photo => "photo",
            AttachmentKind::Document => "file",
            AttachmentKind::Audio => "audio",
            AttachmentKind::Voice => "voice message",
            AttachmentKind::Video => "video",
        };
        let mime = a
            .mime_type
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        text.push_str(&format!("\n[attached {kind}: {}{mime}]", a.location));
        if a.kind == AttachmentKind::Photo
            && (a.location.starts_with("http") || a.location.starts_with("data:"))
        {
            images.push(ContentPart::ImageUrl {
                image_url: hermod_model::ImageUrl {
                    url: a.location.clone(),
                    detail: None,
                },
            });
        }
    }
    if images.is_empty() {
        return Content::Text(text.trim_start().to_owned());
    }
    let mut parts = vec![ContentPart::Text {
        text: text.trim_start().to_owned(),
    }];
    parts.extend(images);
    Content::Parts(parts)
}

/// The current session of a routing key (not ended), if any.
pub(crate) async fn latest_session(
    store: &dyn Store,
    key: &SessionKey,
) -> Result<Option<SessionRecord>, StoreError> {
    let Some(id) = store.route(key).await? else {
        return Ok(None);
    };
    Ok(store
        .session(&id)
        .await?
        .filter(|r| r.ended_at_ms.is_none()))
}

/// Finds the session an event belongs to, creating it when needed, and
/// applies the reset policy to routed sessions.
async fn resolve(
    deps: &WorkerDeps,
    key: &SessionKey,
    event: &InboundEvent,
) -> Result<Resolved, CoreError> {
    let store = deps.store.as_ref();
    if let Some(requested) = &event.session_id {
        if let Some(record) = store.session(requested).await? {
            return Ok(Resolved {
                id: record.id,
                fresh: false,
                model_override: record.model_override,
                reset: None,
            });
        }
        return create(deps, requested.clone(), key, event, false, None).await;
    }
    let now = deps.clock.now_ms();
    let mut reset = None;
    if let Some(record) = latest_session(store, key).await? {
        let policy = deps
            .config
            .reset_policy(&event.source.platform, &event.source.chat_type);
        match reset::due(&policy, record.updated_at_ms, now, &deps.timezone) {
            None => {
                return Ok(Resolved {
                    id: record.id,
                    fresh: false,
                    model_override: record.model_override,
                    reset: None,
                });
            }
            Some(reason) => {
                store.end_session(&record.id, reason.as_str(), now).await?;
                debug!(session = %record.id, reason = reason.as_str(), "session reset");
                reset = Some(reason);
            }
        }
    }
    create(deps, deps.clock.new_session_id(), key, event, true, reset).await
}

async fn create(
    deps: &WorkerDeps,
    id: SessionId,
    key: &SessionKey,
    event: &InboundEvent,
    route: bool,
    reset: Option<ResetReason>,
) -> Result<Resolved, CoreError> {
    let now = deps.clock.now_ms();
    let new = NewSession {
        id: id.clone(),
        key: key.clone(),
        source: event.source.clone(),
        created_at_ms: now,
    };
    let fresh = match deps.store.create_session(new).await {
        Ok(_) => true,
        // Created concurrently under the same id by another worker: continue it.
        Err(StoreError::Conflict(_)) => false,
        Err(e) => return Err(e.into()),
    };
    if route {
        deps.store.set_route(key, &id, now).await?;
    }
    Ok(Resolved {
        id,
        fresh,
        model_override: None,
        reset,
    })
}

async fn persist_reply(
    deps: &WorkerDeps,
    session: &SessionId,
    outcome: &TurnOutcome,
) -> Result<(), CoreError> {
    deps.store
        .append_messages(reply_messages(session, outcome, deps.clock.now_ms()))
        .await?;
    Ok(())
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

async fn deliver(deps: &WorkerDeps, mode: &ReplyMode, event: &InboundEvent, text: String) {
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
    };
    if let Err(e) = adapter.send(outbound).await {
        warn!(%platform, error = %e, "delivering the reply failed");
    }
}

async fn fail(deps: &WorkerDeps, mode: &ReplyMode, event: &InboundEvent, error: CoreError) {
    match mode {
        ReplyMode::Stream { events, .. } => {
            let _ = events.send(TurnEvent::Failed(error)).await;
        }
        _ => {
            if matches!(error, CoreError::Cancelled) {
                return;
            }
            warn!(platform = %event.source.platform, error = %error, "turn failed");
            deliver(deps, mode, event, format!("⚠️ {error}")).await;
        }
    }
}
