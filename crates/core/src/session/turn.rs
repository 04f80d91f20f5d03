//! One agent turn, run as its own task so the session worker stays free to
//! take commands and busy input while it runs.
//!
//! The task resolves the session (applying the reset policy), persists the
//! user message, runs the agent while forwarding its events, persists the
//! reply and delivers it.

use crate::delivery::Consumer;
use crate::error::CoreError;
use crate::reply::{ReplyMode, TurnEvent};
use crate::router::Shared;
use crate::session::answer::{deliver, fail, finish_reply, new_consumer, persist_reply};
use crate::session::resolve::resolve;
use crate::session::worker::{Job, WorkerDeps, inbox_done};
use hermod_agent::{AgentError, AgentEvent, TurnControl, TurnOutcome, TurnRequest};
use hermod_model::{
    AttachmentKind, ChatMessage, ChatTarget, Content, ContentPart, InboundEvent, Role, SessionKey,
    Source,
};
use hermod_store::{AppendMessages, InboxState, NewMessage};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::debug;

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
